package gitreq

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CheckPath returns [ErrBadPath] if the path of r is unsafe. It looks at
// the path as the client sent it (RequestURI, and URL.RawPath where set)
// and as decoded (URL.Path), so that neither an authentication layer nor
// a backend can be given a path that means something else after decoding
// or cleaning. A safe path is absolute, valid UTF-8 without control
// characters or backslashes, and its own path.Clean: no empty segment
// ("//" or a trailing slash), no "." segment, no ".." anywhere; and
// nothing in it is percent-encoded that changes how it splits or cleans
// (".", "/", "\", "%") or a control byte.
func CheckPath(r *http.Request) error {
	raw := r.RequestURI
	if raw == "" {
		raw = r.URL.EscapedPath()
	}
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if !strings.HasPrefix(raw, "/") {
		// absolute-form ("http://host/path"), as sent to proxies.
		i := strings.Index(raw, "://")
		if i < 0 {
			return ErrBadPath
		}
		j := strings.IndexByte(raw[i+3:], '/')
		if j < 0 {
			return ErrBadPath
		}
		raw = raw[i+3+j:]
	}
	if raw == r.URL.Path && r.URL.RawPath == "" {
		// Nothing was percent-encoded (the usual case): the decoded
		// checks cover the raw path too, but for a fragment.
		if strings.IndexByte(raw, '#') >= 0 || !cleanPathOK(raw) {
			return ErrBadPath
		}
		return nil
	}
	if !rawPathOK(raw) || (r.URL.RawPath != "" && !rawPathOK(r.URL.RawPath)) {
		return ErrBadPath
	}
	if !cleanPathOK(r.URL.Path) {
		return ErrBadPath
	}
	return nil
}

// rawPathOK checks a path as sent, before percent-decoding: no control
// bytes, no backslash, no fragment, and no percent-encoding of a byte that
// changes how the path splits or cleans (".", "/", "\", "%") or of a
// control byte.
func rawPathOK(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c < 0x20 || c == 0x7f || c == '\\' || c == '#':
			return false
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return false
			}
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			if d < 0x20 || d == 0x7f || d == '.' || d == '/' || d == '\\' || d == '%' {
				return false
			}
			i += 2
		}
	}
	return true
}

// cleanPathOK checks the decoded path: absolute, valid UTF-8 without
// control characters or backslashes, and clean: no empty segment ("//" or
// a trailing slash), no "." segment and no ".." anywhere. Such a path is
// its own path.Clean.
func cleanPathOK(p string) bool {
	return len(p) >= 2 && p[0] == '/' && segmentsOK(p[1:])
}

// ValidDir reports whether dir is a safe directory relative to a root
// directory: slash-separated, non-empty segments, none "." and no ".."
// anywhere, no backslash, no control character, valid UTF-8. It is what
// CheckPath accepts as a path, without the leading slash.
func ValidDir(dir string) bool { return segmentsOK(dir) }

// segmentsOK checks a relative slash-separated path: non-empty segments,
// none ".", no "..", no backslash, no control character, valid UTF-8.
func segmentsOK(p string) bool {
	if p == "" {
		return false
	}
	start := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			if i == start || (i == start+1 && p[start] == '.') {
				return false
			}
			start = i + 1
		case c == '.':
			if i+1 < len(p) && p[i+1] == '.' {
				return false
			}
		case c < 0x20 || c == 0x7f || c == '\\':
			return false
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(p[i:])
			if r == utf8.RuneError || unicode.IsControl(r) {
				return false
			}
			i += n - 1
		}
	}
	last := p[start:]
	return last != "" && last != "."
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
