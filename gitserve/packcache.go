package gitserve

import (
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
// collected for it are bounded too, by the same size all together (each
// request that runs git reserves a quarter): requests beyond that run git
// without collecting, so that requests made all different on purpose
// cannot hold more than the cache's size in buffers.
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
// git: when collect is positive, it collects git's response, up to
// collect bytes, and must call finish once, with the whole response if
// git succeeded and it fit, nil if not; when collect is 0 (the buffers'
// budget is spent, or a request like it is in flight), it collects
// nothing, and finish is nil.
func (c *packCache) get(ctx context.Context, key [32]byte) (data []byte, hit bool, collect int64, finish func([]byte)) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		data := el.Value.(*cachedResponse).data
		c.mu.Unlock()
		return data, true, 0, nil
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
			return nil, false, 0, nil
		case <-wait.C:
			return nil, false, 0, nil // the leader is slow: run git, keep nothing
		}
		if f.data != nil {
			return f.data, true, 0, nil
		}
		return nil, false, 0, nil // the leader failed: run git, keep nothing
	}
	collect = c.maxEntry()
	if c.reserved+collect > c.max {
		c.mu.Unlock()
		return nil, false, 0, nil
	}
	c.reserved += collect
	f := &flight{done: make(chan struct{})}
	c.inflight[key] = f
	c.mu.Unlock()
	var once sync.Once
	return nil, false, collect, func(data []byte) {
		once.Do(func() {
			if int64(len(data)) > collect {
				data = nil
			}
			c.mu.Lock()
			c.reserved -= collect
			delete(c.inflight, key)
			if data != nil {
				c.put(key, data)
			}
			c.mu.Unlock()
			f.data = data
			close(f.done)
		})
	}
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
