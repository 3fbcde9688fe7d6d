//go:build !linux

package gitserve_test

// cpuTime is not measured outside Linux.
func cpuTime() int64 { return 0 }
