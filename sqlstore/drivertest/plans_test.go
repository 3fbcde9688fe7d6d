package drivertest_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/sqlstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// listShape is one kind of list the Manager asks a Store for, and the
// index its pages must be ranges of.
type listShape struct {
	name   string
	q      accesstoken.Query
	index  string // access_tokens_<index>
	ranges int    // ranges of it in one page (two for Covering)
}

// listShapes are the lists of TestListPlans: by owner, by target, of a
// repository with its project's tokens, of every token, with filters, in
// both orders, the first page and a page after a position.
func listShapes() []listShape {
	repo, project := accesstoken.RepositoryTarget("p", "r"), accesstoken.ProjectTarget("p")
	after := accesstoken.Position{CreatedAt: t0, ID: uuid.New()}
	var out []listShape
	for _, order := range []accesstoken.Order{accesstoken.OldestFirst, accesstoken.NewestFirst} {
		for _, s := range []listShape{
			{name: "owner", q: accesstoken.Query{Owner: "o"}, index: "owner", ranges: 1},
			{name: "owner, active", q: accesstoken.Query{Owner: "o", Active: t0}, index: "owner", ranges: 1},
			{name: "every token", q: accesstoken.Query{All: true}, index: "created", ranges: 1},
			{name: "every token, inactive, expiring", q: accesstoken.Query{All: true, Inactive: t0, ExpiringBefore: t0}, index: "created", ranges: 1},
			{name: "repository", q: accesstoken.Query{Target: &repo}, index: "target", ranges: 1},
			{name: "project", q: accesstoken.Query{Target: &project}, index: "target", ranges: 1},
			{name: "repository and its project's tokens", q: accesstoken.Query{Target: &repo, Covering: true, Active: t0}, index: "target", ranges: 2},
		} {
			for _, page := range []string{"first page", "after a position"} {
				s := s
				s.name = fmt.Sprintf("%s, %v, %s", s.name, order, page)
				s.q.Order, s.q.Limit = order, accesstoken.DefaultPageSize+1
				if page != "first page" {
					s.q.After = after
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// TestListPlans: every page the Manager asks for, in either order, is read
// from a range of an index in the order asked, forwards or backwards:
// never sorted, never a scan of the table. It explains the SELECT the
// store itself runs (recorded through the fault driver), not a copy of it.
func TestListPlans(t *testing.T) {
	for _, b := range faultyBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			faulty, f, plain := b.open(t)
			s := newStore(t, faulty, b.dialect)
			var mu sync.Mutex
			var last string
			f.set(func(op, q string) error {
				if op == "query" && strings.HasPrefix(q, "SELECT") {
					mu.Lock()
					last = q
					mu.Unlock()
				}
				return nil
			})
			conn, err := plain.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			if b.dialect == sqlstore.PostgreSQL {
				// On an empty table the planner prefers anything: take
				// away the scans that are not index scans, and sorting, so
				// that a plan shows whether an index gives the rows in the
				// order asked.
				for _, set := range []string{"SET enable_seqscan = off", "SET enable_bitmapscan = off", "SET enable_sort = off"} {
					_, err := conn.ExecContext(ctx, set)
					require.NoError(t, err)
				}
			}
			for _, c := range listShapes() {
				_, err := s.List(ctx, c.q)
				require.NoError(t, err, c.name)
				mu.Lock()
				q := last
				mu.Unlock()
				require.NotEmpty(t, q, "%s: no SELECT recorded", c.name)
				index := "access_tokens_" + c.index
				if b.dialect == sqlstore.SQLite {
					plan := explainSQLite(t, conn, q)
					t.Logf("%s:\n%s", c.name, plan)
					uses := regexp.MustCompile(`USING INDEX ` + index + `\b`)
					require.Len(t, uses.FindAllString(plan, -1), c.ranges, "%s: %s\n%s", c.name, q, plan)
					// No range is sorted. (The merge of two ranges sorts
					// what each gives, at most Limit rows: SQLite does not
					// take a subquery's ORDER BY as the order of its rows.)
					lines := strings.Split(plan, "\n")
					for i, l := range lines {
						merged := i > 0 && (lines[i-1] == "SCAN own_tokens" || lines[i-1] == "SCAN project_tokens")
						require.False(t, strings.Contains(l, "TEMP B-TREE") && !merged, "%s: a page sorts: %s\n%s", c.name, q, plan)
					}
					continue
				}
				plan := explainPostgres(t, conn, q)
				t.Logf("%s:\n%s", c.name, plan)
				scan := "Index Scan using " + index + " "
				if c.q.Order == accesstoken.NewestFirst {
					scan = "Index Scan Backward using " + index + " "
				}
				require.Equal(t, c.ranges, strings.Count(plan, scan), "%s: %s\n%s", c.name, q, plan)
				// A Merge Append's "Sort Key" is the order it merges
				// ordered ranges in; a "Sort  (" node would sort.
				for _, bad := range []string{"Sort  (", "Seq Scan"} {
					require.NotContains(t, plan, bad, "%s: %s\n%s", c.name, q, plan)
				}
			}
		})
	}
}

// explainSQLite returns the plan of q, one detail a line; its parameters
// are NULL (the plan does not depend on them).
func explainSQLite(t *testing.T, conn *sql.Conn, q string) string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, make([]any, strings.Count(q, "?"))...)
	require.NoError(t, err)
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan.WriteString(detail + "\n")
	}
	require.NoError(t, rows.Err())
	return plan.String()
}

// explainPostgres returns the plan of q, prepared as it is (PostgreSQL
// infers its parameters' types) and executed with a value of each type.
func explainPostgres(t *testing.T, conn *sql.Conn, q string) string {
	t.Helper()
	ctx := context.Background()
	_, err := conn.ExecContext(ctx, "PREPARE list_plan AS "+q)
	require.NoError(t, err, q)
	defer conn.ExecContext(ctx, "DEALLOCATE list_plan")
	rows, err := conn.QueryContext(ctx, "SELECT unnest(parameter_types)::text FROM pg_prepared_statements WHERE name = 'list_plan'")
	require.NoError(t, err)
	var args []string
	for rows.Next() {
		var typ string
		require.NoError(t, rows.Scan(&typ))
		v, ok := map[string]string{
			"text":                     "'o'",
			"timestamp with time zone": "now()",
			"uuid":                     "'00000000-0000-4000-8000-000000000000'",
			"bigint":                   "101",
			"integer":                  "101",
		}[typ]
		require.True(t, ok, "a parameter of type %s in %s", typ, q)
		args = append(args, v)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	rows, err = conn.QueryContext(ctx, "EXPLAIN EXECUTE list_plan("+strings.Join(args, ", ")+")")
	require.NoError(t, err)
	return planText(t, rows)
}

// planText reads the lines of an EXPLAIN, one per row, and closes rows.
func planText(t *testing.T, rows *sql.Rows) string {
	t.Helper()
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan.WriteString(line + "\n")
	}
	require.NoError(t, rows.Err())
	return plan.String()
}
