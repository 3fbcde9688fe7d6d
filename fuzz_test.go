package accesstoken_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

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
	s, _ := accesstoken.DefaultFormat().Generate()
	f.Add(s.Reveal())
	f.Add("x" + s.Reveal() + " " + s.Reveal())
	m := newManager(f)
	valid := issue(f, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Secret.Reveal()
	f.Add(valid)
	f.Fuzz(func(t *testing.T, in string) {
		format := accesstoken.DefaultFormat()
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
		err := accesstoken.DefaultFormat().Check("gat_" + body)
		if got := !errors.Is(err, accesstoken.ErrMalformed) || !strings.Contains(err.Error(), "alphabet"); got != plain {
			t.Fatalf("Check(gat_%q) = %v; alphabet OK is %v", body, err, plain)
		}
	})
}

// FuzzListOptions: any cursor and limit give a page or an error matching
// ErrBadListOptions, never a panic; a page's own cursor is always
// accepted.
func FuzzListOptions(f *testing.F) {
	e := newEnv(f)
	for range 3 {
		issue(f, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	}
	p, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Limit: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p.Next, 1)
	f.Add("", 0)
	f.Add("AQ", -1)
	f.Add(strings.Repeat("_", 34), 1001)
	f.Add(strings.Repeat("A", 34), 2)
	f.Fuzz(func(t *testing.T, cursor string, limit int) {
		p, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Cursor: cursor, Limit: limit})
		if err != nil {
			if !errors.Is(err, accesstoken.ErrBadListOptions) {
				t.Fatalf("PageForOwner(%q, %d): %v; want ErrBadListOptions", cursor, limit, err)
			}
			return
		}
		if p.Next != "" {
			if _, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Cursor: p.Next, Limit: limit}); err != nil {
				t.Fatalf("the next page's cursor %q: %v", p.Next, err)
			}
		}
	})
}

// FuzzDescription: a description is accepted or refused with
// ErrBadDescription (or ErrDuplicateDescription), never a panic, and an
// accepted one holds nothing invisible or misleading.
func FuzzDescription(f *testing.F) {
	e := newEnv(f)
	for _, s := range []string{"CI", "déploiement ✓", "a\u202eb", "\u200b", " x", "❤️", "a\u00adb", strings.Repeat("é", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, desc string) {
		iss, err := e.m.Issue(ctx, accesstoken.IssueRequest{Owner: "alice", Description: desc, Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
		if err != nil {
			if !errors.Is(err, accesstoken.ErrBadDescription) && !errors.Is(err, accesstoken.ErrDuplicateDescription) {
				t.Fatalf("Issue(%q): %v; want ErrBadDescription or ErrDuplicateDescription", desc, err)
			}
			return
		}
		if desc == "" || strings.TrimSpace(desc) != desc || !utf8.ValidString(desc) || utf8.RuneCountInString(desc) > accesstoken.MaxDescriptionLen {
			t.Fatalf("Issue accepted %q", desc)
		}
		for _, r := range desc {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.In(r, unicode.Zl, unicode.Zp) {
				t.Fatalf("Issue accepted %q, with U+%04X", desc, r)
			}
		}
		if _, err := e.m.Revoke(ctx, "alice", iss.Token.ID); err != nil { // free the description again
			t.Fatal(err)
		}
	})
}
