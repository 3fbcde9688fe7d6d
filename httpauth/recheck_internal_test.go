package httpauth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// chunkReader returns its chunks one Read at a time, then io.EOF.
type chunkReader struct{ chunks [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

func (c *chunkReader) Close() error { return nil }

var errRevokedForTest = fail(http.StatusUnauthorized, "access token revoked", errors.New("revoked"))

// TestRecheckBody: bytes are given out only after a check newer than the
// interval, the last holdBack bytes only after a check at the body's end,
// and nothing after a check that failed.
func TestRecheckBody(t *testing.T) {
	chunk := func(b byte) []byte { return bytes.Repeat([]byte{b}, 1000) }

	t.Run("every read checked", func(t *testing.T) {
		var ok atomic.Bool
		ok.Store(true)
		var checks atomic.Int32
		b := &recheckBody{body: &chunkReader{chunks: [][]byte{chunk('a'), chunk('b')}}, every: 0,
			check: func() *Error {
				checks.Add(1)
				if ok.Load() {
					return nil
				}
				return errRevokedForTest
			}}
		p := make([]byte, 4096)
		n, err := b.Read(p)
		if err != nil || n != 1000-holdBack || p[0] != 'a' {
			t.Fatalf("first read: %d, %v; want %d bytes of the first chunk", n, err, 1000-holdBack)
		}
		ok.Store(false) // revoked while the second chunk is on its way
		n, err = b.Read(p)
		if n != 0 || !errors.Is(err, errRevokedForTest) {
			t.Fatalf("read after the revocation: %d, %v; want 0 and the check's error", n, err)
		}
		if n, err := b.Read(p); n != 0 || err == nil {
			t.Fatalf("read after a failed check: %d, %v; want the error again", n, err)
		}
	})

	t.Run("checked at the end only within the interval", func(t *testing.T) {
		var checks atomic.Int32
		fails := false
		b := &recheckBody{body: &chunkReader{chunks: [][]byte{chunk('a'), chunk('b'), chunk('c')}}, every: time.Hour, checked: time.Now(),
			check: func() *Error {
				checks.Add(1)
				if fails {
					return errRevokedForTest
				}
				return nil
			}}
		var got []byte
		p := make([]byte, 512)
		for {
			n, err := b.Read(p)
			got = append(got, p[:n]...)
			if len(got) == 3000-holdBack && !fails {
				fails = true // revoked just before the end arrives
			}
			if err != nil {
				if !errors.Is(err, errRevokedForTest) {
					t.Fatalf("end: %v; want the check's error", err)
				}
				break
			}
		}
		if len(got) != 3000-holdBack {
			t.Fatalf("got %d bytes; want all but the last %d", len(got), holdBack)
		}
		if checks.Load() != 1 {
			t.Fatalf("%d checks; want 1 (at the end)", checks.Load())
		}
	})

	t.Run("whole body when the checks pass", func(t *testing.T) {
		b := &recheckBody{body: &chunkReader{chunks: [][]byte{chunk('a'), []byte("tiny"), chunk('c')}}, every: 0, check: func() *Error { return nil }}
		got, err := io.ReadAll(b)
		if err != nil || len(got) != 2004 || string(got[1000:1004]) != "tiny" {
			t.Fatalf("ReadAll: %d bytes, %v; want the 2004 bytes", len(got), err)
		}
	})
}

// TestHoldBackInREADME: the README says how many bytes the middleware
// holds back until the last check.
func TestHoldBackInREADME(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("before the handler gets its last %d bytes", holdBack)
	if !strings.Contains(strings.Join(strings.Fields(string(b)), " "), want) {
		t.Errorf("README.md does not say %q", want)
	}
}
