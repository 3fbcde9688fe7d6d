package accesstoken_test

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/google/uuid"
)

// The benchmarks report their time as a multiple of one SHA-256 of a token
// (the floor: no verifier can do less than hash the secret), measured in
// the same process. Run them all with
//
//	go test -run='^$' -bench=. -benchmem .
//
// Machines are noisy, and the load of a shared machine drifts during a run,
// so the ratio ("x-sha256") is not the benchmark's ns/op over a floor
// measured at another moment: after the benchmark, the operation and the
// floor are timed in alternation, in short batches, and the median of the
// per-batch ratios is reported.

// floorToken is what the floor hashes: a token of the default format.
var floorToken = []byte(mustGenerate(nil, accesstoken.DefaultFormat()))

// ratioToFloor times op (n calls) and the floor (10,000 SHA-256s) in
// alternation, 21 times, and returns the median of the ratios of their
// times per call.
func ratioToFloor(n int, op func()) float64 {
	const floorN = 10000
	ratios := make([]float64, 21)
	for r := range ratios {
		t0 := time.Now()
		for range floorN {
			sink = sha256.Sum256(floorToken)
		}
		t1 := time.Now()
		for range n {
			op()
		}
		t2 := time.Now()
		ratios[r] = (float64(t2.Sub(t1)) / float64(n)) / (float64(t1.Sub(t0)) / floorN)
	}
	slices.Sort(ratios)
	return ratios[len(ratios)/2]
}

// reportRatio reports op's median ratio to the floor as "x-sha256". n is
// how many calls of op make one batch (a few milliseconds).
func reportRatio(b *testing.B, n int, op func()) {
	b.Helper()
	b.ReportMetric(ratioToFloor(n, op), "x-sha256")
}

var sink accesstoken.Digest

func benchSHA256(b *testing.B) {
	tok := []byte(mustGenerate(b, accesstoken.DefaultFormat()))
	b.ReportAllocs()
	for b.Loop() {
		sink = sha256.Sum256(tok)
	}
}

// BenchmarkSHA256Floor hashes one token with SHA-256: the floor.
func BenchmarkSHA256Floor(b *testing.B) {
	benchSHA256(b)
	reportRatio(b, 10000, func() { sink = sha256.Sum256(floorToken) })
}

// BenchmarkPBKDF2Peer does what Gitea does per token check:
// PBKDF2-HMAC-SHA256, 10,000 iterations, 50-byte key, per-token salt.
func BenchmarkPBKDF2Peer(b *testing.B) {
	tok := mustGenerate(b, accesstoken.DefaultFormat())
	salt := make([]byte, 10)
	rand.Read(salt)
	peer := func() {
		if _, err := pbkdf2.Key(sha256.New, tok, salt, 10000, 50); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		peer()
	}
	reportRatio(b, 2, peer)
}

// bigStore holds synthetic tokens (spread over 10,000 owners and 1,000
// projects of 10 repositories each) plus verifiable real ones.
type bigStore struct {
	store   *memstore.Store
	m       *accesstoken.Manager
	secrets []string
	res     []accesstoken.Resource
}

var (
	bigOnce  sync.Once
	big      *bigStore
	bigBytes float64 // heap bytes per stored token
)

const bigN = 1_000_000

