//go:build unix

package gitserve

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts cmd in a process group of its own and makes its
// context's end kill the whole group: git and the helpers it starts
// (pack-objects, index-pack, hooks), which would otherwise run on.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
