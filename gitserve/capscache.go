package gitserve

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// capsCache keeps, per repository, the protocol v2 capability
// advertisement of git upload-pack (what GET …/info/refs answers a v2
// client: the capabilities, no refs), so that serving it runs no git
// process. It depends only on git's version and configuration, so an
// entry is used only while the configuration files it was made under are
// unchanged (their size and modification time): the repository's config,
// the user's and the system's ($GIT_CONFIG_GLOBAL or ~/.gitconfig and
// $XDG_CONFIG_HOME/git/config, $GIT_CONFIG_SYSTEM or /etc/gitconfig, as
// the Handler's environment names them). A file pulled in by an
// include.path is not watched: restart the server after changing one.
type capsCache struct {
	mu      sync.Mutex
	entries map[string]capsEntry
	files   []string // the user's and system's configuration files
}

type capsEntry struct {
	adv   []byte
	stamp string
}

// maxCapsEntries bounds the cache; it starts over when full.
const maxCapsEntries = 4096

// newCapsCache returns a cache for the git binary git run with the
// environment env. (The binary's size and time are part of the stamp: a
// new git may advertise more.)
func newCapsCache(env []string, git string) *capsCache {
	get := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
	files := []string{git}
	home, xdg := get("HOME"), get("XDG_CONFIG_HOME")
	if g := get("GIT_CONFIG_GLOBAL"); g != "" {
		files = append(files, g)
	} else {
		if home != "" {
			files = append(files, filepath.Join(home, ".gitconfig"))
		}
		switch {
		case xdg != "":
			files = append(files, filepath.Join(xdg, "git", "config"))
		case home != "":
			files = append(files, filepath.Join(home, ".config", "git", "config"))
		}
	}
	switch {
	case get("GIT_CONFIG_NOSYSTEM") != "":
	case get("GIT_CONFIG_SYSTEM") != "":
		files = append(files, get("GIT_CONFIG_SYSTEM"))
	default:
		files = append(files, "/etc/gitconfig")
	}
	return &capsCache{entries: map[string]capsEntry{}, files: files}
}

// stamp describes the configuration files that the advertisement of the
// repository dir depends on, as they are now.
func (c *capsCache) stamp(dir string) string {
	var b strings.Builder
	for _, f := range append([]string{filepath.Join(dir, "config")}, c.files...) {
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%d.%d;", fi.ModTime().UnixNano(), fi.Size())
		} else {
			b.WriteString("-;")
		}
	}
	return b.String()
}

// get returns the advertisement of dir made under stamp, if there is one.
func (c *capsCache) get(dir, stamp string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[dir]
	if !ok || e.stamp != stamp {
		return nil, false
	}
	return e.adv, true
}

func (c *capsCache) put(dir, stamp string, adv []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCapsEntries {
		clear(c.entries)
	}
	c.entries[dir] = capsEntry{adv: adv, stamp: stamp}
}
