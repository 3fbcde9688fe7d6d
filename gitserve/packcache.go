package gitserve

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DefaultPackCache is the default size of a [Handler]'s cache of
// upload-pack responses: 128 MiB (so that a pack of up to 32 MiB is kept).
const DefaultPackCache = 128 << 20

// packCache keeps recent git upload-pack responses (a fetch's pack, an
// ls-refs listing) in memory, so that the same request to a repository in
// the same state is answered without running git: a CI fleet cloning one
// commit a thousand times runs git once. (GitLab's Gitaly keeps such a
// cache for the same reason.)
//
// A response is keyed by the request body (the wants, haves and
// capabilities), its Git-Protocol header, git's configuration (the files
// of capsCache, and git itself) and the state of the repository's refs
// (HEAD, packed-refs, every loose ref, the shallow file, the alternates):
// git's answer depends on nothing else, since objects never change under
// their names, and which of them a client may ask for follows from the
// refs. A repository whose refs cannot be read that cheaply (a reftable,
// more than maxLooseRefs loose refs) is not cached.
//
// Identical requests that arrive together run git once: the first runs it
// and the others wait for its answer (singleflight), holding no process.
// The first request's git goes at the pace its client reads the answer,
// so the others wait at most followWait for it (a client that reads
// slowly on purpose holds back no one else for longer): then each runs
// git itself.
// The cache is bounded in bytes, least recently used entries out first;
// a response larger than a quarter of it is not kept. The responses being
// collected for it are bounded too, by the same size all together: a
// collection reserves its buffer from that budget as the buffer grows,
// and stops collecting, giving its room back (git's answer still goes to
// its client), when the budget is spent; a request that finds it spent runs git without
// collecting. So requests made all different on purpose cannot hold more
// than the cache's size in buffers, while many small answers (ref
// listings, small fetches of many repositories) are collected at once.
type packCache struct {
	max        int64
	followWait time.Duration // how long a request waits for an identical one in flight

	mu        sync.Mutex
	size      int64
	reserved  int64                      // bytes reserved by the responses being collected
	following int                        // requests waiting for an identical one in flight
	entries   map[[32]byte]*list.Element // of *cachedResponse
	lru       *list.List
	inflight  map[[32]byte]*flight
}

type cachedResponse struct {
	key  [32]byte
	data []byte
}

type flight struct {
	done chan struct{}
	data []byte // nil if the leader got no answer to keep
}

// defaultFollowWait is packCache.followWait: far longer than git takes to
// answer a request whose answer is cached (a cached answer is at most a
// quarter of the cache), short enough that a client reading on purpose
// slowly does not hold up a CI fleet for long.
const defaultFollowWait = 10 * time.Second

func newPackCache(max int64) *packCache {
	return &packCache{max: max, followWait: defaultFollowWait, entries: map[[32]byte]*list.Element{}, lru: list.New(), inflight: map[[32]byte]*flight{}}
}

// maxEntry is the largest response kept.
func (c *packCache) maxEntry() int64 { return c.max / 4 }

// get returns the response for key: (data, true) from the cache, or after
// waiting for the request that is computing it. Otherwise the caller runs
// git: when col is not nil, it collects git's response, reserving its
// buffer with col.reserve as it grows, and must call col.finish once,
// with the whole response if git succeeded and it was all collected, nil
// if not; when col is nil (the buffers' budget is spent, or a request
// like it is in flight), it collects nothing.
func (c *packCache) get(ctx context.Context, key [32]byte) (data []byte, hit bool, col *collection) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		data := el.Value.(*cachedResponse).data
		c.mu.Unlock()
		return data, true, nil
	}
	if f, ok := c.inflight[key]; ok {
		c.following++
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.following--
			c.mu.Unlock()
		}()
		wait := time.NewTimer(c.followWait)
		defer wait.Stop()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, false, nil
		case <-wait.C:
			return nil, false, nil // the leader is slow: run git, keep nothing
		}
		if f.data != nil {
			return f.data, true, nil
		}
		return nil, false, nil // the leader failed: run git, keep nothing
	}
	if c.reserved >= c.max {
		c.mu.Unlock()
		return nil, false, nil
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[key] = f
	c.mu.Unlock()
	return nil, false, &collection{c: c, key: key, f: f}
}

