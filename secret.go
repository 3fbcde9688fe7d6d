package accesstoken

import (
	"crypto/rand"
	"fmt"
	"log/slog"
)

// Secret is the plaintext of a token, returned once when it is issued or
// rotated. It never prints: String, fmt verbs, JSON and [log/slog] all see
// "[REDACTED]". Call [Secret.Reveal] at the one place that shows it to the
// user.
//
// The plaintext is kept behind a pointer, so that even where fmt cannot call
// these methods (a Secret in an unexported struct field) it prints an
// address, not the token.
type Secret struct{ p *string }

// Generate returns a new token of format f, its payload 32 bytes from
// crypto/rand, as a Secret. [Manager.Issue] and [Manager.Rotate] call it;
// call it yourself only for tests or a token of your own.
func (f Format) Generate() (Secret, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Secret{}, fmt.Errorf("accesstoken: reading random bytes: %w", err)
	}
	s := f.encode(&raw)
	return Secret{p: &s}, nil
}

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
