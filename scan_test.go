package accesstoken_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/internal/clocktest"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/stretchr/testify/require"
)

// lookupStore counts the store lookups of a scan, and fails them on
// demand.
type lookupStore struct {
	*memstore.Store
	mu    sync.Mutex
	calls int
	err   error
}

func (s *lookupStore) ByDigest(ctx context.Context, d accesstoken.Digest) (accesstoken.Record, error) {
	s.mu.Lock()
	s.calls++
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return accesstoken.Record{}, err
	}
	return s.Store.ByDigest(ctx, d)
}

func (s *lookupStore) lookups() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

// scanEnv is a Manager over a counting store, with a settable clock.
type scanEnv struct {
	m     *accesstoken.Manager
	store *lookupStore
	clock *clocktest.Clock
}

func newScanEnv(t testing.TB, opts ...accesstoken.Option) *scanEnv {
	t.Helper()
	e := &scanEnv{store: &lookupStore{Store: memstore.New()}, clock: newClock()}
	m, err := accesstoken.New(e.store, newPerms(), append([]accesstoken.Option{accesstoken.WithClock(e.clock.Now)}, opts...)...)
	require.NoError(t, err)
	e.m = m
	return e
}

// issueFor issues a token of project demo, expiring after ttl unless it
// is zero.
func (e *scanEnv) issueFor(t testing.TB, ttl time.Duration) *accesstoken.Issued {
	t.Helper()
	req := accesstoken.IssueRequest{Owner: "alice", Description: fmt.Sprintf("scan test %d", issued.Add(1)), Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}}
	if ttl != 0 {
		req.ExpiresAt = e.clock.Now().Add(ttl)
	}
	iss, err := e.m.Issue(ctx, req)
	require.NoError(t, err)
	return iss
}

// badChecksum returns tok with its last character changed: the same
// shape, a checksum that fails.
func badChecksum(tok string) string {
	last := tok[len(tok)-1]
	c := byte('0')
	if last == '0' {
		c = '1'
	}
	return tok[:len(tok)-1] + string(c)
}

var allKinds = accesstoken.ScanOptions{IncludeRevoked: true, IncludeExpired: true, IncludeUnknown: true, IncludeMalformed: true, IncludeOtherPrefixes: true}