// collection is a response being collected for the cache by the request
// that runs git for it.
type collection struct {
	c        *packCache
	key      [32]byte
	f        *flight
	reserved int64 // bytes of the collections' budget it holds; c.mu
	once     sync.Once
}

// reserve takes n more bytes of the collections' budget for the buffer.
// It reports false, taking nothing, when the response would be larger
// than the largest kept or the budget is spent: then stop collecting. A
// negative n gives back -n bytes (at most what it holds): a buffer
// dropped before the request ends holds no budget.
func (col *collection) reserve(n int64) bool {
	c := col.c
	c.mu.Lock()
	defer c.mu.Unlock()
	n = max(n, -col.reserved)
	if col.reserved+n > c.maxEntry() || c.reserved+n > c.max {
		return false
	}
	col.reserved += n
	c.reserved += n
	return true
}

// finish ends the collection, once: data (the whole response, or nil) is
// kept and given to the requests waiting for it, and the reservation is
// given back.
func (col *collection) finish(data []byte) {
	col.once.Do(func() {
		c := col.c
		if int64(len(data)) > c.maxEntry() {
			data = nil
		}
		if data != nil && cap(data) > len(data)+len(data)/8 {
			// Kept for long: not with the spare room of a buffer that
			// grew by doubling, which the cache's size does not count.
			data = bytes.Clone(data)
		}
		c.mu.Lock()
		c.reserved -= col.reserved
		col.reserved = 0
		delete(c.inflight, col.key)
		if data != nil {
			c.put(col.key, data)
		}
		c.mu.Unlock()
		col.f.data = data
		close(col.f.done)
	})
}

// put stores data under key; c.mu is held.
func (c *packCache) put(key [32]byte, data []byte) {
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		return
	}
	c.entries[key] = c.lru.PushFront(&cachedResponse{key: key, data: data})
	c.size += int64(len(data))
	for c.size > c.max {
		el := c.lru.Back()
		e := el.Value.(*cachedResponse)
		c.lru.Remove(el)
		delete(c.entries, e.key)
		c.size -= int64(len(e.data))
	}
}

// maxLooseRefs bounds the loose refs read for a repository's state; a
// repository with more is not cached.
const maxLooseRefs = 512

// refsState writes into h what git's answers about the repository dir
// depend on besides its objects: HEAD, packed-refs (its size and time),
// every loose ref (its name and content), the shallow file and the
// alternates. It reports false when that cannot be read cheaply.
func refsState(h interface{ Write([]byte) (int, error) }, dir string) bool {
	if fi, err := os.Stat(filepath.Join(dir, "reftable")); err == nil && fi.IsDir() {
		return false
	}
	head, err := os.ReadFile(filepath.Join(dir, "HEAD"))
	if err != nil {
		return false
	}
	fmt.Fprintf(h, "HEAD %q\n", head)
	for _, f := range []string{"packed-refs", "shallow", "objects/info/alternates"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", f, fi.Size(), fi.ModTime().UnixNano())
		} else {
			fmt.Fprintf(h, "%s -\n", f)
		}
	}
	n := 0
	err = filepath.WalkDir(filepath.Join(dir, "refs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if n++; n > maxLooseRefs {
			return fs.SkipAll
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "ref %q %q\n", p[len(dir):], b)
		return nil
	})
	return err == nil && n <= maxLooseRefs
}

// packKey returns the cache key of an upload-pack request with body req
// and Git-Protocol header protocol to the repository dir, given the stamp
// of git's configuration; false when the repository's state cannot be
// read cheaply.
func packKey(dir, configStamp, protocol string, req []byte) ([32]byte, bool) {
	h := sha256.New()
	fmt.Fprintf(h, "config %q\nprotocol %q\n", configStamp, protocol)
	if !refsState(h, dir) {
		return [32]byte{}, false
	}
	fmt.Fprintf(h, "request %d\n", len(req))
	h.Write(req)
	var k [32]byte
	h.Sum(k[:0])
	return k, true
}
