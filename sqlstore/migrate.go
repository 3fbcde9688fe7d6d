package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

//go:embed migrations
var migrationFS embed.FS

// migration is one versioned step of the schema, its statements already
// rendered for a table name.
type migration struct {
	version    int
	name       string
	statements []string
}

// migrations returns the dialect's migrations for the store's table, in
// version order.
func (s *Store) migrations() ([]migration, error) {
	dir := path.Join("migrations", string(s.dialect))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"table":      func() string { return s.table },
		"tablename":  func() string { return s.tableRef },
		"index":      func(n string) string { return s.indexName(n) },
		"constraint": func(n string) string { return s.name + "_" + n },
	}
	var out []migration
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".sql") {
			continue
		}
		v, err := strconv.Atoi(strings.SplitN(n, "_", 2)[0])
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: bad migration file name %q", n)
		}
		src, err := migrationFS.ReadFile(path.Join(dir, n))
		if err != nil {
			return nil, err
		}
		tmpl, err := template.New(n).Funcs(funcs).Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migration %s: %w", n, err)
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, nil); err != nil {
			return nil, fmt.Errorf("sqlstore: migration %s: %w", n, err)
		}
		out = append(out, migration{version: v, name: n, statements: splitStatements(b.String())})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out, nil
}

// splitStatements splits a migration at the semicolons that end a line and
// drops comment lines. The migrations are written so that this is enough.
func splitStatements(src string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(src) {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if t := strings.TrimSpace(cur.String()); t != "" {
		out = append(out, t)
	}
	return out
}

// SchemaVersion is the schema version that this version of the package
// migrates to.
const SchemaVersion = 2

// Migrate creates or upgrades the schema to [SchemaVersion]: it applies, in
// one transaction, every embedded migration not yet recorded in the
// migrations table (the table name with "_migrations" appended). It is
// idempotent, and safe to call from several processes at once: on
// PostgreSQL the transaction first takes a transaction-level advisory lock
// (pg_advisory_xact_lock) derived from the table name; on SQLite it is a
// BEGIN IMMEDIATE transaction, which takes the database's write lock before
// reading the migrations table. Call it once at start, before using the
// Store. A schema newer than this package knows is an error.
func (s *Store) Migrate(ctx context.Context) (err error) {
	ms, err := s.migrations()
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer conn.Close()

	if _, err := conn.ExecContext(ctx, s.dl.beginMigration()); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_, rbErr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			if rbErr != nil {
				// The connection's state is unknown; do not return it
				// to the pool.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			err = fmt.Errorf("sqlstore: migrate %s: %w", s.table, err)
		}
	}()
	if err := s.dl.lockMigrations(ctx, conn, "accesstoken/sqlstore migrate "+s.table); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+s.table+"_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at "+s.dl.appliedAtColumn()+")"); err != nil {
		return err
	}
	var current int
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM "+s.table+"_migrations").Scan(&current); err != nil {
		return err
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("schema version %d is newer than this package's %d", current, latest)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		for _, st := range m.statements {
			if _, err := conn.ExecContext(ctx, st); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
		}
		if _, err := conn.ExecContext(ctx, s.rebind("INSERT INTO "+s.table+"_migrations (version, name) VALUES (?, ?)"), m.version, m.name); err != nil {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	return nil
}

// Version returns the schema version recorded in the database, 0 if
// [Store.Migrate] never ran.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(version) FROM "+s.table+"_migrations").Scan(&v)
	if err != nil {
		if s.dl.isUndefinedTable(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return int(v.Int64), nil
}
