package drivertest_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/forgekit/accesstoken/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Benchmarks run only with -bench; the PostgreSQL ones need the server that
// scripts/test.sh starts:
//
//	scripts/test.sh --with-postgres go test -run '^$' -bench Verify -benchtime 20000x ./sqlstore/drivertest/
//
// Every sub-benchmark verifies, through accesstoken.Manager (with
// InsecureAllowAll and last-used recording on, at the default interval),
// a rotating set of benchTokens tokens issued through the Manager, in a
// store that holds 1,000 or 1,000,000 tokens in all; the others are
// synthetic rows inserted in bulk. Each token is verified once before the
// timer starts, so the figures are the steady state: one SELECT by digest
// per verification, the last-used write being due only once per token and
// interval. The "-write" variants set the interval to a microsecond, so
// that every verification also writes.
//
// Ratios are reported as extra metrics: x-sha256 (to the SHA-256 of a token,
// the floor of any verification), x-memstore (to memstore at 1k) and x-1k
// (a 1M store to the same backend at 1k; the target is at most 1.3). On a
// shared machine the time per operation drifts between sub-benchmarks, so
// a ratio is not the quotient of two sub-benchmarks' ns/op but measured
// after the timed loop, in pairs: 201 rounds of 50 verifications of one
// store then 50 of the other (the same tokens), alternating which goes
// first; the metric is the median of the rounds' ratios.

const (
	benchTokens = 1000
	pairRounds  = 201 // odd, for the median
	pairCalls   = 50  // per store and round: short rounds, so that most miss the bursts of other load
)

// benchEnv is a filled store, kept for the whole run (filling 1M rows takes
// seconds) and removed by TestMain.
type benchEnv struct {
	store  accesstoken.Store
	m      *accesstoken.Manager
	tokens []string
	close  func()
}

var (
	benchMu   sync.Mutex
	benchEnvs = map[string]*benchEnv{}
	benchRes  = accesstoken.Resource{Project: "bench", Repository: "repo"}
	benchSink accesstoken.Digest // keeps the floor's hashing from being optimised away
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, e := range benchEnvs {
		e.close()
	}
	if adminDB != nil {
		adminDB.Close()
	}
	os.Exit(code)
}

// verifier returns a function that verifies the i-th token of env through
// m, failing the benchmark on error.
func verifier(b *testing.B, env *benchEnv, m *accesstoken.Manager) func(i int) {
	ctx := context.Background()
	return func(i int) {
		if _, err := m.Verify(ctx, env.tokens[i%len(env.tokens)], benchRes, accesstoken.ScopePull); err != nil {
			b.Fatal(err)
		}
	}
}

// paired returns the median, over pairRounds rounds, of the time ratio of
// pairCalls calls of f to as many calls of base.
func paired(f, base func(i int)) float64 {
	next := 0
	run := func(g func(int)) time.Duration {
		start := time.Now()
		for i := range pairCalls {
			g(next + i)
		}
		return time.Since(start)
	}
	ratios := make([]float64, pairRounds)
	for r := range ratios {
		var tf, tb time.Duration
		if r%2 == 0 {
			tf, tb = run(f), run(base)
		} else {
			tb, tf = run(base), run(f)
		}
		next += pairCalls
		ratios[r] = float64(tf) / float64(tb)
	}
	slices.Sort(ratios)
	return ratios[len(ratios)/2]
}

