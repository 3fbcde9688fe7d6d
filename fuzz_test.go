package accesstoken_test

import (
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
)

// FuzzCheck feeds arbitrary strings to the token parser and scanner. The
// seed corpus is in testdata/fuzz/FuzzCheck; run
//
//	go test -run='^$' -fuzz=FuzzCheck .
//
// to search further.
func FuzzCheck(f *testing.F) {
	good := "gat_0000000000000000000000000000000000000000000" // wrong checksum
	f.Add(good)
	f.Add("")
	f.Add("gat_")
	f.Add(strings.Repeat("gat_", 20))
	s, _ := accesstoken.DefaultFormat.Generate()
	f.Add(s.Reveal())
	f.Add("x" + s.Reveal() + " " + s.Reveal())
	m := newManager(f)
	valid := issue(f, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Secret.Reveal()
	f.Add(valid)
	f.Fuzz(func(t *testing.T, in string) {
		format := accesstoken.DefaultFormat
		err := format.Check(in)
		if err == nil {
			if len(in) != format.Len() || !strings.HasPrefix(in, "gat_") {
				t.Fatalf("Check accepted %q", in)
			}
			if got := format.FindAll(in); len(got) != 1 || got[0] != in {
				t.Fatalf("FindAll(%q) = %q; want the token itself", in, got)
			}
		}
		for _, tok := range format.FindAll(in) {
			if format.Check(tok) != nil || !strings.Contains(in, tok) {
				t.Fatalf("FindAll(%q) returned %q, not a token in the text", in, tok)
			}
		}
		if err != nil && strings.Contains(err.Error(), in) && len(in) > 4 {
			t.Fatalf("error %q quotes the input", err)
		}
		tok, err := m.Verify(ctx, in, hello, accesstoken.ScopePull)
		if (err == nil) != (in == valid) || (err == nil && tok == nil) {
			t.Fatalf("Verify(%q) = %v, %v", in, tok, err)
		}
	})
}
