package accesstoken_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
)

// tokenShape matches a token of any prefix at the start of a text.
var tokenShape = regexp.MustCompile(`^[a-z][a-z0-9]{0,15}_[0-9A-Za-z]{49}`)

func isWord(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_'
}

// referenceScan is the definition of what Scan finds, written the slow
// way: at every position not preceded by a word character, a token shape
// not followed by one; its kind from Format.Check and the known secrets.
func referenceScan(content []byte, live map[string]bool) []accesstoken.Finding {
	var out []accesstoken.Finding
	for s := 0; s < len(content); s++ {
		if s > 0 && isWord(content[s-1]) {
			continue
		}
		m := tokenShape.Find(content[s:])
		if m == nil {
			continue
		}
		end := s + len(m)
		if end < len(content) && isWord(content[end]) {
			continue
		}
		tok := string(m)
		prefix := tok[:strings.IndexByte(tok, '_')]
		f := accesstoken.Finding{Offset: s, Length: len(m), Prefix: prefix}
		f.Line = bytes.Count(content[:s], []byte{'\n'}) + 1
		f.Column = s - (bytes.LastIndexByte(content[:s], '\n') + 1) + 1
		format, _ := accesstoken.NewFormat(prefix)
		wellFormed := format.Check(tok) == nil
		switch {
		case prefix == "gat" && !wellFormed:
			f.Kind = accesstoken.FindingMalformed
		case prefix == "gat" && live[tok]:
			f.Kind = accesstoken.FindingLive
		case prefix == "gat":
			f.Kind = accesstoken.FindingUnknown
		case wellFormed:
			f.Kind = accesstoken.FindingOtherPrefix
		default:
			continue
		}
		out = append(out, f)
	}
	return out
}

// FuzzScan checks Scan against referenceScan, with and without other
// prefixes, and against Format.FindAll: no panic, every finding where the
// definition puts it, nothing else.
func FuzzScan(f *testing.F) {
	e := newScanEnv(f)
	tok := e.issueFor(f, 0).Secret.Reveal()
	other, _ := accesstoken.NewFormat("acme")
	otherTok := mustGenerate(f, other)
	unknown := mustGenerate(f, accesstoken.DefaultFormat())
	f.Add([]byte(tok))
	f.Add([]byte("x=" + tok + "\n" + unknown + " " + otherTok + "\r\n_" + tok))
	f.Add([]byte(badChecksum(tok) + "\n" + tok[:20] + "\n" + tok[20:]))
	f.Add([]byte(strings.Repeat("gat_", 30) + "\x00\xff" + tok))
	f.Add([]byte("p234567890123456_" + tok[4:] + " " + "p2345678901234567_" + tok[4:]))
	f.Add([]byte("é" + tok + "é"))
	f.Add([]byte{})
	live := map[string]bool{tok: true}
	f.Fuzz(func(t *testing.T, content []byte) {
		want := referenceScan(content, live)
		opts := accesstoken.ScanOptions{IncludeUnknown: true, IncludeMalformed: true, IncludeOtherPrefixes: true, MaxLookups: -1}
		got, err := e.m.Scan(ctx, content, opts)
		if err != nil {
			t.Fatal(err)
		}
		equalFindings(t, "all prefixes", got, want)

		var own []accesstoken.Finding
		for _, f := range want {
			if f.Prefix == "gat" {
				own = append(own, f)
			}
		}
		opts.IncludeOtherPrefixes = false
		got, err = e.m.Scan(ctx, content, opts)
		if err != nil {
			t.Fatal(err)
		}
		equalFindings(t, "own prefix", got, own)

		var wellFormed []string
		for _, f := range own {
			if f.Kind != accesstoken.FindingMalformed {
				wellFormed = append(wellFormed, string(content[f.Offset:f.Offset+f.Length]))
				if s := f.Secret(content).Reveal(); s != wellFormed[len(wellFormed)-1] {
					t.Fatalf("Secret = %q; want the token at the finding", s)
				}
			}
		}
		found := accesstoken.DefaultFormat().FindAll(string(content))
		if strings.Join(found, ",") != strings.Join(wellFormed, ",") {
			t.Fatalf("FindAll found %q; Scan %q", found, wellFormed)
		}
	})
}

func equalFindings(t *testing.T, what string, got, want []accesstoken.Finding) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d findings %v; want %d %v", what, len(got), got, len(want), want)
	}
	for i := range got {
		g, w := got[i], want[i]
		g.Token = accesstoken.Token{}
		if g != w {
			t.Fatalf("%s: finding %d is %+v; want %+v", what, i, g, w)
		}
	}
}
