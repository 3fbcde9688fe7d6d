package gitserve

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
)

// Reading the quarantine of a push in-process.
//
// git receive-pack keeps what a push sends in its quarantine: one pack
// (with its index) when the push has many objects, or loose objects when
// it has few (receive.unpackLimit, 100 by default). Those are the objects
// new to the repository, plus, for a thin pack, the bases of its deltas
// that git took from the repository (index-pack --fix-thin appends them
// to the pack). Reading them here, rather than through git rev-list and
// cat-file, costs about a quarter: git cat-file pays per object, and
// resolves each delta again; here each object is inflated once, in pack
// order, and a delta base is kept only until its last delta is applied.
//
// What is scanned: every commit, annotated tag and blob of the
// quarantine, except the bases of thin-pack deltas that the repository
// already has (asked of git, for the few objects that are such bases) and
// blobs over the size limit or binary by git's rule. Trees are not read.
// An object this reader cannot resolve (a delta whose base is in the
// repository, not in the pack) is left to git cat-file. Anything else it
// does not understand (an index version, a pack over maxPackInMemory, a
// malformed entry) makes it give up, and the caller scans with git
// instead: the result is the same, at git's cost.

// maxPackInMemory is the largest quarantine pack read into memory; a push
// with a larger one is scanned with git. Tests change it.
var maxPackInMemory atomic.Int64

func init() { maxPackInMemory.Store(64 << 20) }

// maxBaseMemory bounds the delta bases kept in memory while a pack is
// read; the deltas of a base that does not fit are left to git. Tests
// change it.
var maxBaseMemory int64 = 64 << 20

// errNotReadable means the quarantine is not readable by this reader: the
// caller scans with git.
var errNotReadable = errors.New("gitserve: quarantine not readable in-process")

func notReadable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errNotReadable, fmt.Sprintf(format, args...))
}

// Object types, as packs number them.
const (
	objCommit   = 1
	objTree     = 2
	objBlob     = 3
	objTag      = 4
	objOfsDelta = 6
	objRefDelta = 7
)

// typeUnknown is the type of a delta whose base is not in the pack.
const typeUnknown = 255

var typeNames = [...]string{objCommit: "commit", objTree: "tree", objBlob: "blob", objTag: "tag"}

// quarantineReader scans the objects of a quarantine.
type quarantineReader struct {
	dir     string // the quarantine: an object directory
	hashLen int    // 20 (SHA-1) or 32 (SHA-256)
	maxSize int64
	scanner *lockedScanner
	// exists reports which of the given objects the repository already
	// has (outside the quarantine).
	exists func(ctx context.Context, oids []string) (map[string]bool, error)

	st       scanStats
	found    []objectFinding
	leftover []string // objects to read with git
	inflater
	// scratch buffers, for what is not kept: an object no delta needs,
	// and delta data; and the buffers of bases no longer needed.
	scratch, deltaBuf []byte
	free              [][]byte
}

// buffer returns a buffer of size bytes to keep: a freed one if one is
// large enough.
func (q *quarantineReader) buffer(size int64) []byte {
	for i := len(q.free) - 1; i >= 0 && i >= len(q.free)-8; i-- {
		if b := q.free[i]; int64(cap(b)) >= size {
			q.free[i] = q.free[len(q.free)-1]
			q.free = q.free[:len(q.free)-1]
			return b[:size]
		}
	}
	return make([]byte, size)
}

// inflater inflates zlib data, reusing its decompressor.
type inflater struct{ zr io.ReadCloser }

// scan scans the quarantine's packs and loose objects.
func (q *quarantineReader) scan(ctx context.Context) error {
	idxs, err := filepath.Glob(filepath.Join(q.dir, "pack", "*.idx"))
	if err != nil {
		return notReadable("%v", err)
	}
	for _, idx := range idxs {
		if err := q.scanPack(ctx, idx); err != nil {
			return err
		}
	}
	return q.scanLoose(ctx)
}