// TestScanKinds: every kind of finding, where it is, and which ones each
// option reports.
func TestScanKinds(t *testing.T) {
	e := newScanEnv(t)
	live := e.issueFor(t, 0)
	revoked := e.issueFor(t, 0)
	_, err := e.m.Revoke(ctx, "alice", revoked.Token.ID)
	require.NoError(t, err)
	expired := e.issueFor(t, time.Hour)
	e.clock.Advance(2 * time.Hour)
	unknown := mustGenerate(t, accesstoken.DefaultFormat())
	otherFormat, err := accesstoken.NewFormat("acme")
	require.NoError(t, err)
	other := mustGenerate(t, otherFormat)

	content := strings.Join([]string{
		"# CI configuration",
		"token: " + live.Secret.Reveal(),
		"old=" + revoked.Secret.Reveal() + " expired=" + expired.Secret.Reveal(),
		"\t" + unknown + "\t" + badChecksum(live.Secret.Reveal()),
		"(" + other + ")",
		"acme_" + badChecksum(other[len("acme_"):]), // another prefix, bad checksum: not reported
		"",
	}, "\n")
	at := func(s string) int { return strings.Index(content, s) }
	type want struct {
		kind      accesstoken.FindingKind
		offset    int
		line, col int
		prefix    string
		id        string
	}
	all := []want{
		{accesstoken.FindingLive, at(live.Secret.Reveal()), 2, 8, "gat", live.Token.ID.String()},
		{accesstoken.FindingRevoked, at(revoked.Secret.Reveal()), 3, 5, "gat", revoked.Token.ID.String()},
		{accesstoken.FindingExpired, at(expired.Secret.Reveal()), 3, 5 + 53 + 9, "gat", expired.Token.ID.String()},
		{accesstoken.FindingUnknown, at(unknown), 4, 2, "gat", "00000000-0000-0000-0000-000000000000"},
		{accesstoken.FindingMalformed, at(badChecksum(live.Secret.Reveal())), 4, 2 + 53 + 1, "gat", "00000000-0000-0000-0000-000000000000"},
		{accesstoken.FindingOtherPrefix, at(other), 5, 2, "acme", "00000000-0000-0000-0000-000000000000"},
	}
	tests := []struct {
		name string
		opts accesstoken.ScanOptions
		want []want
	}{
		{"default: live only", accesstoken.ScanOptions{}, all[:1]},
		{"revoked", accesstoken.ScanOptions{IncludeRevoked: true}, all[:2]},
		{"expired", accesstoken.ScanOptions{IncludeExpired: true}, []want{all[0], all[2]}},
		{"unknown", accesstoken.ScanOptions{IncludeUnknown: true}, []want{all[0], all[3]}},
		{"malformed", accesstoken.ScanOptions{IncludeMalformed: true}, []want{all[0], all[4]}},
		{"other prefixes", accesstoken.ScanOptions{IncludeOtherPrefixes: true}, []want{all[0], all[5]}},
		{"everything", allKinds, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.m.Scan(ctx, []byte(content), tt.opts)
			require.NoError(t, err)
			var gotW []want
			for _, f := range got {
				require.Equal(t, f.Offset+f.Length <= len(content), true)
				gotW = append(gotW, want{f.Kind, f.Offset, f.Line, f.Column, f.Prefix, f.Token.ID.String()})
			}
			require.Equal(t, tt.want, gotW)
		})
	}
	got, err := e.m.Scan(ctx, []byte(content), accesstoken.ScanOptions{})
	require.NoError(t, err)
	require.Equal(t, "alice", got[0].Token.Owner)
	require.Equal(t, accesstoken.ProjectTarget("demo"), got[0].Token.Target)
	require.Equal(t, live.Secret.Reveal(), content[got[0].Offset:got[0].Offset+got[0].Length])
}

// TestScanStandsOnItsOwn: a token is found only where it stands on its
// own, whole, on one line.
func TestScanStandsOnItsOwn(t *testing.T) {
	e := newScanEnv(t)
	tok := e.issueFor(t, 0).Secret.Reveal()
	payload := tok[len("gat_"):]
	tests := []struct {
		name string
		in   string
		want int // live findings
	}{
		{"alone", tok, 1},
		{"in quotes", `"` + tok + `"`, 1},
		{"after a colon", "password:" + tok, 1},
		{"in a URL", "https://x:" + tok + "@example.com/r.git", 1},
		{"twice", tok + "\n" + tok, 2},
		{"after a tab, before CRLF", "\t" + tok + "\r\n", 1},
		{"glued to a word before", "x" + tok, 0},
		{"glued to a digit before", "1" + tok, 0},
		{"after an underscore", "_" + tok, 0},
		{"glued to a word after", tok + "x", 0},
		{"followed by an underscore", tok + "_", 0},
		{"split across lines", tok[:30] + "\n" + tok[30:], 0},
		{"split with a backslash", tok[:30] + "\\\n" + tok[30:], 0},
		{"split by a space", tok[:30] + " " + tok[30:], 0},
		{"truncated", tok[:len(tok)-1], 0},
		{"upper-case prefix", "GAT_" + payload, 0},
		{"non-ASCII before", "é" + tok, 1},
		{"empty", "", 0},
		{"prefix only", "gat_", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.m.Scan(ctx, []byte(tt.in), allKinds)
			require.NoError(t, err)
			live := 0
			for _, f := range got {
				if f.Kind == accesstoken.FindingLive {
					live++
				}
			}
			require.Equal(t, tt.want, live, "findings: %v", got)
			got2, err := e.m.Scan(ctx, []byte(tt.in), accesstoken.ScanOptions{})
			require.NoError(t, err)
			require.Len(t, got2, tt.want, "live tokens with the default options")
		})
	}
}

