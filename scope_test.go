package accesstoken_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/forgekit/accesstoken"
	"github.com/stretchr/testify/require"
)

func TestScopeSet(t *testing.T) {
	pull, push, build := accesstoken.ScopePull, accesstoken.ScopePush, accesstoken.ScopeBuildStatus

	var zero accesstoken.ScopeSet
	require.Zero(t, zero.Len())
	require.Empty(t, zero.List())
	require.Equal(t, "", zero.String())
	require.False(t, zero.Has(pull))
	require.Equal(t, zero, accesstoken.NewScopeSet())
	require.Equal(t, zero, accesstoken.ParseScopeSet(" \t\n"))

	s := accesstoken.NewScopeSet(push, pull, push, "", pull)
	require.Equal(t, "repository:push repository:pull", s.String(), "order kept, repeats and empty names dropped")
	require.Equal(t, 2, s.Len())
	require.Equal(t, []accesstoken.Scope{push, pull}, s.List())
	require.True(t, s.Has(pull))
	require.True(t, s.Has(push))
	for _, no := range []accesstoken.Scope{build, "", "repository:pul", "repository:pushy", "repository", "repository:push repository:pull", " ", "push"} {
		require.False(t, s.Has(no), "Has(%q)", no)
	}
	require.NotEqual(t, s, accesstoken.NewScopeSet(pull, push), "order is part of the value")
	require.Equal(t, s, accesstoken.NewScopeSet(push, pull))

	// A name with white space in it is two names.
	require.Equal(t, accesstoken.NewScopeSet(pull, push), accesstoken.NewScopeSet("repository:pull\trepository:push"))

	// List returns a new slice each time: changing it changes nothing.
	l := s.List()
	l[0] = build
	require.Equal(t, []accesstoken.Scope{push, pull}, s.List())

	var seen []accesstoken.Scope
	for sc := range s.All() {
		seen = append(seen, sc)
		break
	}
	require.Equal(t, []accesstoken.Scope{push}, seen, "All stops when asked")
}

func TestValidScopeName(t *testing.T) {
	for _, s := range []string{"repository:pull", "lfs:write", "a:b", "repo_2:x_y"} {
		require.True(t, accesstoken.ValidScopeName(s), s)
	}
	for _, s := range []string{"", ":", "pull", "a:", ":b", "A:b", "a:b:c", "a :b", "1a:b", "a:" + strings.Repeat("b", 70)} {
		require.False(t, accesstoken.ValidScopeName(s), s)
	}
}

// TestOneSplittingRule: ParseScopes, NewScopeSet and ParseScopeSet split
// text at the same places, commas and any Unicode white space, and
// nowhere else.
func TestOneSplittingRule(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want []accesstoken.Scope
	}{
		{"comma and space", "repository:pull, repository:push", []accesstoken.Scope{"repository:pull", "repository:push"}},
		{"comma", "a:b,c:d", []accesstoken.Scope{"a:b", "c:d"}},
		{"tab and newline", "a:b\tc:d\n", []accesstoken.Scope{"a:b", "c:d"}},
		{"no-break space", "a:b\u00a0c:d", []accesstoken.Scope{"a:b", "c:d"}},
		{"ideographic space", "a:b\u3000c:d", []accesstoken.Scope{"a:b", "c:d"}},
		{"next line", "\u0085a:b", []accesstoken.Scope{"a:b"}},
		{"empty names", ", ,a:b,,", []accesstoken.Scope{"a:b"}},
		{"other punctuation", "a:b;c:d|e:f", []accesstoken.Scope{"a:b;c:d|e:f"}},
		{"nothing", " \t,", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := accesstoken.ParseScopes(c.in); !slices.Equal(got, c.want) {
				t.Errorf("ParseScopes(%q) = %q; want %q", c.in, got, c.want)
			}
			want := accesstoken.NewScopeSet(c.want...)
			if got := accesstoken.NewScopeSet(accesstoken.Scope(c.in)); got != want {
				t.Errorf("NewScopeSet(%q) = %q; want %q", c.in, got, want)
			}
			if got := accesstoken.ParseScopeSet(c.in); got != want {
				t.Errorf("ParseScopeSet(%q) = %q; want %q", c.in, got, want)
			}
		})
	}
}

