//go:build !unix

package gitserve

import "os/exec"

// setProcessGroup leaves cmd as it is: killing git when the context ends
// (exec's default) is all this platform gets.
func setProcessGroup(cmd *exec.Cmd) {}
