package accesstoken

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDescriptionLen is the longest description (and revocation reason)
// accepted, in characters (runes).
const MaxDescriptionLen = 255

func checkDescription(s string) error { return checkText(ErrBadDescription, s, true) }

// checkReason checks a revocation reason, which may be empty unless
// required.
func checkReason(s string, required bool) error { return checkText(ErrBadReason, s, required) }

// checkText checks text that people read (a description, a revocation
// reason): not empty if required, at most MaxDescriptionLen characters,
// and nothing that can mislead a reader: no control characters, no
// invisible format characters (Unicode's Cf: bidirectional overrides and
// isolates such as U+202E, zero-width spaces and joiners, soft hyphens,
// tags, ...), no line or paragraph separators, no blank fillers, and no
// white space at either end. The error (kind, and ErrInvalidInput) names
// the character by its code point, never quotes the text.
func checkText(kind error, s string, required bool) error {
	switch {
	case s == "" && !required:
		return nil
	case strings.TrimSpace(s) == "":
		return invalid(kind, "empty")
	case !utf8.ValidString(s):
		return invalid(kind, "not valid UTF-8")
	case utf8.RuneCountInString(s) > MaxDescriptionLen:
		return invalid(kind, fmt.Sprintf("longer than %d characters", MaxDescriptionLen))
	case strings.TrimSpace(s) != s:
		return invalid(kind, "begins or ends with white space")
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return invalid(kind, fmt.Sprintf("control character U+%04X", r))
		case unicode.Is(unicode.Cf, r):
			return invalid(kind, fmt.Sprintf("invisible format character U+%04X (such as a bidirectional override or a zero-width character), which can make text read other than it is", r))
		case unicode.In(r, unicode.Zl, unicode.Zp), blankFiller(r):
			return invalid(kind, fmt.Sprintf("invisible character U+%04X", r))
		}
	}
	return nil
}

// blankFiller reports whether r is a character that shows as nothing, or
// as a blank, without being white space or a format character: Hangul
// fillers, the combining grapheme joiner, Khmer's inherent vowels, the
// blank Braille pattern.
func blankFiller(r rune) bool {
	switch r {
	case 0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0:
		return true
	}
	return false
}