func TestParseScopeSet(t *testing.T) {
	for in, want := range map[string]string{
		"":                                       "",
		"repository:pull":                        "repository:pull",
		"repository:pull repository:push":        "repository:pull repository:push",
		"  repository:pull\t\trepository:push\n": "repository:pull repository:push",
		"a:b a:b c:d a:b":                        "a:b c:d",
		"a:b  c:d":                               "a:b c:d",
		"a:b\u00a0c:d":                           "a:b c:d",
		"a:b,c:d, a:b":                           "a:b c:d",
	} {
		got := accesstoken.ParseScopeSet(in)
		require.Equal(t, want, got.String(), "ParseScopeSet(%q)", in)
		require.Equal(t, got, accesstoken.ParseScopeSet(got.String()), "round trip of %q", in)
	}
	stored := strings.Clone("repository:pull repository:push repository:build_status")
	allocs := testing.AllocsPerRun(100, func() { _ = accesstoken.ParseScopeSet(stored) })
	require.Zero(t, allocs, "reading the stored form allocates")
}

func TestScopeSetJSON(t *testing.T) {
	s := accesstoken.NewScopeSet(accesstoken.ScopePull, "lfs:lock")
	b, err := json.Marshal(struct{ Scopes accesstoken.ScopeSet }{s})
	require.NoError(t, err)
	require.JSONEq(t, `{"Scopes":["repository:pull","lfs:lock"]}`, string(b))
	var back struct{ Scopes accesstoken.ScopeSet }
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, s, back.Scopes)

	b, err = json.Marshal(accesstoken.ScopeSet{})
	require.NoError(t, err)
	require.Equal(t, `[]`, string(b))

	var bad accesstoken.ScopeSet
	require.Error(t, json.Unmarshal([]byte(`"repository:pull"`), &bad))
	require.Error(t, json.Unmarshal([]byte(`[1]`), &bad))
}

// isSeparator is the splitting rule the scope docs state: commas and
// Unicode white space.
func isSeparator(r rune) bool { return r == ',' || unicode.IsSpace(r) }

// FuzzParseScopeSet checks that any text parses to a canonical set: its
// text form parses back to it, it holds each of its names, none holds a
// separator, ParseScopes finds the same names, and nothing panics.
func FuzzParseScopeSet(f *testing.F) {
	for _, s := range []string{"", "repository:pull", "a b a", " a\tb ", "a  b", "\u0085a\u00a0", "a:b a:bc a:b"} {
		f.Add(s, "a")
		f.Add(s, s)
	}
	f.Add("a b", "a b")          // a whole set of two is not one of its names
	f.Add("a:b\u3000c:d", "c:d") // Unicode white space separates names too
	f.Add("a:b,c:d", "c:d")      // and commas
	f.Fuzz(func(t *testing.T, in, x string) {
		s := accesstoken.ParseScopeSet(in)
		text := s.String()
		if accesstoken.ParseScopeSet(text) != s {
			t.Fatalf("ParseScopeSet(%q) = %q, which parses to something else", in, text)
		}
		list := s.List()
		if len(list) != s.Len() {
			t.Fatalf("ParseScopeSet(%q): Len %d, List %q", in, s.Len(), list)
		}
		seen := map[accesstoken.Scope]bool{}
		for _, sc := range list {
			if sc == "" || strings.ContainsFunc(string(sc), isSeparator) || seen[sc] || !s.Has(sc) {
				t.Fatalf("ParseScopeSet(%q): bad name %q in %q", in, sc, list)
			}
			seen[sc] = true
		}
		if s.Has(accesstoken.Scope(x)) != slices.Contains(list, accesstoken.Scope(x)) {
			t.Fatalf("ParseScopeSet(%q).Has(%q) = %v; its list is %q", in, x, s.Has(accesstoken.Scope(x)), list)
		}
		if accesstoken.NewScopeSet(list...) != s {
			t.Fatalf("ParseScopeSet(%q) = %q; NewScopeSet of its list differs", in, text)
		}
		if parsed := accesstoken.NewScopeSet(accesstoken.ParseScopes(in)...); parsed != s {
			t.Fatalf("ParseScopeSet(%q) = %q; the set of ParseScopes's names is %q: the splitting rules differ", in, text, parsed)
		}
	})
}

func TestNoScopeImpliesAnother(t *testing.T) {
	e := newEnv(t)
	scopes := accesstoken.BuiltinScopes()
	for _, has := range scopes {
		iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), has)
		for _, want := range scopes {
			_, err := e.m.Verify(ctx, iss.Secret.Reveal(), hello, want)
			if has == want {
				require.NoError(t, err, "%s token for %s", has, want)
			} else {
				require.ErrorIs(t, err, accesstoken.ErrMissingScope, "%s token for %s", has, want)
			}
		}
	}
}

func TestExtraScopes(t *testing.T) {
	e := newEnv(t, accesstoken.WithScopes("lfs:lock"))
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), "lfs:lock", accesstoken.ScopePull)
	require.Equal(t, []accesstoken.Scope{accesstoken.ScopePull, "lfs:lock"}, iss.Token.Scopes.List())
	require.Equal(t, append(accesstoken.BuiltinScopes(), "lfs:lock"), e.m.Scopes())
}
