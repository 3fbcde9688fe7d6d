//go:build !unix

package gitserve

// hooksSupported reports whether push protection can run its hook here:
// not without a Unix shell and inherited file descriptors.
const hooksSupported = false

func isExecutable(string) bool { return false }
