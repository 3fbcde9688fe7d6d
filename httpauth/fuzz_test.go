package httpauth_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitreq"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/forgekit/accesstoken/memstore"
)

// FuzzClassify sends arbitrary requests through the middleware with a
// pull-only token that covers every repository, and through Classify. It
// checks that nothing panics, that no request a write by the rule of
// SECURITY.md is ever classified (or let through) as a pull, and
// that a path with a forbidden sequence is always refused with 400 and
// never reaches the next handler.
func FuzzClassify(f *testing.F) {
	seeds := []struct{ method, target, body string }{
		{"GET", "/p/r.git/info/refs?service=git-upload-pack", ""},
		{"GET", "/p/r.git/info/refs?service=git-receive-pack", ""},
		{"HEAD", "/p/r.git/info/refs?service=git-receive-pack", ""},
		{"GET", "/p/r.git/info/refs?service=git-upload-pack&service=git-receive-pack", ""},
		{"GET", "/p/r.git/info/refs?service=git%2Dreceive-pack", ""},
		{"GET", "/p/r.git/info/refs?service=git-receive-pack%00", ""},
		{"POST", "/p/r.git/git-receive-pack?service=git-upload-pack", "0000"},
		{"POST", "/p/r.git/git-upload-pack?service=git-receive-pack", "0000"},
		{"POST", "/p/r.git/git-upload-archive", "0000"},
		{"GET", "/p/r.git/HEAD", ""},
		{"GET", "/p/r.git/objects/info/packs", ""},
		{"GET", "/p/r.git/objects/01/23456789abcdef0123456789abcdef01234567", ""},
		{"POST", "/p/r.git/info/lfs/objects/batch?service=git-upload-pack", `{"operation":"upload"}`},
		{"POST", "/p/r.git/info/lfs/objects/batch", `{"operation":"download"}`},
		{"POST", "/p/r.git/info/lfs/objects/batch", `{"Operation":"download","operation":"upload"}`},
		{"POST", "/p/r.git/info/lfs/objects/batch", `{"operation":"download","operation":"upload"}`},
		{"PUT", "/p/r.git/info/lfs/objects/" + oid256 + "?service=git-upload-pack", "abc"},
		{"GET", "/p/r.git/info/lfs/objects/" + oid256, ""},
		{"POST", "/p/r.git/info/lfs/locks?service=git-upload-pack", "{}"},
		{"GET", "/p/r.git/info/lfs/locks", ""},
		{"POST", "/p/r.git/info/lfs/locks/verify", "{}"},
		{"POST", "/p/r.git/info/lfs/locks/1/unlock", "{}"},
		{"POST", "/p/r.git/info/lfs/verify", "{}"},
		{"POST", "/p/../q/r.git/git-receive-pack", "0000"},
		{"POST", "/p/%2e%2e/q/r.git/git-receive-pack", "0000"},
		{"POST", "/p%2fr.git/git-receive-pack", "0000"},
		{"POST", "//p/r.git/git-receive-pack", "0000"},
		{"GET", "/p/r.git%00/info/refs?service=git-upload-pack", ""},
		{"GET", "/p/\xff.git/info/refs", ""},
		{"GET", "/p/r.git/info/refs/info/refs?service=git-receive-pack", ""},
		{"POST", "/p/git-receive-pack/git-upload-pack", "0000"},
		{"GET", "http://h/p/r.git/info/refs?service=git-receive-pack", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, []byte(s.body))
	}

	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if err != nil {
		f.Fatal(err)
	}
	iss, err := m.Issue(context.Background(), accesstoken.IssueRequest{Description: nextDescription(), Owner: "alice",
		Target: accesstoken.ProjectTarget("p"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
	if err != nil {
		f.Fatal(err)
	}
	auth := "Basic " + b64("x:"+iss.Secret.Reveal())
	repo := &httpauth.Repo{Resource: accesstoken.Resource{Project: "p", Repository: "r"}, Dir: "p/r.git"}
	resolver := httpauth.ResolverFunc(func(*http.Request, string) (*httpauth.Repo, error) { return repo, nil })
	var reached *httpauth.Access
	h := built(f)(httpauth.Middleware(m, resolver))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached, _ = httpauth.FromContext(r.Context())
	}))

	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: h\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n", method, target, auth, len(body))
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw + string(body))))
		if err != nil {
			return // not a request a server would accept
		}
		reached = nil
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		rawPath, rawQuery, _ := strings.Cut(target, "?")
		write := isWrite(r.Method, r.URL.Path, rawQuery, body)
		if reached != nil && write {
			t.Fatalf("%s %q (a write) reached the next handler with a pull-only token as %+v", method, target, reached.Operation)
		}
		if reached != nil && reached.Operation.Scope != accesstoken.ScopePull {
			t.Fatalf("pull-only token let through a %s", reached.Operation.Scope)
		}
		if forbiddenPath(rawPath) && (w.Code != http.StatusBadRequest || reached != nil) {
			t.Fatalf("%s %q: status %d, reached %v; want 400 and refused", method, target, w.Code, reached != nil)
		}

		// Classify directly, on every split the path allows.
		repoPart, route, err := gitreq.SplitPath(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			return
		}
		if repoPart == "" || route == "" {
			t.Fatalf("SplitPath(%q) = %q, %q with no error", r.URL.Path, repoPart, route)
		}
		op1, err1 := gitreq.Classify(r.Method, route, rawQuery, strings.NewReader(string(body)))
		if err1 == nil && op1.Scope == accesstoken.ScopePull && isWrite(r.Method, "/"+route, rawQuery, body) {
			t.Fatalf("Classify(%s, %q, %q) = pull for a write", r.Method, route, rawQuery)
		}
		if err1 == nil && op1.Scope != accesstoken.ScopePull && op1.Scope != accesstoken.ScopePush {
			t.Fatalf("Classify returned scope %q", op1.Scope)
		}
	})
}

