package sqlstore_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken/sqlstore"
	"github.com/stretchr/testify/require"
)

// TestSchemaDoc checks that the schemas shown in the package documentation
// are the statements of every migration, in order, for the default table
// name, comments and spacing aside.
func TestSchemaDoc(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	// The code blocks of the doc comment that create the table, with the
	// statements after it.
	var blocks []string
	var cur strings.Builder
	for line := range strings.Lines(string(doc)) {
		code, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			if cur.Len() > 0 {
				blocks = append(blocks, cur.String())
				cur.Reset()
			}
			continue
		}
		if cur.Len() > 0 || strings.HasPrefix(code, "CREATE TABLE") {
			cur.WriteString(code)
		}
	}
	require.Len(t, blocks, 2, "the PostgreSQL and the SQLite schema")

	placeholder := regexp.MustCompile(`\{\{(table|tablename)\}\}|\{\{(index|constraint) "([a-z_]+)"\}\}`)
	for i, dialect := range []string{"postgres", "sqlite"} {
		files, err := filepath.Glob("migrations/" + dialect + "/*.sql")
		require.NoError(t, err)
		require.Len(t, files, sqlstore.SchemaVersion)
		sort.Strings(files)
		var src strings.Builder
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			src.Write(b)
		}
		want := placeholder.ReplaceAllStringFunc(src.String(), func(p string) string {
			m := placeholder.FindStringSubmatch(p)
			if m[3] != "" {
				return "access_tokens_" + m[3]
			}
			return "access_tokens"
		})
		require.Equal(t, normalizeSQL(want), normalizeSQL(blocks[i]), "the %s schema in doc.go", dialect)
	}
}

// normalizeSQL drops -- comments and collapses white space.
func normalizeSQL(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		line, _, _ = strings.Cut(line, "--")
		b.WriteString(line)
		b.WriteByte(' ')
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