func BenchmarkVerify(b *testing.B) {
	secret, err := accesstoken.DefaultFormat().Generate()
	if err != nil {
		b.Fatal(err)
	}
	token := []byte(secret.Reveal())
	if len(token) != 53 {
		b.Fatalf("token length %d; want 53", len(token))
	}
	floor := func(int) { benchSink = sha256.Sum256(token) }
	b.Run("sha256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchSink = sha256.Sum256(token)
		}
	})
	cases := []struct {
		name    string
		backend string
		n       int
		every   bool
	}{
		{"memstore-1k", "memstore", 1000, false},
		{"sqlite-1k", "sqlite", 1000, false},
		{"sqlite-1M", "sqlite", 1_000_000, false},
		{"postgres-1k", "postgres", 1000, false},
		{"postgres-1M", "postgres", 1_000_000, false},
		{"sqlite-1k-write", "sqlite", 1000, true},
		{"postgres-1k-write", "postgres", 1000, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			env := benchSetup(b, c.backend, c.n)
			m := env.m
			if c.every {
				var err error
				m, err = accesstoken.New(env.store, accesstoken.InsecureAllowAll(), accesstoken.WithLastUsedInterval(time.Microsecond))
				if err != nil {
					b.Fatal(err)
				}
			}
			verify := verifier(b, env, m)
			for i := range env.tokens { // warm up: connections, statements, last-used
				verify(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				verify(i)
				i++
			}
			b.StopTimer()
			if b.N < benchTokens {
				return // a probe run: no ratios
			}
			b.ReportMetric(paired(verify, floor), "x-sha256")
			if c.backend == "sqlite" && !c.every {
				mem := benchSetup(b, "memstore", 1000)
				b.ReportMetric(paired(verify, verifier(b, mem, mem.m)), "x-memstore")
			}
			if c.n == 1_000_000 {
				k := benchSetup(b, c.backend, 1000)
				b.ReportMetric(paired(verify, verifier(b, k, k.m)), "x-1k")
			}
		})
	}
}

// benchSetup returns the store for backend filled with n tokens, of which
// benchTokens are issued through a Manager and returned with their secrets.
func benchSetup(b *testing.B, backend string, n int) *benchEnv {
	key := fmt.Sprintf("%s-%d", backend, n)
	benchMu.Lock()
	env := benchEnvs[key]
	benchMu.Unlock()
	if env != nil {
		return env
	}
	start := time.Now()
	ctx := context.Background()
	var store accesstoken.Store
	env = &benchEnv{close: func() {}}
	switch backend {
	case "memstore":
		ms := memstore.New()
		store = ms
	case "sqlite":
		dir, err := os.MkdirTemp("", "sqlstore-bench")
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, "tokens.db")
		fillSQLite(b, path, n-benchTokens)
		db, err := sql.Open("sqlite", sqliteDSN(path))
		if err != nil {
			b.Fatal(err)
		}
		env.close = func() { db.Close(); os.RemoveAll(dir) }
		s, err := sqlstore.New(db, sqlstore.SQLite)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		store = s
	case "postgres":
		u := os.Getenv(postgresEnv)
		if u == "" {
			b.Skipf("%s is not set: run the benchmarks through scripts/test.sh --with-postgres", postgresEnv)
		}
		schema := randomName("bench")
		adm, err := sql.Open("pgx", u)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := adm.Exec("CREATE SCHEMA " + schema); err != nil {
			b.Fatal(err)
		}
		cfg, err := pgx.ParseConfig(u)
		if err != nil {
			b.Fatal(err)
		}
		cfg.RuntimeParams["search_path"] = schema
		db := stdlib.OpenDB(*cfg)
		env.close = func() {
			db.Close()
			adm.Exec("DROP SCHEMA " + schema + " CASCADE")
			adm.Close()
		}
		s, err := sqlstore.New(db, sqlstore.PostgreSQL)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		fillPostgres(b, db, n-benchTokens)
		store = s
	default:
		b.Fatalf("unknown backend %q", backend)
	}
	m, err := accesstoken.New(store, accesstoken.InsecureAllowAll())
	if err != nil {
		b.Fatal(err)
	}
	env.m, env.store = m, store
	if backend == "memstore" && n > benchTokens {
		b.Fatal("memstore is benchmarked at 1k only")
	}
	for i := range benchTokens {
		target := accesstoken.ProjectTarget("bench")
		if i%2 == 1 {
			target = accesstoken.RepositoryTarget("bench", "repo")
		}
		iss, err := m.Issue(ctx, accesstoken.IssueRequest{
			Owner: fmt.Sprintf("user%d", i%50), Description: fmt.Sprintf("bench %d", i), Target: target,
			Scopes: []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush},
		})
		if err != nil {
			b.Fatal(err)
		}
		env.tokens = append(env.tokens, iss.Secret.Reveal())
	}
	b.Logf("%s: %d tokens ready in %v", key, n, time.Since(start).Round(time.Millisecond))
	benchMu.Lock()
	benchEnvs[key] = env
	benchMu.Unlock()
	return env
}

