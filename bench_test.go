package accesstoken_test

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
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

var (
	floorOnce sync.Once
	floorNs   float64
)

// floor returns the nanoseconds of one SHA-256 of a token, measured once
// per process: the best of five runs of 100 ms. (testing.Benchmark cannot
// be called from inside a benchmark.)
func floor() float64 {
	floorOnce.Do(func() {
		tok := []byte(mustGenerate(nil, accesstoken.DefaultFormat))
		for range 5 {
			n, start := 0, time.Now()
			for time.Since(start) < 100*time.Millisecond {
				for range 1000 {
					sink = sha256.Sum256(tok)
				}
				n += 1000
			}
			if ns := float64(time.Since(start).Nanoseconds()) / float64(n); floorNs == 0 || ns < floorNs {
				floorNs = ns
			}
		}
	})
	return floorNs
}

func reportRatio(b *testing.B) {
	b.Helper()
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(per/floor(), "x-sha256")
}

var sink accesstoken.Digest

func benchSHA256(b *testing.B) {
	tok := []byte(mustGenerate(b, accesstoken.DefaultFormat))
	b.ReportAllocs()
	for b.Loop() {
		sink = sha256.Sum256(tok)
	}
}

// BenchmarkSHA256Floor hashes one token with SHA-256: the floor.
func BenchmarkSHA256Floor(b *testing.B) {
	benchSHA256(b)
	reportRatio(b)
}

// BenchmarkPBKDF2Peer does what Gitea does per token check:
// PBKDF2-HMAC-SHA256, 10,000 iterations, 50-byte key, per-token salt.
func BenchmarkPBKDF2Peer(b *testing.B) {
	tok := mustGenerate(b, accesstoken.DefaultFormat)
	salt := make([]byte, 10)
	rand.Read(salt)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pbkdf2.Key(sha256.New, tok, salt, 10000, 50); err != nil {
			b.Fatal(err)
		}
	}
	reportRatio(b)
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
	ctx := t0ctx()
	scopes := [][]accesstoken.Scope{{accesstoken.ScopePull}, {accesstoken.ScopePull, accesstoken.ScopePush}, {accesstoken.ScopeBuildStatus}}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		rec := &accesstoken.Record{Token: accesstoken.Token{
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
	ctx := t0ctx()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i & 1023
		if _, err := s.m.Verify(ctx, s.secrets[k], s.res[k], accesstoken.ScopePull); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRatio(b)
	b.ReportMetric(bigBytes, "heap-B/token")
}

// BenchmarkVerifyMalformed rejects a token with a bad checksum: no store
// lookup, no hash, no allocation.
func BenchmarkVerifyMalformed(b *testing.B) {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if err != nil {
		b.Fatal(err)
	}
	bad := flipLast(mustGenerate(b, accesstoken.DefaultFormat))
	ctx := t0ctx()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(ctx, bad, hello, accesstoken.ScopePull); err == nil {
			b.Fatal("accepted")
		}
	}
	reportRatio(b)
}

// BenchmarkIssue issues tokens into a memstore.
func BenchmarkIssue(b *testing.B) {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		issue(b, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	}
	reportRatio(b)
}
