package gitserve

import (
	"os"
	"syscall"
)

// growPipe asks for a pipe buffer of 1 MiB (F_SETPIPE_SZ), so that a
// writer of many small writes and a reader of large reads meet less
// often. Unprivileged processes get at most /proc/sys/fs/pipe-max-size
// (1 MiB by default); a refusal leaves the pipe as it was.
func growPipe(f *os.File) {
	const setPipeSize = 1031 // F_SETPIPE_SZ
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, setPipeSize, 1<<20)
		})
	}
}