// packIndex is a pack's index (version 2): the object IDs, sorted, and
// their offsets in the pack.
type packIndex struct {
	hashLen int
	oids    []byte // n IDs of hashLen bytes, sorted
	offsets []int64
}

// parseIndex parses a version 2 pack index of objects of hashLen bytes.
func parseIndex(b []byte, hashLen int) (*packIndex, error) {
	const header = 8 + 256*4
	if len(b) < header || !bytes.Equal(b[:8], []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}) {
		return nil, notReadable("not a version 2 pack index")
	}
	var prev uint32
	for i := range 256 {
		v := binary.BigEndian.Uint32(b[8+4*i:])
		if v < prev {
			return nil, notReadable("pack index fan-out not sorted")
		}
		prev = v
	}
	n := int64(prev)
	if int64(header)+n*int64(hashLen+8)+2*int64(hashLen) > int64(len(b)) {
		return nil, notReadable("pack index too short")
	}
	ix := &packIndex{hashLen: hashLen, oids: b[header : header+int(n)*hashLen], offsets: make([]int64, n)}
	small := header + int(n)*(hashLen+4)
	large := small + int(n)*4
	for i := range ix.offsets {
		v := binary.BigEndian.Uint32(b[small+4*i:])
		if v&0x80000000 == 0 {
			ix.offsets[i] = int64(v)
			continue
		}
		at := large + 8*int(v&0x7fffffff)
		if at+8 > len(b)-2*hashLen {
			return nil, notReadable("pack index offset out of range")
		}
		ix.offsets[i] = int64(binary.BigEndian.Uint64(b[at:]))
	}
	for i := 1; i < int(n); i++ {
		if bytes.Compare(ix.oid(i-1), ix.oid(i)) >= 0 {
			return nil, notReadable("pack index not sorted")
		}
	}
	return ix, nil
}

func (ix *packIndex) oid(i int) []byte { return ix.oids[i*ix.hashLen : (i+1)*ix.hashLen] }

// find returns the position of oid, or -1.
func (ix *packIndex) find(oid []byte) int {
	n := len(ix.offsets)
	i := sort.Search(n, func(i int) bool { return bytes.Compare(ix.oid(i), oid) >= 0 })
	if i < n && bytes.Equal(ix.oid(i), oid) {
		return i
	}
	return -1
}

// packEntry is one object of a pack, in pack order.
type packEntry struct {
	pos      int   // position in the index (for the ID)
	off, end int64 // the entry's bytes in the pack
	data     int64 // where its zlib data starts
	kind     byte  // objCommit… objRefDelta
	size     int64 // inflated size of the entry (of the delta, for a delta)
	base     int   // entry index of a delta's base in the pack, or -1
	typ      byte  // the object's type, deltas resolved; typeUnknown when its base is not in the pack
	deps     int   // deltas not yet applied that need this object
	content  []byte
	state    byte // 0 to do, 1 in progress, 2 done
	excluded bool // the repository has it already: not scanned
}

// parseEntryHeader parses the header of the entry at off.
func parseEntryHeader(pack []byte, off int64, hashLen int) (kind byte, size, ofsBase int64, refBase []byte, data int64, err error) {
	p := off
	next := func() (byte, bool) {
		if p >= int64(len(pack)) {
			return 0, false
		}
		c := pack[p]
		p++
		return c, true
	}
	c, ok := next()
	if !ok {
		return 0, 0, 0, nil, 0, notReadable("entry out of the pack")
	}
	kind = (c >> 4) & 7
	size = int64(c & 15)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if c, ok = next(); !ok || shift > 56 {
			return 0, 0, 0, nil, 0, notReadable("bad entry size")
		}
		size |= int64(c&0x7f) << shift
	}
	ofsBase = -1
	switch kind {
	case objCommit, objTree, objBlob, objTag:
	case objOfsDelta:
		if c, ok = next(); !ok {
			return 0, 0, 0, nil, 0, notReadable("bad delta base offset")
		}
		neg := int64(c & 0x7f)
		for c&0x80 != 0 {
			if c, ok = next(); !ok || neg > 1<<55 {
				return 0, 0, 0, nil, 0, notReadable("bad delta base offset")
			}
			neg = (neg+1)<<7 | int64(c&0x7f)
		}
		if neg <= 0 || neg > off {
			return 0, 0, 0, nil, 0, notReadable("delta base offset out of the pack")
		}
		ofsBase = off - neg
	case objRefDelta:
		if p+int64(hashLen) > int64(len(pack)) {
			return 0, 0, 0, nil, 0, notReadable("bad delta base")
		}
		refBase = pack[p : p+int64(hashLen)]
		p += int64(hashLen)
	default:
		return 0, 0, 0, nil, 0, notReadable("unknown entry type %d", kind)
	}
	return kind, size, ofsBase, refBase, p, nil
}