// TestScanLooksUpOncePerToken: the store is asked once per distinct
// well-formed token of the Manager's format, never for anything else,
// and a Scanner remembers across its scans.
func TestScanLooksUpOncePerToken(t *testing.T) {
	e := newScanEnv(t)
	tok := e.issueFor(t, 0).Secret.Reveal()
	noise := strings.Repeat("gat_ gat_x "+badChecksum(tok)+" acme_"+tok[4:]+" x"+tok+"\n", 1000)

	got, err := e.m.Scan(ctx, []byte(noise), accesstoken.ScanOptions{})
	require.NoError(t, err)
	require.Empty(t, got)
	require.Zero(t, e.store.lookups(), "nothing well-formed in the noise, nothing looked up")

	content := []byte(strings.Repeat(tok+"\n", 500))
	sc := e.m.NewScanner(accesstoken.ScanOptions{})
	got, err = sc.Scan(ctx, content)
	require.NoError(t, err)
	require.Len(t, got, 500)
	require.Equal(t, 1, e.store.lookups())
	got, err = sc.Scan(ctx, content)
	require.NoError(t, err)
	require.Len(t, got, 500)
	require.Equal(t, 1, e.store.lookups(), "the Scanner remembers")
	for i, f := range got {
		require.Equal(t, i+1, f.Line)
		require.Equal(t, 1, f.Column)
	}
}

// TestScanLimit: beyond MaxLookups distinct tokens, the scan stops with
// ErrScanLimit and what it found so far.
func TestScanLimit(t *testing.T) {
	e := newScanEnv(t)
	var b strings.Builder
	for range 5 {
		b.WriteString(mustGenerate(t, accesstoken.DefaultFormat()) + "\n")
	}
	got, err := e.m.Scan(ctx, []byte(b.String()), accesstoken.ScanOptions{IncludeUnknown: true, MaxLookups: 3})
	require.ErrorIs(t, err, accesstoken.ErrScanLimit)
	require.Len(t, got, 3)
	require.Equal(t, 3, e.store.lookups())

	got, err = e.m.Scan(ctx, []byte(b.String()), accesstoken.ScanOptions{IncludeUnknown: true, MaxLookups: -1})
	require.NoError(t, err)
	require.Len(t, got, 5)

	// A token seen again costs no lookup, so does not count.
	one := mustGenerate(t, accesstoken.DefaultFormat())
	_, err = e.m.Scan(ctx, []byte(strings.Repeat(one+" ", 10)), accesstoken.ScanOptions{MaxLookups: 1})
	require.NoError(t, err)
}

