package gitserve_test

import "syscall"

// cpuTime returns the CPU time (user and system) that this process and
// its children that have exited (the git client, the git processes of
// the server, and theirs) have used, in nanoseconds: a measure that,
// unlike wall time, does not grow when other processes compete for the
// machine.
func cpuTime() int64 {
	var self, children syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) != nil || syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children) != nil {
		return 0
	}
	return self.Utime.Nano() + self.Stime.Nano() + children.Utime.Nano() + children.Stime.Nano()
}