// scanPack scans the pack of the index file idxPath.
func (q *quarantineReader) scanPack(ctx context.Context, idxPath string) error {
	packPath := idxPath[:len(idxPath)-len(".idx")] + ".pack"
	fi, err := os.Stat(packPath)
	if err != nil {
		return notReadable("%v", err)
	}
	if fi.Size() > maxPackInMemory.Load() {
		return notReadable("pack of %d bytes", fi.Size())
	}
	idxBytes, err := os.ReadFile(idxPath)
	if err != nil {
		return notReadable("%v", err)
	}
	pack, err := os.ReadFile(packPath)
	if err != nil {
		return notReadable("%v", err)
	}
	return q.scanPackData(ctx, idxBytes, pack)
}

// scanPackData scans a pack, given its index.
func (q *quarantineReader) scanPackData(ctx context.Context, idxBytes, pack []byte) error {
	ix, err := parseIndex(idxBytes, q.hashLen)
	if err != nil {
		return err
	}
	entries, err := packEntries(pack, ix)
	if err != nil {
		return err
	}

	// The bases of thin-pack deltas (named by ID, not offset) that the
	// repository already has are not new: not scanned.
	var refBases []string
	for _, e := range entries {
		if e.kind == objRefDelta && e.base >= 0 && !entries[e.base].excluded {
			entries[e.base].excluded = true // a candidate, for now
			refBases = append(refBases, hex.EncodeToString(ix.oid(entries[e.base].pos)))
		}
	}
	if len(refBases) > 0 {
		have, err := q.exists(ctx, refBases)
		if err != nil {
			return err
		}
		for i := range entries {
			if entries[i].excluded {
				entries[i].excluded = have[hex.EncodeToString(ix.oid(entries[i].pos))]
				if entries[i].excluded {
					q.st.existing++
				}
			}
		}
	}
	// Objects that are no delta and no base (commits, mostly: about half
	// of the work) are read by another goroutine when there is a second
	// processor, which shortens the push's wait when it is free.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var side *sideReader
	if runtime.GOMAXPROCS(0) > 1 {
		side = q.startSide(ctx, pack, ix, entries)
	}
	var mem int64
	var batch []int
	err = nil
	for i := range entries {
		if err = ctx.Err(); err != nil {
			break
		}
		if e := &entries[i]; side != nil && e.base < 0 && e.deps == 0 && !e.excluded && e.typ != objTree {
			if batch = append(batch, i); len(batch) == 64 {
				side.jobs <- batch
				batch = nil
			}
			continue
		}
		if err = q.entry(ctx, pack, ix, entries, i, &mem, 0); err != nil {
			break
		}
	}
	if side != nil {
		if err != nil {
			cancel()
		} else if len(batch) > 0 {
			side.jobs <- batch
		}
		close(side.jobs)
		<-side.done
		q.st.add(side.st)
		q.found = append(q.found, side.found...)
		if err == nil {
			err = side.err
		}
	}
	return err
}

// sideReader reads, on a goroutine of its own, objects that are neither
// deltas nor bases.
type sideReader struct {
	jobs  chan []int
	done  chan struct{}
	st    scanStats
	found []objectFinding
	err   error
}

