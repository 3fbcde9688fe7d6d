package gitreq

import (
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanPathOK(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"/a/b.git/info/refs", true},
		{"/~alice/demo/+git/hello/HEAD", true},
		{"/a/.hidden/x", true},
		{"/a/b.c/x", true},
		{"/é/x", true},
		{"/", false},
		{"", false},
		{"a/b", false},
		{"/a//b", false},
		{"/a/b/", false},
		{"/a/./b", false},
		{"/a/.", false},
		{"/./a", false},
		{"/a/../b", false},
		{"/a/b..c", false},
		{"/a/..", false},
		{"/a\\b", false},
		{"/a\x00b", false},
		{"/a\nb", false},
		{"/a\x7fb", false},
		{"/a\u0085b", false},
		{"/a\xffb", false},
	} {
		if got := cleanPathOK(tc.in); got != tc.want {
			t.Errorf("cleanPathOK(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzCleanPathOK checks that every path cleanPathOK accepts is its own
// path.Clean, valid UTF-8, and free of "..", "//" and backslashes.
func FuzzCleanPathOK(f *testing.F) {
	for _, s := range []string{"/a/b", "/a/../b", "/a//b", "/./a", "/a/.", "/a/b/", "/a\\b", "/\xff", "/a/.b/c.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if !cleanPathOK(p) {
			return
		}
		if path.Clean(p) != p || !utf8.ValidString(p) || strings.Contains(p, "..") || strings.Contains(p, "//") || strings.ContainsRune(p, '\\') {
			t.Fatalf("cleanPathOK accepted %q", p)
		}
	})
}

func TestValidGitProtocol(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"version=2", true},
		{"version=2:object-format=sha256", true},
		{"version=1", true},
		{"", false},
		{"version=2\nGIT_CONFIG_COUNT=1", false},
		{"version=2 x", false},
		{"version=2;x", false},
		{strings.Repeat("a", 257), false},
	} {
		if got := ValidGitProtocol(tc.in); got != tc.want {
			t.Errorf("ValidGitProtocol(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}
