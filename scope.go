package accesstoken

import (
	"fmt"
	"slices"
	"strings"
)

// Scope names one kind of operation a token may perform. Scopes are exact
// strings; no scope implies another (a push-only token cannot pull).
type Scope string

// The built-in scopes, spelled as Launchpad spells them.
const (
	// ScopePull allows fetching and cloning.
	ScopePull Scope = "repository:pull"
	// ScopePush allows pushing.
	ScopePush Scope = "repository:push"
	// ScopeBuildStatus allows reporting CI build status on commits.
	ScopeBuildStatus Scope = "repository:build_status"
)

// BuiltinScopes returns the scopes every [Manager] knows, in canonical order.
func BuiltinScopes() []Scope {
	return []Scope{ScopePull, ScopePush, ScopeBuildStatus}
}

// ValidScopeName reports whether s has the form a scope name must have to be
// registered with [WithScopes]: "resource:action", each part a lower-case
// letter followed by lower-case letters, digits or underscores, at most 64
// bytes in all.
func ValidScopeName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	res, act, ok := strings.Cut(string(s), ":")
	return ok && validScopePart(res) && validScopePart(act)
}

func validScopePart(p string) bool {
	if p == "" || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// scopeSet is the set of scopes a Manager accepts, in canonical order
// (built-ins first, then extras in the order registered).
type scopeSet struct {
	order []Scope
	index map[Scope]int
}

func newScopeSet(extra []Scope) (*scopeSet, error) {
	s := &scopeSet{index: map[Scope]int{}}
	for _, sc := range append(BuiltinScopes(), extra...) {
		if !ValidScopeName(string(sc)) {
			return nil, fmt.Errorf("accesstoken: invalid scope name %q", sc)
		}
		if _, dup := s.index[sc]; dup {
			continue
		}
		s.index[sc] = len(s.order)
		s.order = append(s.order, sc)
	}
	return s, nil
}

// normalize checks every scope, removes duplicates and returns the scopes in
// canonical order. An empty list is an error.
func (s *scopeSet) normalize(in []Scope) ([]Scope, error) {
	if len(in) == 0 {
		return nil, invalid(ErrNoScopes, "no scopes given")
	}
	out := make([]Scope, 0, len(in))
	for _, sc := range in {
		if _, ok := s.index[sc]; !ok {
			return nil, invalid(ErrUnknownScope, fmt.Sprintf("%q", truncateForError(string(sc))))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	slices.SortFunc(out, func(a, b Scope) int { return s.index[a] - s.index[b] })
	return out, nil
}

// ParseScopes splits a comma- or space-separated list of scope names, as a
// form or command line gives them. It does not check that they are known;
// [Manager.Issue] does.
func ParseScopes(s string) []Scope {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	out := make([]Scope, len(f))
	for i, x := range f {
		out[i] = Scope(x)
	}
	return out
}

// truncateForError bounds user input quoted in an error message.
func truncateForError(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
