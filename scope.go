package accesstoken

import (
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
	"unicode"
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

// ScopeSet is the scopes of a token: an immutable value, cheap to copy, that
// shares nothing a holder could change (a Token handed to one caller cannot
// alter another's). The zero value is the empty set. Two sets are equal
// (==) when they hold the same scopes in the same order; a [Manager] always
// orders them canonically.
//
// Its text form, [ScopeSet.String], is the scope names in order, separated
// by single spaces, as OAuth 2.0 writes scopes (RFC 6749, section 3.3). Stores
// keep that form; [ParseScopeSet] reads it back.
type ScopeSet struct {
	joined string // names separated by single spaces; no empty names
}

// NewScopeSet returns the set of the given scopes, in the order given, with
// empty names and repeats left out. Scope names never contain commas or
// white space ([ValidScopeName]); a name that does is split there, as
// [ParseScopes] splits text.
func NewScopeSet(scopes ...Scope) ScopeSet {
	var b strings.Builder
	for _, sc := range scopes {
		for name := range strings.FieldsFuncSeq(string(sc), isScopeSeparator) {
			if (ScopeSet{b.String()}).Has(Scope(name)) {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(name)
		}
	}
	return ScopeSet{b.String()}
}

// ParseScopeSet reads the text form of a set: scope names separated by
// commas and white space, as [ParseScopes] splits them, repeats left out.
// It is the inverse of [ScopeSet.String], which separates names with
// single spaces; that form, the one stores keep, is read without a copy.
// It does not check that the names are known; [Manager.Issue] does.
func ParseScopeSet(s string) ScopeSet {
	if canonicalJoined(s) {
		return ScopeSet{s} // the stored form: no copy, no allocation
	}
	return NewScopeSet(Scope(s))
}

// canonicalJoined reports whether s is names separated by single spaces,
// without repeats.
func canonicalJoined(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' || strings.Contains(s, "  ") {
		return false
	}
	// Any other separator separates names too, as in NewScopeSet.
	if strings.IndexFunc(s, func(r rune) bool { return r != ' ' && isScopeSeparator(r) }) >= 0 {
		return false
	}
	seen := 0
	for name := range strings.SplitSeq(s, " ") {
		if (ScopeSet{s[:seen]}).Has(Scope(name)) {
			return false
		}
		seen += len(name) + 1
	}
	return true
}

// Has reports whether the set holds scope x.
func (s ScopeSet) Has(x Scope) bool {
	if x == "" {
		return false
	}
	rest := s.joined
	for rest != "" {
		name, tail, _ := strings.Cut(rest, " ")
		if name == string(x) {
			return true
		}
		rest = tail
	}
	return false
}

// Len returns the number of scopes in the set.
func (s ScopeSet) Len() int {
	if s.joined == "" {
		return 0
	}
	return strings.Count(s.joined, " ") + 1
}

// All returns the scopes in order.
func (s ScopeSet) All() iter.Seq[Scope] {
	return func(yield func(Scope) bool) {
		if s.joined == "" {
			return
		}
		for name := range strings.SplitSeq(s.joined, " ") {
			if !yield(Scope(name)) {
				return
			}
		}
	}
}

// List returns the scopes in order, in a new slice.
func (s ScopeSet) List() []Scope {
	out := make([]Scope, 0, s.Len())
	for sc := range s.All() {
		out = append(out, sc)
	}
	return out
}

// String returns the text form: the names in order, separated by single
// spaces ("repository:pull repository:push"); "" for the empty set.
func (s ScopeSet) String() string { return s.joined }

// MarshalJSON encodes the set as a JSON array of scope names.
func (s ScopeSet) MarshalJSON() ([]byte, error) { return json.Marshal(s.List()) }

// UnmarshalJSON decodes a JSON array of scope names.
func (s *ScopeSet) UnmarshalJSON(b []byte) error {
	var list []Scope
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*s = NewScopeSet(list...)
	return nil
}

// ParseScopes returns the scope names in s, in order, as a form or a
// command line gives them ("repository:pull, repository:push"): names are
// separated by commas and white space, the one rule of every text form of
// scopes ([NewScopeSet], [ParseScopeSet]), and empty names are left out.
// Repeats are kept. It does not check that the names are known;
// [Manager.Issue] does.
func ParseScopes(s string) []Scope {
	var out []Scope
	for name := range strings.FieldsFuncSeq(s, isScopeSeparator) {
		out = append(out, Scope(name))
	}
	return out
}

// isScopeSeparator reports whether r separates scope names in text: a
// comma, or white space (any Unicode white space, as [unicode.IsSpace]
// says). No valid scope name holds one ([ValidScopeName]). NewScopeSet,
// ParseScopeSet and ParseScopes all split at these and nothing else.
func isScopeSeparator(r rune) bool { return r == ',' || unicode.IsSpace(r) }

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
func (s *scopeSet) normalize(in []Scope) (ScopeSet, error) {
	if len(in) == 0 {
		return ScopeSet{}, invalid(ErrNoScopes, "no scopes given")
	}
	out := make([]Scope, 0, len(in))
	for _, sc := range in {
		if _, ok := s.index[sc]; !ok {
			return ScopeSet{}, invalid(ErrUnknownScope, fmt.Sprintf("%q", truncateForError(string(sc))))
		}
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b Scope) int { return s.index[a] - s.index[b] })
	return NewScopeSet(out...), nil // which drops repeats
}
