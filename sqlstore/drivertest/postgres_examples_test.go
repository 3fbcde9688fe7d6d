package drivertest_test

import (
	"io"
	"os"
	"testing"
)

// TestPostgresExamples runs the PostgreSQL examples, which cannot run as
// examples (they need the server), against the test server, each in a
// schema of its own, and checks what they print.
func TestPostgresExamples(t *testing.T) {
	for _, ex := range []struct {
		name string
		f    func()
		want string
	}{
		{"postgreSQL", Example_postgreSQL, "alice <nil>\nschema version 2\n"},
		{"pgxPool", Example_pgxPool, "1 token stored in auth.access_tokens; verified: <nil>\n"},
	} {
		t.Run(ex.name, func(t *testing.T) {
			schema, _ := pgSchema(t)
			t.Setenv("DATABASE_URL", urlWithSearchPath(postgresURL(t), schema))
			if ex.name == "pgxPool" {
				t.Cleanup(func() { admin(t).Exec("DROP SCHEMA IF EXISTS auth CASCADE") })
			}
			if got := captureStdout(t, ex.f); got != ex.want {
				t.Fatalf("Example_%s printed %q; want %q", ex.name, got, ex.want)
			}
		})
	}
}

// captureStdout returns what f prints on os.Stdout.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() { os.Stdout = stdout }()
	f()
	w.Close()
	os.Stdout = stdout
	return <-done
}
