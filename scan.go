package accesstoken

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"unsafe"
)

// Finding tokens in content: a blob, a log, a pasted text.
//
// A token is found where it stands on its own: PREFIX "_" and 49
// characters of the base62 alphabet, neither preceded nor followed by a
// letter, a digit or an underscore (so a token split across lines, or
// glued to a longer word, is not one). Its checksum then tells, with a
// false positive rate of one in 2^32, whether it is really a token of the
// format, before anything is looked up: a scan costs one pass over the
// content and one store lookup per distinct well-formed token of the
// Manager's format it holds, never anything proportional to the number of
// tokens stored.

// DefaultMaxLookups is how many distinct well-formed tokens a [Scanner]
// looks up in the store, at most, unless [ScanOptions].MaxLookups says
// otherwise.
const DefaultMaxLookups = 1000

// FindingKind says what a [Finding] is.
type FindingKind uint8

// The kinds of [Finding]. Only FindingLive is always reported; the others
// when [ScanOptions] asks for them.
const (
	// FindingLive is a token of the Manager that works: neither revoked
	// nor expired.
	FindingLive FindingKind = iota + 1
	// FindingRevoked is a token of the Manager that was revoked.
	FindingRevoked
	// FindingExpired is a token of the Manager past its expiry.
	FindingExpired
	// FindingUnknown is a well-formed token of the Manager's format
	// (prefix and checksum) that matches no stored token: deleted, from
	// another deployment with the same prefix, or made up to pass the
	// checksum.
	FindingUnknown
	// FindingMalformed is a string shaped like a token of the Manager's
	// format (its prefix, 49 characters of the alphabet, standing on its
	// own) whose checksum fails: a mistyped or altered token, or chance.
	FindingMalformed
	// FindingOtherPrefix is a well-formed token of another prefix (a
	// lower-case letter and up to 15 lower-case letters or digits, with a
	// checksum that holds for that prefix): a token of another deployment
	// of this library. It is not looked up. A string of that shape whose
	// checksum fails is not reported: any identifier can look like one.
	FindingOtherPrefix
)

// String returns "live", "revoked", "expired", "unknown", "malformed" or
// "other-prefix".
func (k FindingKind) String() string {
	switch k {
	case FindingLive:
		return "live"
	case FindingRevoked:
		return "revoked"
	case FindingExpired:
		return "expired"
	case FindingUnknown:
		return "unknown"
	case FindingMalformed:
		return "malformed"
	case FindingOtherPrefix:
		return "other-prefix"
	}
	return "FindingKind(" + strconv.Itoa(int(k)) + ")"
}

// ScanOptions says what a scan reports besides live tokens, and how many
// lookups it may make. The zero value reports live tokens only, with
// [DefaultMaxLookups].
type ScanOptions struct {
	// IncludeRevoked reports revoked tokens of the Manager
	// ([FindingRevoked]).
	IncludeRevoked bool
	// IncludeExpired reports expired tokens of the Manager
	// ([FindingExpired]). A token both revoked and expired is reported as
	// revoked.
	IncludeExpired bool
	// IncludeUnknown reports well-formed tokens of the Manager's format
	// that match no stored token ([FindingUnknown]).
	IncludeUnknown bool
	// IncludeMalformed reports token-shaped strings of the Manager's
	// prefix whose checksum fails ([FindingMalformed]).
	IncludeMalformed bool
	// IncludeOtherPrefixes reports well-formed tokens of other prefixes
	// ([FindingOtherPrefix]). Finding them costs a look at every
	// underscore of the content instead of a search for one prefix.
	IncludeOtherPrefixes bool
	// MaxLookups bounds the distinct well-formed tokens of the Manager's
	// format that a [Scanner] looks up, over all its scans (a token seen
	// again is not looked up again). Beyond it, Scan returns what it found
	// so far and [ErrScanLimit]. The default, 0, is [DefaultMaxLookups];
	// a negative value means no bound.
	MaxLookups int
}

// Finding is a token found in content by [Scanner.Scan]. It never holds
// the token's text, nor any part of it: Offset and Length say where it is
// in the content the caller holds.
type Finding struct {
	// Kind says what was found.
	Kind FindingKind
	// Offset is the byte offset of the token's first character in the
	// content, and Length its length in bytes.
	Offset, Length int
	// Line and Column are where the token starts: Line counts lines from
	// 1 (a line ends with '\n'), Column bytes from 1.
	Line, Column int
	// Prefix is the token's prefix, without the underscore: the
	// Manager's, or another for [FindingOtherPrefix]. A prefix is not
	// secret.
	Prefix string
	// Token is the stored token, for [FindingLive], [FindingRevoked] and
	// [FindingExpired]: its ID, owner, target and the rest, as a
	// [Manager] returns them (there is no secret in a Token). It is the
	// zero Token for the other kinds.
	Token Token
}

