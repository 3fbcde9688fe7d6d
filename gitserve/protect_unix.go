//go:build unix

package gitserve

import (
	"os"
	"syscall"
)

// hooksSupported reports whether push protection can run its hook here.
const hooksSupported = true

// isExecutable reports whether path is a regular file that git would run
// as a hook: git runs a hook if access(2) says it may be executed, which
// a file on a noexec mount may not.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	const xOK = 1
	return syscall.Access(path, xOK) == nil
}