func (q *quarantineReader) startSide(ctx context.Context, pack []byte, ix *packIndex, entries []packEntry) *sideReader {
	s := &sideReader{jobs: make(chan []int, 16), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var inf inflater
		var scratch []byte
		for batch := range s.jobs {
			for _, i := range batch {
				e := &entries[i]
				if s.err != nil || ctx.Err() != nil {
					break
				}
				if e.size > q.maxSize {
					s.st.objects++
					s.st.large++
					continue
				}
				if int64(cap(scratch)) < e.size {
					scratch = make([]byte, e.size)
				}
				content := scratch[:e.size]
				if s.err = inf.inflate(content, pack[e.data:e.end]); s.err != nil {
					break
				}
				s.err = scanObject(ctx, q.scanner, &s.st, &s.found, hex.EncodeToString(ix.oid(e.pos)), typeNames[e.typ], content)
			}
		}
	}()
	return s
}

// packEntries lists the entries of pack in pack order, with their types
// and the counts of their deltas.
func packEntries(pack []byte, ix *packIndex) ([]packEntry, error) {
	h := ix.hashLen
	if len(pack) < 12+h || !bytes.Equal(pack[:4], []byte("PACK")) {
		return nil, notReadable("not a pack")
	}
	if v := binary.BigEndian.Uint32(pack[4:]); v != 2 && v != 3 {
		return nil, notReadable("pack version %d", v)
	}
	if int(binary.BigEndian.Uint32(pack[8:])) != len(ix.offsets) {
		return nil, notReadable("pack and index disagree")
	}
	n := len(ix.offsets)
	entries := make([]packEntry, n)
	for i := range entries {
		entries[i] = packEntry{pos: i, off: ix.offsets[i], base: -1}
	}
	slices.SortFunc(entries, func(a, b packEntry) int { return cmp.Compare(a.off, b.off) })
	end := int64(len(pack) - h)
	posToEntry := make([]int, n)
	for i := range entries {
		e := &entries[i]
		if e.off < 12 || e.off >= end || (i > 0 && e.off == entries[i-1].off) {
			return nil, notReadable("entry offset out of the pack")
		}
		e.end = end
		if i+1 < n {
			e.end = entries[i+1].off
		}
		posToEntry[e.pos] = i
	}
	ofsBases := make([]int64, n)
	for i := range entries {
		e := &entries[i]
		var ref []byte
		var err error
		e.kind, e.size, ofsBases[i], ref, e.data, err = parseEntryHeader(pack[:e.end], e.off, h)
		if err != nil {
			return nil, err
		}
		switch e.kind {
		case objOfsDelta:
			b, ok := slices.BinarySearchFunc(entries[:i], ofsBases[i], func(x packEntry, off int64) int { return cmp.Compare(x.off, off) })
			if !ok {
				return nil, notReadable("delta base is not an entry before it")
			}
			e.base = b
		case objRefDelta:
			if p := ix.find(ref); p >= 0 {
				e.base = posToEntry[p]
			}
		default:
			e.typ = e.kind
		}
		if e.base >= 0 {
			entries[e.base].deps++
		}
	}
	// Types: a delta has its base's, unknown when the base is not in the
	// pack. Chains are followed iteratively; a cycle is refused.
	for i := range entries {
		var chain []int
		j := i
		for entries[j].typ == 0 && entries[j].base >= 0 {
			if len(chain) > n {
				return nil, notReadable("delta cycle")
			}
			chain = append(chain, j)
			j = entries[j].base
		}
		t := entries[j].typ
		if t == 0 {
			t = typeUnknown
		}
		for _, k := range chain {
			entries[k].typ = t
		}
	}
	return entries, nil
}

