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
	_, hit, _, leaderFinish := c.get(context.Background(), key)
	if hit || leaderFinish == nil {
		t.Fatal("the first request must run git")
	}
	done := make(chan bool, 1)
	go func() {
		_, hit, collect, finish := c.get(context.Background(), key)
		done <- !hit && collect == 0 && finish == nil
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
		data, hit, _, _ := c.get(context.Background(), key)
		done <- hit && string(data) == "pack"
	}()
	leaderFinish([]byte("pack"))
	if !<-done {
		t.Fatal("a follower did not get the leader's answer")
	}
}

// TestPackCacheCollectingIsBounded: the responses being collected for the
// cache are bounded all together by the cache's size, so that requests
// made all different on purpose (each its own key) cannot each buffer a
// quarter of the cache at once: beyond the budget a request runs git
// without collecting, and the budget comes back when a collection ends.
func TestPackCacheCollectingIsBounded(t *testing.T) {
	c := newPackCache(1 << 20)
	var finishes []func([]byte)
	for i := range 4 {
		_, hit, collect, finish := c.get(context.Background(), [32]byte{byte(i + 1)})
		if hit || collect != c.maxEntry() || finish == nil {
			t.Fatalf("request %d: hit %v, collect %d; want a collection of %d", i, hit, collect, c.maxEntry())
		}
		finishes = append(finishes, finish)
	}
	if _, hit, collect, finish := c.get(context.Background(), [32]byte{9}); hit || collect != 0 || finish != nil {
		t.Fatalf("a fifth request collects %d bytes with four collections of a quarter in flight; want 0", collect)
	}
	finishes[0](nil)
	if _, _, collect, finish := c.get(context.Background(), [32]byte{9}); collect != c.maxEntry() || finish == nil {
		t.Fatalf("after one collection ended: collect %d; want %d", collect, c.maxEntry())
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
