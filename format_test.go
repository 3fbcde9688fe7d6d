package accesstoken_test

import (
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/stretchr/testify/require"
)

func TestZeroFormatAcceptsNothing(t *testing.T) {
	var f accesstoken.Format
	tok := mustGenerate(t, accesstoken.DefaultFormat())
	require.ErrorIs(t, f.Check(tok[4:]), accesstoken.ErrMalformed)
	require.ErrorIs(t, f.Check(tok), accesstoken.ErrMalformed)
	require.Nil(t, f.FindAll(tok+" "+tok[4:]))
}

// mustGenerate returns a new token string; t may be nil outside a test,
// where a failure panics.
func mustGenerate(t testing.TB, f accesstoken.Format) string {
	s, err := f.Generate()
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Fatal(err)
	}
	return s.Reveal()
}

// flipLast changes the last character of s.
func flipLast(s string) string {
	if s[len(s)-1] == '0' {
		return s[:len(s)-1] + "1"
	}
	return s[:len(s)-1] + "0"
}

func TestFormatGenerate(t *testing.T) {
	f := accesstoken.DefaultFormat()
	seen := map[string]bool{}
	for range 200 {
		s := mustGenerate(t, f)
		if got, want := len(s), f.Len(); got != want {
			t.Fatalf("len = %d; want %d", got, want)
		}
		if !strings.HasPrefix(s, "gat_") {
			t.Fatalf("token %q lacks the gat_ prefix", s)
		}
		for _, c := range s[4:] {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				t.Fatalf("token has %q outside base62", c)
			}
		}
		if err := f.Check(s); err != nil {
			t.Fatalf("Check(generated) = %v; want nil", err)
		}
		if seen[s] {
			t.Fatal("Generate repeated a token")
		}
		seen[s] = true
	}
}

// TestFormatChecksumIsCRC32 pins the documented format: the last six
// characters are the base62 CRC-32C (Castagnoli) of everything before them, so
// that secret scanners can implement the check independently.
func TestFormatChecksumIsCRC32C(t *testing.T) {
	s := mustGenerate(t, accesstoken.DefaultFormat())
	body, sum := s[:len(s)-6], s[len(s)-6:]
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var v uint64
	for _, c := range sum {
		v = v*62 + uint64(strings.IndexRune(alphabet, c))
	}
	if got, want := v, uint64(crc32.Checksum([]byte(body), crc32.MakeTable(crc32.Castagnoli))); got != want {
		t.Fatalf("checksum = %d; want CRC-32C %d", got, want)
	}
}

func TestFormatCheckRejects(t *testing.T) {
	f := accesstoken.DefaultFormat()
	good := mustGenerate(t, f)
	other, err := accesstoken.NewFormat("acme")
	require.NoError(t, err)
	otherTok := mustGenerate(t, other)
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	swapped := []byte(good)
	swapped[10], swapped[11] = swapped[11], swapped[10]
	if swapped[10] == swapped[11] {
		swapped[10], swapped[11] = 'x', 'y'
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty"},
		{"truncated", good[:len(good)-1], "wrong length"},
		{"extended", good + "a", "wrong length"},
		{"one megabyte", strings.Repeat("a", 1<<20), "wrong length"},
		{"wrong prefix", "xyz" + good[3:], "wrong prefix"},
		{"other deployment's prefix", otherTok, "wrong length"},
		{"upper-case prefix", "GAT" + good[3:], "wrong prefix"},
		{"mistyped payload", flip(20), "checksum"},
		{"mistyped checksum", flip(len(good) - 1), "checksum"},
		{"transposed", string(swapped), "checksum"},
		{"non-ASCII", good[:10] + "é" + good[12:], "alphabet"},
		{"space", good[:10] + " " + good[11:], "alphabet"},
		{"NUL", good[:10] + "\x00" + good[11:], "alphabet"},
		{"invalid UTF-8", good[:10] + "\xff" + good[11:], "alphabet"},
		{"dash", good[:10] + "-" + good[11:], "alphabet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.Check(tt.in)
			if !errors.Is(err, accesstoken.ErrMalformed) {
				t.Fatalf("Check = %v; want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q; want it to say %q", err, tt.want)
			}
			if len(tt.in) > 8 && strings.Contains(err.Error(), tt.in[4:12]) {
				t.Errorf("error %q quotes the secret", err)
			}
		})
	}
}

func TestCheckMalformedDoesNotAllocate(t *testing.T) {
	f := accesstoken.DefaultFormat()
	good := mustGenerate(t, f)
	bad := flipLast(good)
	for _, in := range []string{"", bad, strings.Repeat("x", 1<<20), good} {
		if n := testing.AllocsPerRun(100, func() { _ = f.Check(in) }); n != 0 {
			t.Errorf("Check allocates %v times; want 0", n)
		}
	}
}

func TestNewFormat(t *testing.T) {
	for _, p := range []string{"a", "gat", "acme2", "abcdefghijklmnop"} {
		f, err := accesstoken.NewFormat(p)
		require.NoError(t, err, p)
		require.Equal(t, p, f.Prefix())
		require.NoError(t, f.Check(mustGenerate(t, f)))
	}
	for _, p := range []string{"", "A", "1abc", "ab_c", "ab-c", "abcdefghijklmnopq", "é", "a\x00"} {
		if _, err := accesstoken.NewFormat(p); err == nil {
			t.Errorf("NewFormat(%q) = nil error; want one", p)
		}
	}
}

func TestFindAll(t *testing.T) {
	f := accesstoken.DefaultFormat()
	a, b := mustGenerate(t, f), mustGenerate(t, f)
	broken := flipLast(a)
	text := strings.Join([]string{
		"password=" + a,                 // after punctuation: found
		"url: https://u:" + b + "@host", // inside a URL: found
		"x" + a,                         // glued to a word: not a token
		a + "x",                         // glued to a word: not a token
		broken,                          // bad checksum
		"gat_",                          // prefix alone at the end
	}, "\n") + "\n" + a
	got := f.FindAll(text)
	want := []string{a, b, a}
	require.Equal(t, want, got)
	require.Nil(t, f.FindAll("no tokens here gat_ gat_gat_"))
	require.Nil(t, f.FindAll(""))
}

// TestREADMEToken checks that the sample token in the README is a real
// token of the documented format.
