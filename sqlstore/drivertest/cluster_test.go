package drivertest_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/sqlstore"
	"github.com/stretchr/testify/require"
)

// cluster is a private PostgreSQL cluster that a test may stop and start:
// the shared server of scripts/test.sh must stay up for the other tests.
type cluster struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	asPG []string // runs a command as the postgres user when we are root
}

// pgBinDir finds initdb and pg_ctl as scripts/test.sh does.
func pgBinDir() (string, bool) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), true
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for _, d := range append([]string{"/usr/lib/postgresql/15/bin"}, dirs...) {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, true
		}
	}
	return "", false
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	postgresURL(t) // skips, or fails under CI, like every PostgreSQL test
	bin, ok := pgBinDir()
	if !ok {
		if os.Getenv("CI") == "true" {
			t.Fatal("initdb and pg_ctl not found")
		}
		t.Skip("initdb and pg_ctl not found: skipping the test that stops a cluster")
	}
	c := &cluster{t: t, bin: bin}
	dir, err := os.MkdirTemp("/tmp", "sqlstore-cluster")
	require.NoError(t, err)
	c.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Getuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root without a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(dir, uid, gid))
		c.asPG = []string{"runuser", "-u", "postgres", "--"}
	}
	c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C")
	c.port = freePort(t)
	c.start()
	t.Cleanup(func() { c.stop("immediate") })
	return c
}

func (c *cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *cluster) run(name string, args ...string) {
	c.t.Helper()
	argv := append(append([]string{}, c.asPG...), append([]string{filepath.Join(c.bin, name)}, args...)...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	require.NoError(c.t, err, "%s: %s", name, out)
}

func (c *cluster) start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "30",
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=20", c.port, c.dir),
		"start")
}

func (c *cluster) stop(mode string) {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err != nil {
		return
	}
	argv := append(append([]string{}, c.asPG...), filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-m", mode, "-w", "stop")
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		c.t.Errorf("pg_ctl stop: %v: %s", err, out)
	}
}

func (c *cluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", c.port)
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestPostgresClusterStopped stops the PostgreSQL server under a running
// store, with pg_ctl, and starts it again: while it is down every
// verification fails closed and nothing is written; once it is back the
// same Store works again.
func TestPostgresClusterStopped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCluster(t)
	db := openPGURL(t, c.url())
	s := newStore(t, db, sqlstore.PostgreSQL)
	m, iss := demoManager(t, s)
	secret := iss.Secret.Reveal()
	_, err := m.Verify(ctx, secret, demoRes, accesstoken.ScopePull)
	require.NoError(t, err)

	c.stop("fast")
	requireManagerDown(t, m, iss, 3)

	c.start()
	require.Eventually(t, func() bool {
		_, err := m.Verify(ctx, secret, demoRes, accesstoken.ScopePull)
		return err == nil
	}, 60*time.Second, 50*time.Millisecond, "verification works again once the server is back")
	require.Equal(t, 1, countRows(t, db), "nothing was written while the server was down")
	old, err := s.ByID(ctx, iss.Token.ID)
	require.NoError(t, err)
	require.True(t, old.RevokedAt.IsZero())
}