// fillMemstore stores n tokens and returns the heap bytes they take per
// token.
func fillMemstore(tb testing.TB, store *memstore.Store, n int) float64 {
	tb.Helper()
	scopes := []accesstoken.ScopeSet{
		accesstoken.NewScopeSet(accesstoken.ScopePull),
		accesstoken.NewScopeSet(accesstoken.ScopePull, accesstoken.ScopePush),
		accesstoken.NewScopeSet(accesstoken.ScopeBuildStatus),
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		rec := accesstoken.Record{Token: accesstoken.Token{
			ID:          uuid.New(),
			Owner:       fmt.Sprintf("user%d", i%10000),
			Description: fmt.Sprintf("token %d", i),
			Target:      accesstoken.Target{Project: fmt.Sprintf("project%d", i%1000)},
			Scopes:      scopes[i%len(scopes)],
			CreatedAt:   created.Add(time.Duration(i) * time.Second),
		}}
		if i%2 == 0 {
			rec.Target.Repository = fmt.Sprintf("repo%d", i%10)
		}
		if i%4 == 0 {
			rec.ExpiresAt = rec.CreatedAt.Add(90 * 24 * time.Hour)
		}
		binary.BigEndian.PutUint64(rec.Digest[:], uint64(i))
		binary.BigEndian.PutUint64(rec.Digest[8:], 0xfeedfacecafebeef)
		if err := store.Insert(ctx, rec); err != nil {
			tb.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(store)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

func getBig(b *testing.B) *bigStore {
	bigOnce.Do(func() {
		s := &bigStore{store: memstore.New()}
		bigBytes = fillMemstore(b, s.store, bigN-1024)
		m, err := accesstoken.New(s.store, accesstoken.InsecureAllowAll())
		if err != nil {
			b.Fatal(err)
		}
		s.m = m
		for i := range 1024 {
			target := accesstoken.ProjectTarget(fmt.Sprintf("project%d", i%1000))
			iss := issue(b, m, target, accesstoken.ScopePull)
			s.secrets = append(s.secrets, iss.Secret.Reveal())
			s.res = append(s.res, accesstoken.Resource{Project: target.Project, Repository: "repo1"})
		}
		big = s
	})
	return big
}

// BenchmarkVerify verifies tokens (1,024 different ones in turn) against a
// memstore holding 1,000,000.
func BenchmarkVerify(b *testing.B) {
	s := getBig(b)
	i := 0
	verify := func() {
		k := i & 1023
		if _, err := s.m.Verify(ctx, s.secrets[k], s.res[k], accesstoken.ScopePull); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportAllocs()
	for b.Loop() {
		verify()
	}
	reportRatio(b, 5000, verify)
	b.ReportMetric(bigBytes, "heap-B/token")
}

// BenchmarkVerifyMalformed rejects a token with a bad checksum: no store
// lookup, no hash, no allocation.
func BenchmarkVerifyMalformed(b *testing.B) {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if err != nil {
		b.Fatal(err)
	}
	bad := flipLast(mustGenerate(b, accesstoken.DefaultFormat()))
	reject := func() {
		if _, err := m.Verify(ctx, bad, hello, accesstoken.ScopePull); err == nil {
			b.Fatal("accepted")
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		reject()
	}
	reportRatio(b, 10000, reject)
}

// BenchmarkIssue issues tokens into a memstore.
func BenchmarkIssue(b *testing.B) {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if err != nil {
		b.Fatal(err)
	}
	mint := func() { issue(b, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull) }
	b.ReportAllocs()
	for b.Loop() {
		mint()
	}
	reportRatio(b, 500, mint)
}

// BenchmarkPage lists a page of 100 tokens from the middle of the list of
// every token (keyset pagination: After and Limit) of the memstore holding
// 1,000,000 tokens, oldest first (read forwards) and newest first (read
// backwards). x-1k is its time over that of the same page of a memstore
// of 1,000 (filled alike), the two timed in alternation (21 batches of 200
// pages each, which goes first alternating; the median): a page that read every token would cost about a thousand
// times more at 1,000,000.
func BenchmarkPage(b *testing.B) {
	s := getBig(b)
	small := memstore.New()
	fillMemstore(b, small, 1000)
	pageOf := func(st *memstore.Store, n int, o accesstoken.Order) func() {
		// fillMemstore creates its i-th token at 2026-01-01 + i seconds.
		after := accesstoken.Position{CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n/2) * time.Second)}
		return func() {
			recs, err := st.List(ctx, accesstoken.Query{All: true, Order: o, After: after, Limit: 100})
			if err != nil || len(recs) != 100 {
				b.Fatalf("page: %d records, %v", len(recs), err)
			}
		}
	}
	for _, c := range []struct {
		name  string
		order accesstoken.Order
	}{{"oldest-first", accesstoken.OldestFirst}, {"newest-first", accesstoken.NewestFirst}} {
		b.Run(c.name, func(b *testing.B) {
			big, little := pageOf(s.store, bigN-1024, c.order), pageOf(small, 1000, c.order)
			big() // the first list sorts the order, if tokens came out of it
			little()
			b.ReportAllocs()
			for b.Loop() {
				big()
			}
			timed := func(f func()) time.Duration {
				t0 := time.Now()
				for range 200 {
					f()
				}
				return time.Since(t0)
			}
			ratios := make([]float64, 21)
			for r := range ratios {
				var tl, tb time.Duration
				if r%2 == 0 { // which goes first alternates
					tl, tb = timed(little), timed(big)
				} else {
					tb, tl = timed(big), timed(little)
				}
				ratios[r] = float64(tb) / float64(tl)
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "x-1k")
		})
	}
}

// TestMemstoreHeapPerToken checks the memory budget of memstore: at most
// 512 bytes of heap per stored token (the benchmarks report it at
// 1,000,000 tokens).
func TestMemstoreHeapPerToken(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a large store")
	}
	per := fillMemstore(t, memstore.New(), 200_000)
	t.Logf("memstore: %.0f heap bytes per token at 200,000 tokens", per)
	if per > 512 {
		t.Errorf("memstore holds %.0f bytes per token; want at most 512", per)
	}
}
