// Package proctest lists the processes a test or a benchmark started, on
// Linux, from /proc: what the tests of git serving count to show that a
// client holding a connection holds no git process, and that none is left
// behind. It is internal to the module and its sister modules.
package proctest

import (
	"os"
	"strconv"
	"strings"
)

// Proc is a process: its ID and its command name (at most 15 bytes, as
// the kernel keeps it).
type Proc struct {
	PID  int
	Name string
}

// Descendants returns the processes below pid: its children, theirs, and
// so on. It returns nil where /proc cannot be read.
func Descendants(pid int) []Proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent, name := map[int]int{}, map[int]string{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// "pid (comm) state ppid …"; comm may hold spaces and parentheses.
		s := string(stat)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(s[j+1:])
		if len(f) < 2 {
			continue
		}
		parent[p], _ = strconv.Atoi(f[1])
		name[p] = s[i+1 : j]
	}
	var out []Proc
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, Proc{PID: p, Name: name[p]})
				break
			}
		}
	}
	return out
}

// Git returns the git processes among the descendants of pid.
func Git(pid int) []Proc {
	var out []Proc
	for _, p := range Descendants(pid) {
		if strings.Contains(p.Name, "git") {
			out = append(out, p)
		}
	}
	return out
}