// fillSQLite creates the database at path and inserts n synthetic tokens
// in one transaction, generated by SQLite itself (sequential IDs, random
// digests), spread over 1,000 projects and 10,000 owners. The table's key
// is the digest's first 8 bytes, so rows go into its B-tree in random
// order, as they do in use. It is a bulk load: no journal, and the
// secondary indexes dropped for the fill and built again after it (their
// definitions are read from the schema, not repeated here). The benchmark
// then opens the file with the recommended settings (WAL).
func fillSQLite(b testing.TB, path string, n int) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-524288)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	s, err := sqlstore.New(db, sqlstore.SQLite)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	bulkLoad{
		indexes: "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'access_tokens' AND sql IS NOT NULL",
		begin:   "BEGIN IMMEDIATE",
		// The lookup key is drawn first and the digest made of it and 24
		// more random bytes (the schema's CHECK holds them to each other).
		insert: `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?),
		r(i, k) AS MATERIALIZED (SELECT i, random() FROM c)
		INSERT INTO access_tokens (lookup, id, digest, owner, description, target_kind, project, repository, scopes, created_at)
		SELECT k, unhex(printf('%032x', i)), unhex(printf('%016X', k) || hex(randomblob(24))), 'owner' || (i % 10000), 'synthetic', 'repository',
		       'project' || (i % 1000), 'repo' || (i % 10), 'repository:pull', ? + i FROM r`,
		args:    []any{n, time.Now().Add(-time.Hour).UnixMicro()},
		analyze: "ANALYZE",
	}.run(b, db, n)
}

// fillPostgres does the same on the server: one INSERT ... SELECT over
// generate_series, with SHA-256 of the row number as the digest.
func fillPostgres(b testing.TB, db *sql.DB, n int) {
	bulkLoad{
		indexes: "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'access_tokens' AND indexname <> 'access_tokens_pkey'",
		begin:   "BEGIN",
		insert: `INSERT INTO access_tokens (id, digest, owner, description, target_kind, project, repository, scopes, created_at)
		SELECT lpad(to_hex(i), 32, '0')::uuid, sha256(int8send(i)), 'owner' || (i % 10000), 'synthetic', 'repository',
		       'project' || (i % 1000), 'repo' || (i % 10), 'repository:pull', now() - interval '1 hour' + i * interval '1 microsecond'
		FROM generate_series(1, $1::bigint) AS i`,
		args:          []any{n},
		beforeIndexes: "SET LOCAL maintenance_work_mem = '256MB'",
		analyze:       "VACUUM ANALYZE access_tokens",
	}.run(b, db, n)
}

// bulkLoad inserts synthetic rows with one statement, in one transaction
// on one connection, the secondary indexes dropped for the insert and built
// again after it (their definitions are read from the schema, not repeated
// here), and then updates the planner's statistics.
type bulkLoad struct {
	indexes       string // lists (name, definition) of the indexes to drop
	begin         string // starts the transaction
	insert        string // inserts the rows, with args
	args          []any
	beforeIndexes string // optional, run before the indexes are built again
	analyze       string // run after the commit
}