// String describes the finding for a person or a log, without any part of
// the token: "live token 6f1c…-… (owner alice) at line 3, column 7".
func (f Finding) String() string {
	where := fmt.Sprintf("at line %d, column %d", f.Line, f.Column)
	switch f.Kind {
	case FindingLive, FindingRevoked, FindingExpired:
		return fmt.Sprintf("%s token %s (owner %q) %s", f.Kind, f.Token.ID, f.Token.Owner, where)
	case FindingOtherPrefix:
		return fmt.Sprintf("token with prefix %q %s", f.Prefix, where)
	case FindingMalformed:
		return fmt.Sprintf("malformed token (checksum mismatch) %s", where)
	}
	return fmt.Sprintf("%s token %s", f.Kind, where)
}

// Secret returns the token f found, read from content (the bytes that were
// scanned), as a [Secret], which never prints: for the one call that needs
// the plaintext, revoking a leaked token (which proves the leak with the
// secret). It returns the zero Secret unless content holds, at f's place,
// a well-formed token of f's prefix (so never for [FindingMalformed]).
func (f Finding) Secret(content []byte) Secret {
	if f.Offset < 0 || f.Length <= 0 || f.Offset > len(content)-f.Length {
		return Secret{}
	}
	format, err := NewFormat(f.Prefix)
	if err != nil {
		return Secret{}
	}
	s := string(content[f.Offset : f.Offset+f.Length])
	if format.Check(s) != nil {
		return Secret{}
	}
	return Secret{p: &s}
}

// Scanner finds the tokens of a [Manager] in content, for secret scanning
// of pushes, logs and pastes. Make one with [Manager.NewScanner] for a unit
// of work (a push, a repository, a log file): it remembers what it looked
// up, so that a token seen again costs no second lookup, and counts its
// lookups against [ScanOptions].MaxLookups; a token revoked after it was
// looked up is still reported as it was. A Scanner is not safe for
// concurrent use.
type Scanner struct {
	m       *Manager
	opts    ScanOptions
	max     int
	seen    map[Digest]lookupResult
	lookups int
}

type lookupResult struct {
	kind FindingKind
	tok  Token
}

// NewScanner returns a [Scanner] of m's tokens that reports what opts asks
// for.
func (m *Manager) NewScanner(opts ScanOptions) *Scanner {
	limit := opts.MaxLookups
	if limit == 0 {
		limit = DefaultMaxLookups
	}
	return &Scanner{m: m, opts: opts, max: limit}
}

// Scan finds the tokens of m in content with a new [Scanner] (see
// [Scanner.Scan]).
func (m *Manager) Scan(ctx context.Context, content []byte, opts ScanOptions) ([]Finding, error) {
	return m.NewScanner(opts).Scan(ctx, content)
}