// TestScanFailsClosed: a store failure stops the scan with an error that
// says so, and holds no part of the token.
func TestScanFailsClosed(t *testing.T) {
	e := newScanEnv(t)
	tok := e.issueFor(t, 0).Secret.Reveal()
	e.store.mu.Lock()
	e.store.err = errors.New("connection refused")
	e.store.mu.Unlock()
	got, err := e.m.Scan(ctx, []byte("a\n"+tok), accesstoken.ScanOptions{})
	require.Empty(t, got)
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
	require.True(t, accesstoken.Temporary(err))
	requireNoPart(t, err.Error(), tok)

	e.store.mu.Lock()
	e.store.err = nil
	e.store.mu.Unlock()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = e.m.Scan(cctx, []byte(tok), accesstoken.ScanOptions{})
	require.ErrorIs(t, err, context.Canceled)

	// A store that answers with another token's record is caught.
	ls := lyingStore{memstore.New()}
	m2, err := accesstoken.New(ls, accesstoken.InsecureAllowAll())
	require.NoError(t, err)
	issue(t, m2, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	_, err = m2.Scan(ctx, []byte(mustGenerate(t, accesstoken.DefaultFormat())), accesstoken.ScanOptions{})
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
}

// requireNoPart fails if s holds the secret or any 8 characters of its
// random part.
func requireNoPart(t *testing.T, s, secret string) {
	t.Helper()
	body := secret[strings.IndexByte(secret, '_')+1:]
	for i := 0; i+8 <= len(body); i++ {
		if strings.Contains(s, body[i:i+8]) {
			t.Fatalf("%q holds part of the secret (%q)", s, body[i:i+8])
		}
	}
}

// TestFindingHoldsNoSecret: a Finding, printed, logged or serialised in
// any way, holds no part of the token; Secret gives it back, redacted,
// from the content.
func TestFindingHoldsNoSecret(t *testing.T) {
	e := newScanEnv(t)
	tok := e.issueFor(t, 0).Secret.Reveal()
	content := []byte("x = " + tok + "\n" + badChecksum(tok))
	got, err := e.m.Scan(ctx, content, allKinds)
	require.NoError(t, err)
	require.Len(t, got, 2)
	var logged strings.Builder
	l := slog.New(slog.NewJSONHandler(&logged, nil))
	for _, f := range got {
		j, err := json.Marshal(f)
		require.NoError(t, err)
		l.Info("found", "finding", f, "any", any(f))
		for _, s := range []string{f.String(), fmt.Sprint(f), fmt.Sprintf("%+v", f), fmt.Sprintf("%#v", f), string(j)} {
			requireNoPart(t, s, tok)
		}
	}
	requireNoPart(t, logged.String(), tok)
	require.Equal(t, `live token `+got[0].Token.ID.String()+` (owner "alice") at line 1, column 5`, got[0].String())

	s := got[0].Secret(content)
	require.Equal(t, tok, s.Reveal())
	require.Equal(t, "[REDACTED]", fmt.Sprint(s))
	require.Zero(t, got[1].Secret(content).Reveal(), "a malformed token has no secret")
	require.Zero(t, got[0].Secret(content[:10]).Reveal(), "content too short")
	changed := append([]byte(nil), content...)
	changed[got[0].Offset+10] ^= 1
	require.Zero(t, got[0].Secret(changed).Reveal(), "content changed")
	require.Zero(t, accesstoken.Finding{Offset: -1, Length: 3}.Secret(content).Reveal())
}

// TestScanOtherFormats: a Manager with its own prefix and a pepper finds
// its tokens, and sees the default format's as another prefix's.
func TestScanOtherFormats(t *testing.T) {
	e := newScanEnv(t, accesstoken.WithPrefix("acme"), accesstoken.WithPepper([]byte(strings.Repeat("p", 32))))
	tok := e.issueFor(t, 0).Secret.Reveal()
	require.True(t, strings.HasPrefix(tok, "acme_"))
	gat := mustGenerate(t, accesstoken.DefaultFormat())
	content := []byte(gat + " " + tok)
	got, err := e.m.Scan(ctx, content, accesstoken.ScanOptions{})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, accesstoken.FindingLive, got[0].Kind)
	require.Equal(t, "acme", got[0].Prefix)
	got, err = e.m.Scan(ctx, content, allKinds)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, accesstoken.FindingOtherPrefix, got[0].Kind)
	require.Equal(t, "gat", got[0].Prefix)
	require.Equal(t, gat, got[0].Secret(content).Reveal())

	// Prefixes of 16 characters are tokens; of 17, not.
	f16, err := accesstoken.NewFormat("p234567890123456")
	require.NoError(t, err)
	t16 := mustGenerate(t, f16)
	for _, tt := range []struct {
		in   string
		want int
	}{{t16, 1}, {"q" + t16, 0}, {"Q" + t16, 0}, {" " + t16, 1}, {"9" + t16[1:], 0}} {
		got, err := e.m.Scan(ctx, []byte(tt.in), allKinds)
		require.NoError(t, err)
		require.Len(t, got, tt.want, "%q", tt.in)
	}
}

func TestFindingKindString(t *testing.T) {
	for k, want := range map[accesstoken.FindingKind]string{
		accesstoken.FindingLive: "live", accesstoken.FindingRevoked: "revoked", accesstoken.FindingExpired: "expired",
		accesstoken.FindingUnknown: "unknown", accesstoken.FindingMalformed: "malformed", accesstoken.FindingOtherPrefix: "other-prefix",
		0: "FindingKind(0)", 99: "FindingKind(99)",
	} {
		require.Equal(t, want, k.String())
	}
}
