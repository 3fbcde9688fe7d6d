package accesstoken_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
)

// The scan benchmarks report MB/s over 1 MiB of text like the text of a
// repository or a log (code, words, identifiers with underscores, hex
// hashes), without tokens and with one live token every 16 KiB. Their
// "x-index" is the ratio of their time to the floor measured in the same
// run, in alternation (as ratioToFloor does): one search of the text for
// the prefix "gat_" with bytes.Index, which every scanner must at least
// do. Run them with
//
//	go test -run='^$' -bench=Scan -benchmem .

// scanText returns about size bytes of text, with the tokens spread evenly
// over it.
func scanText(size int, tokens []string) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"the", "git", "push", "origin", "main", "func", "return", "err", "nil", "if", "for", "range",
		"token", "user_id", "max_len", "get_value", "GIT_DIR", "HTTP_PROXY", "gat", "gate", "agate", "{", "}", "(", ")", ":=", "==",
		"// comment", "INFO", "request_id=", "status=200", "path=/demo/hello.git", "0x1f", "42", "build_status", "foo_bar_baz"}
	var b bytes.Buffer
	next := 0
	for b.Len() < size {
		if len(tokens) > 0 && b.Len() >= next*size/len(tokens) && next < len(tokens) {
			b.WriteString("password=" + tokens[next] + "\n")
			next++
		}
		n := 4 + r.IntN(12)
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
			}
			if r.IntN(20) == 0 {
				fmt.Fprintf(&b, "%040x", r.Uint64())
			} else {
				b.WriteString(words[r.IntN(len(words))])
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ratioToIndex times op and the floor (searching content for "gat_") in
// alternation, 21 times, and returns the median ratio of their times.
func ratioToIndex(content []byte, op func()) float64 {
	prefix := []byte("gat_")
	floor := func() int {
		n := 0
		for i := 0; ; {
			j := bytes.Index(content[i:], prefix)
			if j < 0 {
				return n
			}
			n++
			i += j + 1
		}
	}
	ratios := make([]float64, 21)
	for r := range ratios {
		t0 := time.Now()
		for range 5 {
			floor()
		}
		t1 := time.Now()
		for range 5 {
			op()
		}
		t2 := time.Now()
		ratios[r] = float64(t2.Sub(t1)) / float64(t1.Sub(t0))
	}
	slices.Sort(ratios)
	return ratios[len(ratios)/2]
}

func BenchmarkScan(b *testing.B) {
	const size = 1 << 20
	e := newScanEnv(b)
	var tokens []string
	for range size / (16 << 10) {
		tokens = append(tokens, e.issueFor(b, 0).Secret.Reveal())
	}
	for _, text := range []struct {
		name    string
		content []byte
		want    int
	}{
		{"text", scanText(size, nil), 0},
		{"text-with-tokens", scanText(size, tokens), len(tokens)},
	} {
		for _, mode := range []struct {
			name string
			opts accesstoken.ScanOptions
		}{
			{"live", accesstoken.ScanOptions{}},
			{"all-kinds", allKinds},
		} {
			b.Run(text.name+"/"+mode.name, func(b *testing.B) {
				op := func() {
					got, err := e.m.Scan(ctx, text.content, mode.opts)
					if err != nil || len(got) != text.want {
						b.Fatalf("Scan: %d findings, %v; want %d", len(got), err, text.want)
					}
				}
				b.SetBytes(int64(len(text.content)))
				b.ReportAllocs()
				for b.Loop() {
					op()
				}
				b.ReportMetric(ratioToIndex(text.content, op), "x-index")
			})
		}
	}
}

// BenchmarkScanRegexpPeer finds the tokens with the regular expression
// that the README gives secret scanners, as a peer; it looks nothing up.
func BenchmarkScanRegexpPeer(b *testing.B) {
	const size = 1 << 20
	re := regexp.MustCompile(`\bgat_[0-9A-Za-z]{49}\b`)
	var tokens []string
	for range size / (16 << 10) {
		tokens = append(tokens, mustGenerate(b, accesstoken.DefaultFormat()))
	}
	content := scanText(size, tokens)
	op := func() {
		if got := re.FindAllIndex(content, -1); len(got) != len(tokens) {
			b.Fatalf("%d matches; want %d", len(got), len(tokens))
		}
	}
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		op()
	}
	b.ReportMetric(ratioToIndex(content, op), "x-index")
}
