package httpauth

import (
	"net/http"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkPath rejects unsafe request paths (see [ErrBadPath]). It looks at
// the path as the client sent it (RequestURI, and URL.RawPath where set)
// and as decoded (URL.Path), so that neither the middleware nor a backend
// can be given a path that means something else after decoding or
// cleaning.
func checkPath(r *http.Request) error {
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
// control characters or backslashes, and equal to its cleaned form (so no
// "//", no "." or ".." segment, no trailing slash).
func cleanPathOK(p string) bool {
	if len(p) < 2 || p[0] != '/' || !utf8.ValidString(p) {
		return false
	}
	for _, c := range p {
		if c == '\\' || unicode.IsControl(c) || c == utf8.RuneError {
			return false
		}
	}
	if strings.Contains(p, "..") || strings.Contains(p, "//") {
		return false
	}
	return path.Clean(p) == p
}

// dirOK reports whether dir is a safe directory relative to the project
// root: non-empty, relative, clean, slash-separated, with no ".." segment
// and nothing cleanPathOK would reject.
func dirOK(dir string) bool {
	return dir != "" && dir[0] != '/' && cleanPathOK("/"+dir)
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
