package accesstoken

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"unsafe"
)

// Token prefixes.
const (
	// DefaultPrefix is the token prefix used unless [WithPrefix] sets
	// another: "gat", for "git access token".
	DefaultPrefix = "gat"
	// MaxPrefixLen is the longest prefix [NewFormat] and [WithPrefix]
	// accept.
	MaxPrefixLen = 16
)

// The lengths of a token's payload and checksum, in base62 digits.
const (
	payloadLen  = 43
	checksumLen = 6
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

// Format is a token format. A token is
//
//	PREFIX "_" PAYLOAD CHECKSUM
//
// where PAYLOAD is 32 bytes from crypto/rand in fixed-width base62 (43
// characters) and CHECKSUM is the CRC-32C (Castagnoli) of PREFIX "_"
// PAYLOAD in fixed-width base62 (6 characters). CPUs compute CRC-32C in
// hardware, so a mistyped or truncated token is rejected in a few
// nanoseconds, before any hashing or store lookup ([Format.Check]), and
// random text almost never passes for a token ([Format.FindAll]).
//
// Make one with [NewFormat] or [DefaultFormat]; the zero Format accepts no
// token and finds none.
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

// DefaultFormat returns the format with [DefaultPrefix], which a [Manager]
// issues and accepts unless [WithPrefix] sets another.
func DefaultFormat() Format { return Format{prefix: DefaultPrefix + "_"} }

// Prefix returns the format's prefix, without the underscore.
func (f Format) Prefix() string { return strings.TrimSuffix(f.prefix, "_") }

// Len returns the length of every token of this format.
func (f Format) Len() int { return len(f.prefix) + payloadLen + checksumLen }

// encode returns the token of this format whose payload is raw: the
// prefix, raw in base62 and the checksum.
func (f Format) encode(raw *[32]byte) string {
	b := make([]byte, 0, f.Len())
	b = append(b, f.prefix...)
	b = appendBase62(b, raw[:], payloadLen)
	sum := crc32.Checksum(b, castagnoli)
	b = appendBase62(b, []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}, checksumLen)
	return string(b)
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
	if !checksumOK(unsafeBytes(s)) {
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

// checksumOK verifies the trailing checksum of a token, of any prefix,
// whose length and alphabet are already checked.
func checksumOK(b []byte) bool {
	n := len(b) - checksumLen
	want := crc32.Checksum(b[:n], castagnoli)
	var got uint64
	for _, c := range b[n:] {
		got = got*62 + uint64(base62Val[c]-1)
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