// entry reads, scans if it should, and keeps for its deltas the entry i,
// after its base.
func (q *quarantineReader) entry(ctx context.Context, pack []byte, ix *packIndex, entries []packEntry, i int, mem *int64, depth int) error {
	e := &entries[i]
	switch e.state {
	case 2:
		return nil
	case 1:
		return notReadable("delta cycle")
	}
	if depth > 10000 {
		return notReadable("delta chain too deep")
	}
	e.state = 1
	defer func() { e.state = 2 }()
	oid := func() string { return hex.EncodeToString(ix.oid(e.pos)) }
	if e.typ == objTree {
		return nil // trees are neither read nor bases of anything else
	}
	if e.typ == typeUnknown {
		// A delta on an object of the repository: git reads it.
		q.leftover = append(q.leftover, oid())
		return nil
	}
	// An object kept as a base gets a buffer of its own; the others
	// share the scratch buffer.
	var content []byte
	into := func(size int64) []byte {
		if e.deps > 0 {
			return q.buffer(size)
		}
		if int64(cap(q.scratch)) < size {
			q.scratch = make([]byte, size)
		}
		return q.scratch[:size]
	}
	// An object is read if it is to be scanned (not over the size limit),
	// or if it is a base that may fit in the memory for bases.
	readable := func(size int64) bool {
		return size <= q.maxSize || (e.deps > 0 && size <= maxBaseMemory)
	}
	if e.base < 0 {
		if !readable(e.size) {
			q.large(e)
			return nil
		}
		content = into(e.size)
		if err := q.inflate(content, pack[e.data:e.end]); err != nil {
			return err
		}
	} else {
		b := &entries[e.base]
		if b.state != 2 {
			if err := q.entry(ctx, pack, ix, entries, e.base, mem, depth+1); err != nil {
				return err
			}
		}
		base := b.content
		b.deps--
		if b.deps == 0 && b.content != nil {
			*mem -= int64(len(b.content))
			b.content = nil
			defer func() { q.free = append(q.free, base) }() // once applied
		}
		if base == nil {
			// Its base was too large to keep, or not read: git reads it.
			if !e.excluded {
				q.leftover = append(q.leftover, oid())
			}
			return nil
		}
		if e.size > max(q.maxSize, maxBaseMemory) {
			return notReadable("delta of %d bytes", e.size)
		}
		if int64(cap(q.deltaBuf)) < e.size {
			q.deltaBuf = make([]byte, e.size)
		}
		delta := q.deltaBuf[:e.size]
		if err := q.inflate(delta, pack[e.data:e.end]); err != nil {
			return err
		}
		size, err := deltaResultSize(delta, len(base))
		if err != nil {
			return err
		}
		if !readable(size) {
			q.large(e)
			return nil
		}
		if content, err = applyDelta(into(size)[:0], base, delta, size); err != nil {
			return err
		}
	}
	if !e.excluded {
		if err := q.scanContent(ctx, oid(), typeNames[e.typ], content); err != nil {
			return err
		}
	}
	if e.deps > 0 && *mem+int64(len(content)) <= maxBaseMemory {
		e.content = content
		*mem += int64(len(content))
	}
	return nil
}

// large counts an object skipped for its size, unless the repository has
// it already.
func (q *quarantineReader) large(e *packEntry) {
	if !e.excluded {
		q.st.objects++
		q.st.large++
	}
}

// scanContent scans an object's content, as objectScan.read does.
func (q *quarantineReader) scanContent(ctx context.Context, oid, typ string, content []byte) error {
	if int64(len(content)) > q.maxSize {
		q.st.objects++
		q.st.large++
		return nil
	}
	return scanObject(ctx, q.scanner, &q.st, &q.found, oid, typ, content)
}

// inflate inflates the zlib data of an object into out, which must be
// its size.
func (q *inflater) inflate(out, data []byte) error {
	var err error
	if q.zr == nil {
		q.zr, err = zlib.NewReader(bytes.NewReader(data))
	} else {
		err = q.zr.(zlib.Resetter).Reset(bytes.NewReader(data), nil)
	}
	if err != nil {
		return notReadable("inflating: %v", err)
	}
	if _, err := io.ReadFull(q.zr, out); err != nil {
		return notReadable("inflating: %v", err)
	}
	return nil
}

// deltaVarint reads a size of a delta's header.
func deltaVarint(d []byte, p *int) (int64, bool) {
	var v int64
	for shift := 0; ; shift += 7 {
		if *p >= len(d) || shift > 56 {
			return 0, false
		}
		c := d[*p]
		*p++
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, true
		}
	}
}