func (l bulkLoad) run(b testing.TB, db *sql.DB, n int) {
	if n <= 0 {
		return
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string, args ...any) {
		b.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	indexes := indexDefs(b, conn, l.indexes)
	exec(l.begin)
	for name := range indexes {
		exec("DROP INDEX " + name)
	}
	exec(l.insert, l.args...)
	if l.beforeIndexes != "" {
		exec(l.beforeIndexes)
	}
	for _, def := range indexes {
		exec(def)
	}
	exec("COMMIT")
	exec(l.analyze)
}

// indexDefs returns the definitions of the indexes q lists, by name.
func indexDefs(b testing.TB, conn *sql.Conn, q string) map[string]string {
	rows, err := conn.QueryContext(context.Background(), q)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	defs := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			b.Fatal(err)
		}
		defs[name] = def
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	if len(defs) != 5 {
		b.Fatalf("found indexes %v; want five: the digest (PostgreSQL) or ID (SQLite), target, owner, created and description indexes", defs)
	}
	return defs
}

// BenchmarkPage lists a page of 100 tokens, from the middle of the list of
// every token (an operator's page, keyset-paginated: After and Limit), in
// stores of 1,000 and 1,000,000 tokens, oldest first (the index read
// forwards) and newest first (the "-newest" cases: the same index read
// backwards). x-1k is the ratio of a page at 1,000,000 to a page at 1,000
// of the same backend and order, measured in pairs as BenchmarkVerify's
// ratios are; a page that read every token would cost about a thousand
// times more at 1,000,000.
func BenchmarkPage(b *testing.B) {
	for _, c := range []struct {
		name    string
		backend string
		n       int
		order   accesstoken.Order
	}{
		{"sqlite-1k", "sqlite", 1000, accesstoken.OldestFirst},
		{"sqlite-1M", "sqlite", 1_000_000, accesstoken.OldestFirst},
		{"sqlite-1k-newest", "sqlite", 1000, accesstoken.NewestFirst},
		{"sqlite-1M-newest", "sqlite", 1_000_000, accesstoken.NewestFirst},
		{"postgres-1k", "postgres", 1000, accesstoken.OldestFirst},
		{"postgres-1M", "postgres", 1_000_000, accesstoken.OldestFirst},
		{"postgres-1k-newest", "postgres", 1000, accesstoken.NewestFirst},
		{"postgres-1M-newest", "postgres", 1_000_000, accesstoken.NewestFirst},
	} {
		b.Run(c.name, func(b *testing.B) {
			page := pager(b, benchSetup(b, c.backend, c.n), c.order)
			page(0) // warm up
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				page(i)
				i++
			}
			b.StopTimer()
			if c.n == 1_000_000 && b.N >= 100 {
				b.ReportMetric(paired(page, pager(b, benchSetup(b, c.backend, 1000), c.order)), "x-1k")
			}
		})
	}
}

// pager returns a function that lists a page of 100 tokens of env's
// store, in order o, after the token in the middle of the list of every
// token.
func pager(b *testing.B, env *benchEnv, o accesstoken.Order) func(int) {
	ctx := context.Background()
	db := env.store.(*sqlstore.Store).DB()
	var total int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM access_tokens").Scan(&total); err != nil {
		b.Fatal(err)
	}
	q := "SELECT created_at FROM access_tokens ORDER BY created_at, id LIMIT 1 OFFSET ?"
	if env.store.(*sqlstore.Store).Dialect() == sqlstore.PostgreSQL {
		q = "SELECT created_at FROM access_tokens ORDER BY created_at, id LIMIT 1 OFFSET $1"
	}
	var mid any
	if err := db.QueryRowContext(ctx, q, total/2).Scan(&mid); err != nil {
		b.Fatal(err)
	}
	var after accesstoken.Position
	switch v := mid.(type) {
	case int64: // SQLite: Unix microseconds
		after.CreatedAt = time.UnixMicro(v)
	case time.Time:
		after.CreatedAt = v
	default:
		b.Fatalf("created_at scanned as %T", mid)
	}
	return func(int) {
		recs, err := env.store.List(ctx, accesstoken.Query{All: true, Order: o, After: after, Limit: 100})
		if err != nil || len(recs) != 100 {
			b.Fatalf("page: %d records, %v", len(recs), err)
		}
	}
}
