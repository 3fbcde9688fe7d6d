//go:build unix

package main

import "syscall"

// freeSpace returns the bytes free for an unprivileged user in the file
// system of dir, or 0 if it cannot tell.
func freeSpace(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