// deltaResultSize returns the size of the object delta makes from a base
// of baseLen bytes.
func deltaResultSize(delta []byte, baseLen int) (int64, error) {
	p := 0
	b, ok1 := deltaVarint(delta, &p)
	r, ok2 := deltaVarint(delta, &p)
	if !ok1 || !ok2 || b != int64(baseLen) {
		return 0, notReadable("bad delta header")
	}
	return r, nil
}

// applyDelta appends to out (empty, with room for size bytes) the result
// of the git delta on base; it must be size bytes.
func applyDelta(out, base, delta []byte, size int64) ([]byte, error) {
	p := 0
	deltaVarint(delta, &p)
	deltaVarint(delta, &p)
	for p < len(delta) {
		op := delta[p]
		p++
		switch {
		case op&0x80 != 0:
			var off, n int64
			for k := range 4 {
				if op&(1<<k) != 0 {
					if p >= len(delta) {
						return nil, notReadable("bad delta")
					}
					off |= int64(delta[p]) << (8 * k)
					p++
				}
			}
			for k := range 3 {
				if op&(0x10<<k) != 0 {
					if p >= len(delta) {
						return nil, notReadable("bad delta")
					}
					n |= int64(delta[p]) << (8 * k)
					p++
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > int64(len(base)) || int64(len(out))+n > size {
				return nil, notReadable("bad delta copy")
			}
			out = append(out, base[off:off+n]...)
		case op != 0:
			n := int(op)
			if p+n > len(delta) || int64(len(out)+n) > size {
				return nil, notReadable("bad delta insert")
			}
			out = append(out, delta[p:p+n]...)
			p += n
		default:
			return nil, notReadable("bad delta opcode")
		}
	}
	if int64(len(out)) != size {
		return nil, notReadable("delta result of the wrong size")
	}
	return out, nil
}

// scanLoose scans the loose objects of the quarantine.
func (q *quarantineReader) scanLoose(ctx context.Context) error {
	dirs, err := os.ReadDir(q.dir)
	if err != nil {
		return notReadable("%v", err)
	}
	for _, d := range dirs {
		if len(d.Name()) != 2 || !isHex(d.Name()) || !d.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(q.dir, d.Name()))
		if err != nil {
			return notReadable("%v", err)
		}
		for _, f := range files {
			oid := d.Name() + f.Name()
			if len(oid) != 2*q.hashLen || !isHex(f.Name()) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := q.looseObject(ctx, filepath.Join(q.dir, d.Name(), f.Name()), oid); err != nil {
				return err
			}
		}
	}
	return nil
}

// looseObject scans one loose object: zlib of "TYPE SIZE\0CONTENT".
func (q *quarantineReader) looseObject(ctx context.Context, path, oid string) error {
	f, err := os.Open(path)
	if err != nil {
		return notReadable("%v", err)
	}
	defer f.Close()
	zr, err := zlib.NewReader(f)
	if err != nil {
		return notReadable("%v", err)
	}
	var hdr []byte
	var c [1]byte
	for len(hdr) < 32 {
		if _, err := io.ReadFull(zr, c[:]); err != nil {
			return notReadable("loose object header: %v", err)
		}
		if c[0] == 0 {
			break
		}
		hdr = append(hdr, c[0])
	}
	typ, sizeText, ok := bytes.Cut(hdr, []byte{' '})
	size, err := strconv.ParseInt(string(sizeText), 10, 64)
	if !ok || c[0] != 0 || err != nil || size < 0 {
		return notReadable("loose object header")
	}
	switch string(typ) {
	case "tree":
		return nil
	case "blob", "commit", "tag":
	default:
		return notReadable("loose object type")
	}
	if size > q.maxSize {
		q.st.objects++
		q.st.large++
		return nil
	}
	content := make([]byte, size)
	if _, err := io.ReadFull(zr, content); err != nil {
		return notReadable("loose object: %v", err)
	}
	return q.scanContent(ctx, oid, string(typ), content)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