// isWrite is an independent, deliberately broad statement of the rule in
// SECURITY.md: anything that could be a write counts as one.
func isWrite(method, path, rawQuery string, body []byte) bool {
	switch {
	case method == "POST" && strings.HasSuffix(path, "/git-receive-pack"):
		return true
	case strings.HasSuffix(path, "/info/refs") && serviceMentions(rawQuery, "receive"):
		return true
	case strings.Contains(path, "/info/lfs/"):
		if method == "PUT" {
			return true
		}
		if method == "POST" {
			// Only a batch whose every "operation" member, in any case,
			// is "download" is a pull. (Bodies with escapes are not
			// judged here: counted as pulls, they can't fail the check.)
			if !strings.HasSuffix(path, "/info/lfs/objects/batch") {
				return true
			}
			if strings.Contains(string(body), "\\") {
				return false
			}
			ops := operationRE.FindAllStringSubmatch(string(body), -1)
			if len(ops) == 0 {
				return true
			}
			for _, op := range ops {
				if op[1] != "download" {
					return true
				}
			}
		}
	}
	return false
}

var operationRE = regexp.MustCompile(`(?i)"operation"\s*:\s*"([^"]*)"`)

// serviceMentions reports whether any "service" parameter has a value
// containing s in any case, however the query is split (on '&' or ';')
// and whether or not it is decoded.
func serviceMentions(rawQuery, s string) bool {
	for _, part := range strings.FieldsFunc(rawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			dk = k
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			dv = v
		}
		// git http-backend matches the decoded name exactly.
		if (dk == "service" || k == "service") && strings.Contains(strings.ToLower(dv+v), s) {
			return true
		}
	}
	return false
}

// forbiddenPath reports whether a raw request path holds a sequence that
// must always be refused.
func forbiddenPath(p string) bool {
	if i := strings.Index(p, "://"); i >= 0 && !strings.HasPrefix(p, "/") {
		if j := strings.IndexByte(p[i+3:], '/'); j >= 0 {
			p = p[i+3+j:]
		}
	}
	l := strings.ToLower(p)
	for _, s := range []string{"..", "%2e", "%2f", "%5c", "%25", "//", "%00", "\\"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return true
		}
	}
	if u, err := url.PathUnescape(p); err == nil && !utf8.ValidString(u) {
		return true
	}
	return false
}
