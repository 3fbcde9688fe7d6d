package accesstoken_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
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
		if (err == nil) != (in == valid) || (err == nil && tok.ID == uuid.Nil) {
			t.Fatalf("Verify(%q) = %v, %v", in, tok, err)
		}
	})
}

// FuzzBase62Only compares the word-at-a-time alphabet check with a plain
// one, through Check: a string of the right length and prefix is rejected
// for its alphabet exactly when it has a byte outside [0-9A-Za-z].
func FuzzBase62Only(f *testing.F) {
	f.Add(strings.Repeat("a", 49))
	f.Add(strings.Repeat("z", 48) + "{")
	f.Add("09AZaz/:@[`{" + strings.Repeat("0", 37))
	f.Add(strings.Repeat("\x80", 49))
	f.Fuzz(func(t *testing.T, body string) {
		if len(body) != 49 {
			return
		}
		plain := true
		for i := 0; i < len(body); i++ {
			c := body[i]
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				plain = false
			}
		}
		err := accesstoken.DefaultFormat.Check("gat_" + body)
		if got := !errors.Is(err, accesstoken.ErrMalformed) || !strings.Contains(err.Error(), "alphabet"); got != plain {
			t.Fatalf("Check(gat_%q) = %v; alphabet OK is %v", body, err, plain)
		}
	})
}
