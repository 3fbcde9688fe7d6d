package drivertest_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
)

// errInjected is the error the fault driver injects.
var errInjected = errors.New("injected fault")

// faultHook decides whether a driver call fails: op is "begin", "prepare",
// "exec", "query", "next" (reading a row) or "commit"; query is the
// statement, empty for begin and commit. A nil error lets the call through.
type faultHook func(op, query string) error

// faults is a database/sql driver that wraps a real one and fails calls on
// demand, mid-query and mid-transaction included. It is opened through a
// driver.Connector (sql.OpenDB), which is database/sql's way of registering
// a driver for one pool.
type faults struct {
	inner driver.Driver
	dsn   string

	mu   sync.Mutex
	hook faultHook
}

func (f *faults) set(h faultHook) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

func (f *faults) check(op, query string) error {
	f.mu.Lock()
	h := f.hook
	f.mu.Unlock()
	if h == nil {
		return nil
	}
	return h(op, query)
}

// Connect implements driver.Connector.
func (f *faults) Connect(ctx context.Context) (driver.Conn, error) {
	var c driver.Conn
	var err error
	if dc, ok := f.inner.(driver.DriverContext); ok {
		var conn driver.Connector
		if conn, err = dc.OpenConnector(f.dsn); err != nil {
			return nil, err
		}
		c, err = conn.Connect(ctx)
	} else {
		c, err = f.inner.Open(f.dsn)
	}
	if err != nil {
		return nil, err
	}
	return &faultConn{f: f, inner: c}, nil
}

// Driver implements driver.Connector.
func (f *faults) Driver() driver.Driver { return f.inner }

// openFaulty opens a pool whose connections go through a fault driver
// wrapping the driver registered as name.
func openFaulty(name, dsn string) (*sql.DB, *faults, error) {
	probe, err := sql.Open(name, dsn)
	if err != nil {
		return nil, nil, err
	}
	inner := probe.Driver()
	probe.Close()
	f := &faults{inner: inner, dsn: dsn}
	return sql.OpenDB(f), f, nil
}

// faultConn does not implement driver.ExecerContext or QueryerContext, so
// every statement goes through PrepareContext and a faultStmt.
type faultConn struct {
	f     *faults
	inner driver.Conn
}

func (c *faultConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *faultConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.f.check("prepare", query); err != nil {
		return nil, err
	}
	var s driver.Stmt
	var err error
	if pc, ok := c.inner.(driver.ConnPrepareContext); ok {
		s, err = pc.PrepareContext(ctx, query)
	} else {
		s, err = c.inner.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &faultStmt{c: c, inner: s, query: query}, nil
}

func (c *faultConn) Close() error { return c.inner.Close() }

func (c *faultConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *faultConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.f.check("begin", ""); err != nil {
		return nil, err
	}
	var tx driver.Tx
	var err error
	if bc, ok := c.inner.(driver.ConnBeginTx); ok {
		tx, err = bc.BeginTx(ctx, opts)
	} else {
		tx, err = c.inner.Begin() //nolint:staticcheck // the fallback of database/sql itself
	}
	if err != nil {
		return nil, err
	}
	return &faultTx{c: c, inner: tx}, nil
}

func (c *faultConn) CheckNamedValue(nv *driver.NamedValue) error {
	if nc, ok := c.inner.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *faultConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *faultConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

type faultTx struct {
	c     *faultConn
	inner driver.Tx
}

// Commit fails, when told to, after rolling the real transaction back, as
// a commit that fails in the database does.
func (t *faultTx) Commit() error {
	if err := t.c.f.check("commit", ""); err != nil {
		_ = t.inner.Rollback()
		return err
	}
	return t.inner.Commit()
}

func (t *faultTx) Rollback() error { return t.inner.Rollback() }

type faultStmt struct {
	c     *faultConn
	inner driver.Stmt
	query string
}

func (s *faultStmt) Close() error  { return s.inner.Close() }
func (s *faultStmt) NumInput() int { return s.inner.NumInput() }

func (s *faultStmt) Exec(args []driver.Value) (driver.Result, error) {
	return nil, errors.New("faultStmt: Exec without context is not supported")
}

func (s *faultStmt) Query(args []driver.Value) (driver.Rows, error) {
	return nil, errors.New("faultStmt: Query without context is not supported")
}

func (s *faultStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.c.f.check("exec", s.query); err != nil {
		return nil, err
	}
	ec, ok := s.inner.(driver.StmtExecContext)
	if !ok {
		return nil, fmt.Errorf("faultStmt: %T has no ExecContext", s.inner)
	}
	return ec.ExecContext(ctx, args)
}

func (s *faultStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.c.f.check("query", s.query); err != nil {
		return nil, err
	}
	qc, ok := s.inner.(driver.StmtQueryContext)
	if !ok {
		return nil, fmt.Errorf("faultStmt: %T has no QueryContext", s.inner)
	}
	rows, err := qc.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	return &faultRows{s: s, inner: rows}, nil
}

func (s *faultStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if nc, ok := s.inner.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(nv)
	}
	return s.c.CheckNamedValue(nv)
}

type faultRows struct {
	s     *faultStmt
	inner driver.Rows
}

func (r *faultRows) Columns() []string { return r.inner.Columns() }
func (r *faultRows) Close() error      { return r.inner.Close() }

func (r *faultRows) Next(dest []driver.Value) error {
	if err := r.s.c.f.check("next", r.s.query); err != nil {
		return err
	}
	return r.inner.Next(dest)
}
