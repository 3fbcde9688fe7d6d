package accesstoken_test

import (
	"bytes"
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

// FuzzListOptions: any cursor, limit and order give a page or an error
// matching ErrBadListOptions, never a panic; a page is in the order asked
// (an unknown order is refused); a page's own cursor is always accepted
// with its order, goes on past the page's last token, and is refused with
// the other order.
func FuzzListOptions(f *testing.F) {
	e := newEnv(f)
	for range 3 {
		issue(f, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	}
	for _, o := range []accesstoken.Order{accesstoken.OldestFirst, accesstoken.NewestFirst} {
		p, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Limit: 1, Order: o})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p.Next, 1, uint8(o))
		f.Add(p.Next, 1, uint8(1-o)) // the cursor of the other order
	}
	f.Add("", 0, uint8(0))
	f.Add("", 2, uint8(1))
	f.Add("", 0, uint8(2))
	f.Add("AQ", -1, uint8(0))
	f.Add(strings.Repeat("_", 34), 1001, uint8(1))
	f.Add(strings.Repeat("A", 34), 2, uint8(0))
	f.Add("Ag"+strings.Repeat("A", 32), 2, uint8(1))
	f.Fuzz(func(t *testing.T, cursor string, limit int, order uint8) {
		o := accesstoken.Order(order)
		opts := accesstoken.ListOptions{Cursor: cursor, Limit: limit, Order: o}
		p, err := e.m.PageForOwner(ctx, "alice", opts)
		if err != nil {
			if !errors.Is(err, accesstoken.ErrBadListOptions) || !errors.Is(err, accesstoken.ErrInvalidInput) {
				t.Fatalf("PageForOwner(%q, %d, %v): %v; want ErrBadListOptions", cursor, limit, o, err)
			}
			return
		}
		if o != accesstoken.OldestFirst && o != accesstoken.NewestFirst {
			t.Fatalf("PageForOwner(%q, %d, %v): accepted an unknown order", cursor, limit, o)
		}
		for i := 1; i < len(p.Tokens); i++ {
			if !inOrder(p.Tokens[i-1], p.Tokens[i], o) {
				t.Fatalf("PageForOwner(%q, %d, %v): tokens %d and %d out of order", cursor, limit, o, i-1, i)
			}
		}
		if p.Next == "" {
			return
		}
		opts.Cursor = p.Next
		next, err := e.m.PageForOwner(ctx, "alice", opts)
		if err != nil {
			t.Fatalf("the next page's cursor %q: %v", p.Next, err)
		}
		if len(next.Tokens) == 0 || !inOrder(p.Tokens[len(p.Tokens)-1], next.Tokens[0], o) {
			t.Fatalf("the next page (cursor %q, %v) does not go on after the last token of the page", p.Next, o)
		}
		opts.Order = 1 - o
		if _, err := e.m.PageForOwner(ctx, "alice", opts); !errors.Is(err, accesstoken.ErrBadListOptions) {
			t.Fatalf("the next page's cursor %q (%v) used %v: %v; want ErrBadListOptions", p.Next, o, opts.Order, err)
		}
	})
}

// inOrder reports whether a comes before b in a listing of order o.
func inOrder(a, b accesstoken.Token, o accesstoken.Order) bool {
	c := a.CreatedAt.Compare(b.CreatedAt)
	if c == 0 {
		c = bytes.Compare(a.ID[:], b.ID[:])
	}
	if o == accesstoken.NewestFirst {
		return c > 0
	}
	return c < 0
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
