package drivertest_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/sqlstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

var demoRes = accesstoken.Resource{Project: "demo", Repository: "hello"}

// demoManager returns a Manager over s (allowing everything) and a
// pull token it issued for project demo.
func demoManager(t *testing.T, s *sqlstore.Store, opts ...accesstoken.Option) (*accesstoken.Manager, *accesstoken.Issued) {
	t.Helper()
	m, err := accesstoken.New(s, accesstoken.InsecureAllowAll(), opts...)
	require.NoError(t, err)
	iss, err := m.Issue(context.Background(), accesstoken.IssueRequest{
		Description: uuid.NewString(),
		Owner:       "alice", Target: accesstoken.ProjectTarget("demo"),
		Scopes: []accesstoken.Scope{accesstoken.ScopePull},
	})
	require.NoError(t, err)
	return m, iss
}

// requireStoreFailure checks that a verification failed closed.
func requireStoreFailure(t *testing.T, tok accesstoken.Token, err error, msgAndArgs ...any) {
	t.Helper()
	require.Zero(t, tok, msgAndArgs...)
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure, msgAndArgs...)
	require.True(t, accesstoken.Temporary(err))
}

// requireManagerDown checks that, with the database unreachable, every
// Manager call that needs the store fails closed with ErrStoreFailure, and
// that verifications (tries of them) give up within 30 seconds: the pools
// of these tests connect with a 2-second timeout, and the wide margin is
// for a loaded machine.
func requireManagerDown(t *testing.T, m *accesstoken.Manager, iss *accesstoken.Issued, tries int) {
	t.Helper()
	ctx := context.Background()
	for range tries {
		start := time.Now()
		tok, err := m.Verify(ctx, iss.Secret.Reveal(), demoRes, accesstoken.ScopePull)
		requireStoreFailure(t, tok, err)
		require.Less(t, time.Since(start), 30*time.Second)
	}
	_, err := m.Issue(ctx, accesstoken.IssueRequest{Description: uuid.NewString(), Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
	_, err = m.Rotate(ctx, "alice", iss.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
	_, err = m.Revoke(ctx, "alice", iss.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
	_, err = m.ListForOwner(ctx, "alice", accesstoken.ListOptions{})
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
}

func countRows(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM access_tokens").Scan(&n))
	return n
}

// TestClosedDB: every operation on a closed pool is a store failure.
func TestClosedDB(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := b.open(t)
		s := newStore(t, db, b.dialect)
		m, iss := demoManager(t, s)
		_, err := m.Verify(ctx, iss.Secret.Reveal(), demoRes, accesstoken.ScopePull)
		require.NoError(t, err)

		require.NoError(t, db.Close())
		requireManagerDown(t, m, iss, 1)
		_, err = s.TouchLastUsed(ctx, iss.Token.ID, time.Now(), time.Minute)
		require.Error(t, err)
		require.Error(t, s.Migrate(ctx))
	})
}

// faultyBackend is a backend opened through the fault driver, with a plain
// pool on the same database to look at what was stored.
type faultyBackend struct {
	name    string
	dialect sqlstore.Dialect
	open    func(t *testing.T) (faulty *sql.DB, f *faults, plain *sql.DB)
}

func faultyBackends(t *testing.T) []faultyBackend {
	return []faultyBackend{
		{"sqlite", sqlstore.SQLite, func(t *testing.T) (*sql.DB, *faults, *sql.DB) {
			dsn := sqliteDSN(filepath.Join(t.TempDir(), "tokens.db"))
			db, f, err := openFaulty("sqlite", dsn)
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			return db, f, openSQLiteDSN(t, dsn)
		}},
		{"postgres", sqlstore.PostgreSQL, func(t *testing.T) (*sql.DB, *faults, *sql.DB) {
			schema, open := pgSchema(t)
			db, f, err := openFaulty("pgx", urlWithSearchPath(postgresURL(t), schema))
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			return db, f, open(t)
		}},
	}
}

func urlWithSearchPath(u, schema string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "search_path=" + schema
}

// failOn returns a hook failing the calls of kind op whose statement
// contains substr.
func failOn(op, substr string) faultHook {
	return func(o, q string) error {
		if o == op && strings.Contains(q, substr) {
			return errInjected
		}
		return nil
	}
}

// TestInjectedFaults injects driver errors mid-query and mid-transaction:
// verification fails closed, and nothing is half-written.
func TestInjectedFaults(t *testing.T) {
	for _, fb := range faultyBackends(t) {
		t.Run(fb.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, f, plain := fb.open(t)
			s := newStore(t, db, fb.dialect)
			m, iss := demoManager(t, s, accesstoken.WithLastUsedInterval(0))
			secret := iss.Secret.Reveal()

			t.Run("verify", func(t *testing.T) {
				for _, h := range []struct {
					name string
					hook faultHook
				}{
					{"query", failOn("query", "digest = ")},
					{"row", failOn("next", "digest = ")},
					{"connect", failOn("prepare", "")},
				} {
					if h.name == "connect" {
						// Force new connections and statements.
						db.SetMaxIdleConns(0)
					}
					f.set(h.hook)
					for range 3 {
						tok, err := m.Verify(ctx, secret, demoRes, accesstoken.ScopePull)
						requireStoreFailure(t, tok, err, h.name)
						require.ErrorIs(t, err, errInjected, h.name)
					}
					f.set(nil)
					db.SetMaxIdleConns(2)
				}
				tok, err := m.Verify(ctx, secret, demoRes, accesstoken.ScopePull)
				require.NoError(t, err, "recovered")
				require.Equal(t, iss.Token.ID, tok.ID)
			})

			t.Run("touch failure does not fail the verification", func(t *testing.T) {
				f.set(failOn("exec", "SET last_used_at"))
				defer f.set(nil)
				_, err := m.Verify(ctx, secret, demoRes, accesstoken.ScopePull)
				require.NoError(t, err)
			})

			t.Run("issue", func(t *testing.T) {
				before := countRows(t, plain)
				for i, hook := range []faultHook{failOn("exec", "INSERT"), failOn("prepare", "INSERT")} {
					if i == 1 {
						// New connections, where the INSERT is prepared anew.
						db.SetMaxIdleConns(0)
					}
					f.set(hook)
					_, err := m.Issue(ctx, accesstoken.IssueRequest{Description: uuid.NewString(), Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
					f.set(nil)
					require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
				}
				db.SetMaxIdleConns(2)
				require.Equal(t, before, countRows(t, plain), "a failed issue stored nothing")
			})

			// A fault at every step of a rotation leaves the old token as
			// it was and no new one.
			t.Run("rotate", func(t *testing.T) {
				steps := []struct {
					name string
					hook faultHook
				}{
					{"begin", failOn("begin", "")},
					{"update", failOn("exec", "SET revoked_at")},
					{"insert after update", failOn("exec", "INSERT")},
					{"commit", failOn("commit", "")},
				}
				for _, st := range steps {
					before := countRows(t, plain)
					f.set(st.hook)
					_, err := m.Rotate(ctx, "alice", iss.Token.ID)
					f.set(nil)
					require.ErrorIs(t, err, accesstoken.ErrStoreFailure, st.name)
					require.Equal(t, before, countRows(t, plain), "%s: no new token", st.name)
					old, err := s.ByID(ctx, iss.Token.ID)
					require.NoError(t, err)
					require.True(t, old.RevokedAt.IsZero(), "%s: old token not revoked", st.name)
					require.Equal(t, [16]byte{}, [16]byte(old.ReplacedBy), st.name)
					_, err = m.Verify(ctx, secret, demoRes, accesstoken.ScopePull)
					require.NoError(t, err, "%s: old token still works", st.name)
				}
				// And without faults it rotates.
				next, err := m.Rotate(ctx, "alice", iss.Token.ID)
				require.NoError(t, err)
				_, err = m.Verify(ctx, secret, demoRes, accesstoken.ScopePull)
				require.ErrorIs(t, err, accesstoken.ErrRevoked)
				_, err = m.Verify(ctx, next.Secret.Reveal(), demoRes, accesstoken.ScopePull)
				require.NoError(t, err)
			})

			t.Run("list mid-rows", func(t *testing.T) {
				f.set(failOn("next", "ORDER BY"))
				defer f.set(nil)
				_, err := m.ListForOwner(ctx, "alice", accesstoken.ListOptions{IncludeInactive: true})
				require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
			})
		})
	}
}

// proxy is a TCP proxy to PostgreSQL that the test can cut, standing for a
// server that goes down and comes back.
type proxy struct {
	t       *testing.T
	backend string
	addr    string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func startProxy(t *testing.T, backend string) *proxy {
	p := &proxy{t: t, backend: backend}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

// stop refuses new connections and cuts the open ones.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restart listens again on the same address.
func (p *proxy) restart() {
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(p.t, err)
	p.serve(ln)
}

// TestPostgresDown cuts the connection to PostgreSQL under a running store
// (every connection dropped, new ones refused), as a server that stops: every
// verification fails closed, nothing is half-written, and the store works
// again once the server is back.
func TestPostgresDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(postgresURL(t))
	require.NoError(t, err)
	if cfg.Host == "" || strings.HasPrefix(cfg.Host, "/") {
		t.Skipf("%s is a unix socket; this test needs TCP", postgresEnv)
	}
	p := startProxy(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	schema, open := pgSchema(t)
	db := openPGConfig(t, schema, func(c *pgx.ConnConfig) {
		host, port, _ := net.SplitHostPort(p.addr)
		n, _ := strconv.Atoi(port)
		c.Host, c.Port, c.Fallbacks = host, uint16(n), nil
		c.ConnectTimeout = 2 * time.Second
	})
	plain := open(t)
	s := newStore(t, db, sqlstore.PostgreSQL)
	m, iss := demoManager(t, s)
	secret := iss.Secret.Reveal()
	_, err = m.Verify(ctx, secret, demoRes, accesstoken.ScopePull)
	require.NoError(t, err)

	// A query in flight when the server goes away.
	inFlight := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "SELECT pg_sleep(600)")
		inFlight <- err
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		var n int
		err := plain.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(600)'").Scan(&n)
		require.NoError(t, err)
		if n > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the query did not start on the server within a minute")
	}
	p.stop()
	require.Error(t, <-inFlight)

	before := countRows(t, plain)
	requireManagerDown(t, m, iss, 5)
	require.Equal(t, before, countRows(t, plain), "nothing written while down")

	p.restart()
	require.Eventually(t, func() bool {
		_, err := m.Verify(ctx, secret, demoRes, accesstoken.ScopePull)
		return err == nil
	}, 60*time.Second, 50*time.Millisecond, "verification works again once the server is back")
	old, err := s.ByID(ctx, iss.Token.ID)
	require.NoError(t, err)
	require.True(t, old.RevokedAt.IsZero())
}

// TestPostgresBackendsTerminated kills the server processes of the pool's
// connections (pg_terminate_backend, as a failover or an administrator
// does): a verification either fails closed or succeeds on a new
// connection, never anything else.
func TestPostgresBackendsTerminated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema, open := pgSchema(t)
	app := randomName("app")
	db := openPGConfig(t, schema, func(c *pgx.ConnConfig) { c.RuntimeParams["application_name"] = app })
	s := newStore(t, db, sqlstore.PostgreSQL)
	m, iss := demoManager(t, s)
	killer := open(t)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, err := m.Verify(ctx, iss.Secret.Reveal(), demoRes, accesstoken.ScopePull)
				if err != nil && !errors.Is(err, accesstoken.ErrStoreFailure) {
					t.Errorf("Verify: %v; want success or a store failure", err)
				}
				if err == nil && tok.ID != iss.Token.ID {
					t.Errorf("Verify returned token %s; want %s", tok.ID, iss.Token.ID)
				}
			}
		})
	}
	for range 5 {
		time.Sleep(20 * time.Millisecond)
		_, err := killer.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app)
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
	// A connection killed while idle in the pool fails the one verification
	// that picks it up (pgx pings a connection idle for over a second
	// before reuse); the next ones get new connections.
	require.Eventually(t, func() bool {
		_, err := m.Verify(ctx, iss.Secret.Reveal(), demoRes, accesstoken.ScopePull)
		return err == nil
	}, 60*time.Second, 10*time.Millisecond)
}

// TestClosedStore: a closed Store fails every call, closed.
func TestClosedStore(t *testing.T) {
	ctx := context.Background()
	db := openSQLiteFile(t)
	s := newStore(t, db, sqlstore.SQLite)
	m, iss := demoManager(t, s)
	require.NoError(t, s.Close())
	tok, err := m.Verify(ctx, iss.Secret.Reveal(), demoRes, accesstoken.ScopePull)
	requireStoreFailure(t, tok, err)
	_, err = s.List(ctx, accesstoken.Query{Owner: "alice"})
	require.Error(t, err)
	require.NoError(t, db.Ping(), "the pool is the caller's: Close leaves it open")
}
