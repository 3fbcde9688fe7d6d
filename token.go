package accesstoken

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"
)

// Target is what a token is for: one repository, or every repository of one
// project. Identities are opaque strings chosen by the forge (names or
// database IDs); the library only compares them. A repository is identified
// by the pair (Project, Repository), so repository names need only be unique
// within their project.
type Target struct {
	// Project is the project's identity. It is never empty for a project
	// target. For a repository target it may be empty when the forge has
	// repositories outside any project (personal repositories).
	Project string
	// Repository is the repository's identity, or empty for a project
	// target.
	Repository string
}

// ProjectTarget returns the target covering every repository of project.
func ProjectTarget(project string) Target { return Target{Project: project} }

// RepositoryTarget returns the target covering one repository.
func RepositoryTarget(project, repository string) Target {
	return Target{Project: project, Repository: repository}
}

// IsProject reports whether t is a project target.
func (t Target) IsProject() bool { return t.Repository == "" }

// Covers reports whether a token for t may be used on res: a project
// target covers every repository of its project, and the project itself
// (a resource made by [ProjectResource]); a repository target only its own
// repository. A resource that names no repository and is not a project
// resource is covered by nothing.
func (t Target) Covers(res Resource) bool {
	switch {
	case res.project:
		return t.Repository == "" && t.Project != "" && t.Project == res.Project && res.Repository == ""
	case t.Repository == "":
		return t.Project != "" && t.Project == res.Project && res.Repository != ""
	}
	return t.Repository == res.Repository && t.Project == res.Project
}

// String returns "project/repository" or "project/*".
func (t Target) String() string {
	if t.IsProject() {
		return t.Project + "/*"
	}
	return t.Project + "/" + t.Repository
}

// Validate reports whether t is a usable target, as an error matching
// [ErrBadTarget] and [ErrInvalidInput].
func (t Target) Validate() error {
	if err := checkIdentity("project", t.Project, t.Repository != ""); err != nil {
		return err
	}
	return checkIdentity("repository", t.Repository, true)
}

// Resource is what a request accesses, as the forge resolved it from the
// URL, with the same identities it uses in [Target]: a repository, or, made
// by [ProjectResource], a project as a whole, which only project tokens of
// that project cover (for API routes about a project rather than one of
// its repositories). A Resource written as a literal is a repository; one
// whose Repository is empty names nothing and is covered by no token, so
// that a forge's bug that loses the repository name never lets a project
// token through.
type Resource struct {
	// Project is the project's identity; for a repository it may be
	// empty, as in a [Target].
	Project string
	// Repository is the repository's identity; empty for a project
	// resource.
	Repository string

	project bool // made by ProjectResource
}

// ProjectResource returns the resource that is the project itself, for
// routes about a project as a whole: only a project token of that project
// covers it, and the [Authorizer] is asked about the project
// ([Resource.IsProject]).
func ProjectResource(project string) Resource { return Resource{Project: project, project: true} }

// IsProject reports whether r is a project resource, made by
// [ProjectResource].
func (r Resource) IsProject() bool { return r.project }

// Validate reports whether r names a repository, or is a project resource
// naming a project, as an error matching [ErrBadTarget] and
// [ErrInvalidInput].
func (r Resource) Validate() error {
	if r.project {
		if r.Repository != "" {
			return invalid(ErrBadTarget, "a project resource with a repository")
		}
		return checkIdentity("project", r.Project, false)
	}
	if r.Repository == "" {
		return invalid(ErrBadTarget, "empty repository")
	}
	if err := checkIdentity("project", r.Project, true); err != nil {
		return err
	}
	return checkIdentity("repository", r.Repository, false)
}

// String returns "project/repository", or "project/*" for a project
// resource.
func (r Resource) String() string {
	if r.project {
		return r.Project + "/*"
	}
	return r.Project + "/" + r.Repository
}

// MaxIdentityLen is the longest owner, project or repository identity
// accepted, in bytes.
const MaxIdentityLen = 255

// checkName checks an identity (what names it in the error, kind is the
// error it matches): not empty unless emptyOK, at most MaxIdentityLen
// bytes, printable.
func checkName(kind error, what, s string, emptyOK bool) error {
	switch {
	case s == "" && emptyOK:
		return nil
	case s == "":
		return invalid(kind, "empty "+what)
	case len(s) > MaxIdentityLen:
		return invalid(kind, fmt.Sprintf("%s longer than %d bytes", what, MaxIdentityLen))
	case !printable(s):
		return invalid(kind, what+" is not printable UTF-8")
	}
	return nil
}

func checkIdentity(what, s string, emptyOK bool) error {
	return checkName(ErrBadTarget, what, s, emptyOK)
}