// Scan returns the tokens found in content, in order: the live tokens of
// the Manager always, and the other kinds [ScanOptions] asks for. It costs
// one pass over content (a search for the Manager's prefix, or with
// IncludeOtherPrefixes a look at every underscore) and, for each distinct
// well-formed token of the Manager's format, one digest and one
// [Store.ByDigest]: proportional to the content, not to the number of
// tokens stored. It emits no [Event]: finding a token is not using it.
//
// Nothing it returns holds a secret. Content is only read, and not kept.
//
// When a lookup fails it returns the findings before it and an error
// matching [ErrStoreFailure] (or the context's error); beyond
// MaxLookups, [ErrScanLimit]. Either way the scan is incomplete, and a
// caller that decides something on it must fail closed.
func (s *Scanner) Scan(ctx context.Context, content []byte) ([]Finding, error) {
	var out []Finding
	var lines lineCounter
	add := func(f Finding) {
		f.Line, f.Column = lines.at(content, f.Offset)
		out = append(out, f)
	}
	own := s.m.format.prefix // with its underscore
	if own == "" {
		return nil, errors.New("accesstoken: Scanner of a Manager without a token format")
	}
	if s.opts.IncludeOtherPrefixes {
		for i := 0; i < len(content); {
			j := bytes.IndexByte(content[i:], '_')
			if j < 0 {
				break
			}
			u := i + j
			i = u + 1
			start, end, ok := candidateAt(content, u)
			if !ok {
				continue
			}
			if string(content[start:u+1]) == own {
				if err := s.classify(ctx, content, start, end, add); err != nil {
					return out, err
				}
			} else if checksumOK(content[start:end]) {
				add(Finding{Kind: FindingOtherPrefix, Offset: start, Length: end - start, Prefix: string(content[start:u])})
			}
		}
		return out, nil
	}
	for i := 0; i < len(content); {
		j := bytes.Index(content[i:], unsafeBytes(own))
		if j < 0 {
			break
		}
		start := i + j
		u := start + len(own) - 1
		i = u + 1
		if cs, end, ok := candidateAt(content, u); ok && cs == start {
			if err := s.classify(ctx, content, start, end, add); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// classify reports the candidate content[start:end] of the Manager's
// prefix, looking it up if its checksum holds.
func (s *Scanner) classify(ctx context.Context, content []byte, start, end int, add func(Finding)) error {
	f := Finding{Offset: start, Length: end - start, Prefix: s.m.format.Prefix()}
	if !checksumOK(content[start:end]) {
		if s.opts.IncludeMalformed {
			f.Kind = FindingMalformed
			add(f)
		}
		return nil
	}
	res, err := s.lookup(ctx, unsafeString(content[start:end]))
	if err != nil {
		return err
	}
	f.Kind = res.kind
	switch res.kind {
	case FindingLive:
	case FindingRevoked:
		if !s.opts.IncludeRevoked {
			return nil
		}
	case FindingExpired:
		if !s.opts.IncludeExpired {
			return nil
		}
	case FindingUnknown:
		if !s.opts.IncludeUnknown {
			return nil
		}
	}
	if res.kind != FindingUnknown {
		f.Token = res.tok
	}
	add(f)
	return nil
}

// lookup returns what the store says of the well-formed token secret,
// looking it up once per Scanner.
func (s *Scanner) lookup(ctx context.Context, secret string) (lookupResult, error) {
	d := s.m.Digest(secret)
	if res, ok := s.seen[d]; ok {
		return res, nil
	}
	if s.max > 0 && s.lookups >= s.max {
		return lookupResult{}, fmt.Errorf("%w (%d)", ErrScanLimit, s.max)
	}
	if err := ctx.Err(); err != nil {
		return lookupResult{}, err
	}
	s.lookups++
	var rec Record
	err := s.m.byDigest(ctx, &d, &rec)
	var res lookupResult
	switch {
	case errors.Is(err, ErrUnknownToken):
		res.kind = FindingUnknown
	case err != nil:
		return lookupResult{}, err
	default:
		res.tok = rec.Token
		switch {
		case rec.Revoked():
			res.kind = FindingRevoked
		case rec.Expired(s.m.clock()):
			res.kind = FindingExpired
		default:
			res.kind = FindingLive
		}
	}
	if s.seen == nil {
		s.seen = make(map[Digest]lookupResult)
	}
	s.seen[d] = res
	return res, nil
}

// candidateAt reports whether the underscore at content[u] is that of a
// token standing on its own: a run of 1 to MaxPrefixLen lower-case
// letters and digits starting with a letter before it, 49 base62
// characters after it, and neither a letter, a digit nor an underscore
// around them. It returns the token's bounds; the checksum is not checked.
func candidateAt(content []byte, u int) (start, end int, ok bool) {
	end = u + 1 + payloadLen + checksumLen
	if end > len(content) || (end < len(content) && isWordByte(content[end])) {
		return 0, 0, false
	}
	start = u
	for start > 0 && u-start <= MaxPrefixLen && isPrefixByte(content[start-1]) {
		start--
	}
	switch {
	case start == u, u-start > MaxPrefixLen, // no prefix, or one too long
		start > 0 && isWordByte(content[start-1]), // glued to a longer word
		content[start] < 'a' || content[start] > 'z':
		return 0, 0, false
	}
	if !base62Only(unsafeString(content[u+1 : end])) {
		return 0, 0, false
	}
	return start, end, true
}

func isPrefixByte(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// lineCounter turns increasing offsets into lines and columns, counting
// each newline of the content once.
type lineCounter struct {
	off       int // newlines before off are counted
	line      int // lines before the one at off, minus one
	lineStart int // offset of the line holding off
}

func (l *lineCounter) at(content []byte, off int) (line, col int) {
	if seg := content[l.off:off]; len(seg) > 0 {
		if n := bytes.Count(seg, []byte{'\n'}); n > 0 {
			l.line += n
			l.lineStart = l.off + bytes.LastIndexByte(seg, '\n') + 1
		}
		l.off = off
	}
	return l.line + 1, off - l.lineStart + 1
}

// unsafeString views b as a string without copying; b must not change
// while the string is in use.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
