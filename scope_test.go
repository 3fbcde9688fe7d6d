package accesstoken_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

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

func TestParseScopeSet(t *testing.T) {
	for in, want := range map[string]string{
		"":                                       "",
		"repository:pull":                        "repository:pull",
		"repository:pull repository:push":        "repository:pull repository:push",
		"  repository:pull\t\trepository:push\n": "repository:pull repository:push",
		"a:b a:b c:d a:b":                        "a:b c:d",
		"a:b  c:d":                               "a:b c:d",
		"a:b\u00a0c:d":                           "a:b c:d",
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

// FuzzParseScopeSet checks that any text parses to a canonical set: its
// text form parses back to it, it holds each of its names, and nothing
// panics.
func FuzzParseScopeSet(f *testing.F) {
	for _, s := range []string{"", "repository:pull", "a b a", " a\tb ", "a  b", "\u0085a\u00a0", "a:b a:bc a:b"} {
		f.Add(s, "a")
		f.Add(s, s)
	}
	f.Add("a b", "a b")          // a whole set of two is not one of its names
	f.Add("a:b\u3000c:d", "c:d") // Unicode white space separates names too
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
			if sc == "" || strings.ContainsAny(string(sc), " \t\n") || seen[sc] || !s.Has(sc) {
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
	})
}