// checkOwner checks a user's name: an owner, or the actor of a user's
// operation. Names of system actors are not users' names.
func checkOwner(what, s string) error {
	if err := checkName(ErrBadOwner, what, s, false); err != nil {
		return err
	}
	if len(s) >= len(SystemActorPrefix) && strings.EqualFold(s[:len(SystemActorPrefix)], SystemActorPrefix) {
		return invalid(ErrBadOwner, what+" begins with "+SystemActorPrefix+", which names system actors, not users")
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Token is the stored description of an access token. It never holds the
// secret: that is returned once, by [Manager.Issue] or [Manager.Rotate], as
// a [Secret].
type Token struct {
	// ID identifies the token in lists, URLs and audit logs. It is not
	// secret and cannot be used to authenticate.
	ID uuid.UUID
	// Owner is the user the token acts as. It is the user who issued it.
	Owner string
	// Description is the owner's note saying what the token is for.
	Description string
	// Target is the repository or project the token is for.
	Target Target
	// Scopes are the operations the token allows, in canonical order.
	Scopes ScopeSet
	// CreatedAt is when the token was issued.
	CreatedAt time.Time
	// ExpiresAt is when the token stops working; zero means never.
	ExpiresAt time.Time
	// LastUsedAt is when the token last authenticated a request, recorded
	// at most once per [WithLastUsedInterval]; zero means never.
	LastUsedAt time.Time
	// RevokedAt is when the token was revoked; zero means it was not.
	RevokedAt time.Time
	// RevokedBy is who revoked the token: a user, or a system actor
	// ([SystemActor]), such as a scanner that found the token leaked.
	RevokedBy string
	// RevocationReason says why the token was revoked, when the revoker
	// said; empty otherwise.
	RevocationReason string
	// ReplacedBy is the ID of the token that replaced this one when it
	// was rotated; [uuid.Nil] otherwise.
	ReplacedBy uuid.UUID
}

// Revoked reports whether the token was revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Expired reports whether the token's expiry has passed at now.
func (t Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// Active reports whether the token is neither revoked nor expired at now.
func (t Token) Active(now time.Time) bool { return !t.Revoked() && !t.Expired(now) }

// String describes the token for logs. There is no secret in a Token.
func (t Token) String() string {
	return fmt.Sprintf("token %s (owner %q, target %s, scopes [%s])", t.ID, t.Owner, t.Target, t.Scopes)
}

// Secret is the plaintext of a token, returned once when it is issued or
// rotated. It never prints: String, fmt verbs, JSON and [log/slog] all see
// "[REDACTED]". Call [Secret.Reveal] at the one place that shows it to the
// user.
//
// The plaintext is kept behind a pointer, so that even where fmt cannot call
// these methods (a Secret in an unexported struct field) it prints an
// address, not the token.
type Secret struct{ p *string }

// Reveal returns the plaintext token, the string a git client sends, or ""
// for the zero Secret.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

const redacted = "[REDACTED]"

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns "[REDACTED]", so %#v does not print the secret.
func (s Secret) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb.
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue returns "[REDACTED]" for [log/slog].
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON returns "[REDACTED]": a secret is never serialised by
// accident. Put [Secret.Reveal] in the response explicitly.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[REDACTED]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Issued is the result of [Manager.Issue] and [Manager.Rotate]: the stored
// token and its secret, which is not stored and cannot be recovered.
type Issued struct {
	Token  Token
	Secret Secret
}

// The token format. A token is
//
//	PREFIX "_" PAYLOAD CHECKSUM
//
// where PAYLOAD is 32 bytes from crypto/rand in fixed-width base62 (43
// characters) and CHECKSUM is the CRC-32C of PREFIX "_" PAYLOAD in
// fixed-width base62 (6 characters).
//
// The checksum is CRC-32C (Castagnoli), which CPUs compute in hardware: a
// mistyped or truncated token is rejected in a few nanoseconds, before any
// hashing or store lookup.
const (
	payloadLen  = 43
	checksumLen = 6
	// DefaultPrefix is the token prefix used unless [WithPrefix] sets
	// another.
	DefaultPrefix = "gat"
	// MaxPrefixLen is the longest prefix [WithPrefix] accepts.
	MaxPrefixLen = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62Val maps a byte to its base62 value plus one; zero means the byte is
// not in the alphabet.
var base62Val = func() (t [256]uint8) {
	for i := range len(base62) {
		t[base62[i]] = uint8(i + 1)
	}
	return
}()

// Format is a token format: the prefix, an underscore, the random payload and
// the checksum. The zero value is not usable; use [NewFormat].
type Format struct {
	prefix string // including the trailing underscore
}

// NewFormat returns the format with the given prefix: a lower-case letter
// followed by up to 15 lower-case letters or digits, like GitHub's "ghp" or a
// GitLab instance prefix. Pick one that identifies your forge so that secret
// scanners can attribute leaked tokens.
func NewFormat(prefix string) (Format, error) {
	ok := len(prefix) > 0 && len(prefix) <= MaxPrefixLen && prefix[0] >= 'a' && prefix[0] <= 'z'
	for i := 1; ok && i < len(prefix); i++ {
		c := prefix[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
	}
	if !ok {
		return Format{}, fmt.Errorf("accesstoken: invalid token prefix %q: want a lower-case letter followed by up to %d lower-case letters or digits", truncateForError(prefix), MaxPrefixLen-1)
	}
	return Format{prefix: prefix + "_"}, nil
}

// DefaultFormat is the format with [DefaultPrefix].
var DefaultFormat = Format{prefix: DefaultPrefix + "_"}

// Prefix returns the format's prefix, without the underscore.
func (f Format) Prefix() string { return strings.TrimSuffix(f.prefix, "_") }

// Len returns the length of every token of this format.
func (f Format) Len() int { return len(f.prefix) + payloadLen + checksumLen }

// Generate returns a new random token of this format.
func (f Format) Generate() (Secret, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Secret{}, fmt.Errorf("accesstoken: reading random bytes: %w", err)
	}
	b := make([]byte, 0, f.Len())
	b = append(b, f.prefix...)
	b = appendBase62(b, raw[:], payloadLen)
	sum := crc32.Checksum(b, castagnoli)
	b = appendBase62(b, []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}, checksumLen)
	str := string(b)
	return Secret{p: &str}, nil
}

// appendBase62 appends the big-endian number in num as exactly width base62
// digits. width must be large enough for any value of len(num) bytes.
func appendBase62(dst, num []byte, width int) []byte {
	n := slices.Clone(num)
	digits := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		var rem uint
		for j := range n {
			acc := rem<<8 | uint(n[j])
			n[j] = byte(acc / 62)
			rem = acc % 62
		}
		digits[i] = base62[rem]
	}
	return append(dst, digits...)
}

// Check reports whether s is a well-formed token of this format, without
// looking anything up: the length, prefix, alphabet and checksum. A mistyped
// or truncated token fails the checksum. The error matches [ErrMalformed]
// and never contains any part of s. Check does not allocate.
func (f Format) Check(s string) error {
	switch {
	case len(s) == 0:
		return errEmpty
	case f.prefix == "": // the zero Format accepts nothing
		return errPrefix
	case len(s) != f.Len():
		return errLength
	case s[:len(f.prefix)] != f.prefix:
		return errPrefix
	}
	if !base62Only(s[len(f.prefix):]) {
		return errAlphabet
	}
	if !checksumOK(s) {
		return errChecksum
	}
	return nil
}

// base62Only reports whether every byte of s is in the base62 alphabet,
// eight bytes at a time: for bytes below 0x80, adding 0x80-lo sets a
// byte's top bit if it is at least lo, adding 0x7f-hi if it is above hi,
// and no sum carries into the next byte. Setting bit 0x20 turns upper-case
// letters into lower-case ones and no byte outside the alphabet into a
// letter, so one range test covers both cases.
func base62Only(s string) bool {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	for len(s) >= 8 {
		w := binary.LittleEndian.Uint64(unsafeBytes(s[:8]))
		if w&high != 0 {
			return false
		}
		l := w | ones*0x20
		digit := (w + ones*(0x80-'0')) &^ (w + ones*(0x7f-'9'))
		letter := (l + ones*(0x80-'a')) &^ (l + ones*(0x7f-'z'))
		if (digit|letter)&high != high {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if base62Val[s[i]] == 0 {
			return false
		}
	}
	return true
}

// checksumOK verifies the trailing checksum of a token whose length and
// alphabet are already checked.
func checksumOK(s string) bool {
	n := len(s) - checksumLen
	want := crc32.Checksum(unsafeBytes(s[:n]), castagnoli)
	var got uint64
	for i := n; i < len(s); i++ {
		got = got*62 + uint64(base62Val[s[i]]-1)
	}
	return got == uint64(want)
}

// FindAll returns every well-formed token of this format in text, in order:
// for scanning pushed content, logs or pastes for leaked tokens. A candidate
// must stand on its own (not be part of a longer word) and have a valid
// checksum, so random text almost never matches.
func (f Format) FindAll(text string) []string {
	if f.prefix == "" {
		return nil
	}
	var found []string
	for i := 0; ; {
		j := strings.Index(text[i:], f.prefix)
		if j < 0 {
			return found
		}
		start := i + j
		end := start + f.Len()
		i = start + 1
		if start > 0 && isWordByte(text[start-1]) {
			continue
		}
		if end > len(text) || (end < len(text) && isWordByte(text[end])) {
			continue
		}
		if f.Check(text[start:end]) == nil {
			found = append(found, text[start:end])
			i = end
		}
	}
}

func isWordByte(c byte) bool { return base62Val[c] != 0 || c == '_' }

// unsafeBytes views s as a byte slice without copying; the slice must not
// be modified.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
