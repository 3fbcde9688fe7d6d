package gitserve

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStripCGIHeaders(t *testing.T) {
	h := map[string][]string{"authorization": {"x"}, "COOKIE": {"y"}, "proxy-authorization": {"z"}, "Accept": {"a"}, "Authorizations": {"b"},
		"Git-Protocol": {"version=2"}, "git-protocol": {"version=2"}, "Git_protocol": {"version=2"}, "Proxy_authorization": {"w"}, "Content-Type": {"c"}}
	stripCGIHeaders(h)
	if len(h) != 3 || h["Accept"] == nil || h["Authorizations"] == nil || h["Content-Type"] == nil {
		t.Fatalf("after stripCGIHeaders: %v", h)
	}
}

func TestLineLogger(t *testing.T) {
	var buf bytes.Buffer
	l := newLineLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	for _, w := range []string{"fatal: one\nfatal: t", "wo\r\n\x1b[31mred\x07\xff\n", strings.Repeat("x", maxLogLine+10), "\nlast"} {
		if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	l.Close()
	var got []string
	var truncated []bool
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec struct {
			Msg       string `json:"msg"`
			Line      string `json:"line"`
			Truncated bool   `json:"truncated"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Msg != "git stderr" {
			t.Fatalf("record %q: %v", line, err)
		}
		got = append(got, rec.Line)
		truncated = append(truncated, rec.Truncated)
	}
	want := []string{"fatal: one", "fatal: two", "\ufffd[31mred\ufffd\ufffd", strings.Repeat("x", maxLogLine), "last"}
	if !slices.Equal(got, want) {
		t.Fatalf("lines:\n%q\nwant\n%q", got, want)
	}
	if !slices.Equal(truncated, []bool{false, false, false, true, false}) {
		t.Errorf("truncated: %v", truncated)
	}
}

// TestPackCacheFollowerDoesNotWaitForever: a request identical to one in
// flight waits for its answer, but a leader that never finishes (its
// client reads slowly on purpose, and git goes at that client's pace)
// holds it only for followWait: then it is told to run git itself, and
// keeps nothing. Before, it waited as long as the leader.
func TestPackCacheFollowerDoesNotWaitForever(t *testing.T) {
	c := newPackCache(1 << 20)
	c.followWait = 50 * time.Millisecond
	key := [32]byte{1}
	_, hit, leader := c.get(context.Background(), key)
	if hit || leader == nil {
		t.Fatal("the first request must run git")
	}
	done := make(chan bool, 1)
	go func() {
		_, hit, col := c.get(context.Background(), key)
		done <- !hit && col == nil
	}()
	// Waits for the condition (the follower's answer); the minute is a
	// bound for a broken wait, not a speed test.
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("the follower of a stuck leader must run git itself")
		}
	case <-time.After(time.Minute):
		t.Fatal("the follower still waits for a leader that never finishes")
	}
	// A follower that arrives while the leader is quick gets its answer.
	go func() {
		data, hit, _ := c.get(context.Background(), key)
		done <- hit && string(data) == "pack"
	}()
	leader.finish([]byte("pack"))
	if !<-done {
		t.Fatal("a follower did not get the leader's answer")
	}
}

// TestPackCacheCollectingIsBounded: the responses being collected for the
// cache are bounded all together by the cache's size, so that requests
// made all different on purpose (each its own key) cannot buffer more at
// once: a collection reserves its buffer as it grows, a reservation past
// the budget (or past the largest response kept) is refused, a request
// that finds the budget spent collects nothing, and the budget comes back
// when a collection ends. Many small collections go on at once: before,
// each reserved the largest response kept, and a fifth collected nothing.
func TestPackCacheCollectingIsBounded(t *testing.T) {
	c := newPackCache(1 << 20) // a quarter: 256 KiB
	var cols []*collection
	for i := range 100 {
		_, hit, col := c.get(context.Background(), [32]byte{byte(i + 1)})
		if hit || col == nil {
			t.Fatalf("request %d: hit %v, no collection", i, hit)
		}
		if !col.reserve(4 << 10) {
			t.Fatalf("request %d: 4 KiB refused with %d bytes reserved of %d", i, c.reserved, c.max)
		}
		cols = append(cols, col)
	}
	if cols[0].reserve(c.maxEntry()) {
		t.Error("a collection reserved more than the largest response kept")
	}
	for i := 1; i < 3; i++ {
		if !cols[i].reserve(c.maxEntry() - 4<<10) {
			t.Fatalf("collection %d: refused a quarter with %d bytes reserved", i, c.reserved)
		}
	}
	// 400 KiB + 2 × 252 KiB = 904 KiB: the budget cannot take 252 more.
	if cols[3].reserve(c.maxEntry() - 4<<10) {
		t.Fatalf("a reservation past the budget passed: %d bytes reserved of %d", c.reserved, c.max)
	}
	for _, col := range cols[4:] {
		col.finish(nil)
	}
	if !cols[3].reserve(c.maxEntry() - 4<<10) {
		t.Fatal("the budget did not come back when collections ended")
	}
	// A dropped buffer gives its room back before its collection ends.
	before := c.reserved
	if !cols[3].reserve(-(c.maxEntry() - 4<<10)) || c.reserved != before-(c.maxEntry()-4<<10) {
		t.Fatalf("giving back: %d bytes reserved, want %d", c.reserved, before-(c.maxEntry()-4<<10))
	}
	if !cols[3].reserve(-c.max) || cols[3].reserved != 0 {
		t.Fatalf("giving back more than it holds: %d held", cols[3].reserved)
	}
	for _, col := range cols[:4] {
		col.finish(nil)
	}
	if c.reserved != 0 {
		t.Fatalf("%d bytes still reserved after every collection ended", c.reserved)
	}
	// A spent budget: a request collects nothing.
	_, _, col := c.get(context.Background(), [32]byte{200})
	if !col.reserve(c.maxEntry()) {
		t.Fatal("a quarter refused with nothing reserved")
	}
	var full []*collection
	for i := range 3 {
		_, _, col := c.get(context.Background(), [32]byte{201 + byte(i)})
		if col == nil || !col.reserve(c.maxEntry()) {
			t.Fatalf("collection %d of a quarter refused", i+2)
		}
		full = append(full, col)
	}
	if _, _, col := c.get(context.Background(), [32]byte{250}); col != nil {
		t.Fatal("a request collects with the budget spent")
	}
	col.finish(nil)
	for _, f := range full {
		f.finish(nil)
	}
}

// TestLimitedBuffer: the buffer grows only as its grow function allows,
// never past max, and keeps everything written while it may.
func TestLimitedBuffer(t *testing.T) {
	var reserved int64
	budget := int64(100 << 10)
	grow := func(n int64) bool {
		if n > 0 && reserved+n > budget {
			return false
		}
		reserved += n
		return true
	}
	l := &limitedBuffer{max: 1 << 20, grow: grow}
	chunk := bytes.Repeat([]byte("x"), 10<<10)
	for range 5 {
		l.Write(chunk)
	}
	if l.over || len(l.b) != 50<<10 || int64(cap(l.b)) != reserved {
		t.Fatalf("50 KiB: over %v, %d bytes kept, capacity %d, %d reserved", l.over, len(l.b), cap(l.b), reserved)
	}
	for range 6 {
		l.Write(chunk)
	}
	if !l.over || l.b != nil || reserved != 0 {
		t.Fatalf("110 KiB with a budget of 100: over %v, %d bytes kept, %d still reserved; want over, nothing kept or reserved", l.over, len(l.b), reserved)
	}
	small := &limitedBuffer{max: 15 << 10, grow: func(int64) bool { return true }}
	small.Write(chunk)
	small.Write(chunk)
	if !small.over {
		t.Fatal("20 KiB kept with a max of 15 KiB")
	}
	free := &limitedBuffer{max: 15 << 10} // no grow: bounded by max alone
	free.Write(chunk)
	if free.over || len(free.b) != len(chunk) {
		t.Fatalf("10 KiB without grow: over %v, %d bytes kept", free.over, len(free.b))
	}
}

// TestReadAtMostLimits: a body at the limit is read whole, one byte over
// is errTooLarge, and the largest limit does not overflow into reading
// nothing.
func TestReadAtMostLimits(t *testing.T) {
	for _, tc := range []struct {
		body  string
		limit int64
		want  string
		err   error
	}{
		{"abc", 3, "abc", nil},
		{"abcd", 3, "abcd", errTooLarge},
		{"abc", math.MaxInt64, "abc", nil},
		{"", 0, "", nil},
	} {
		b, err := readAtMost(strings.NewReader(tc.body), tc.limit)
		if err != tc.err || (err == nil && string(b) != tc.want) {
			t.Errorf("readAtMost(%q, %d) = %q, %v; want %q, %v", tc.body, tc.limit, b, err, tc.want, tc.err)
		}
	}
}
