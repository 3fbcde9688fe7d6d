package main

import (
	"bufio"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"testing"
)

// rawRequest sends a request line and headers exactly as given (no
// client-side cleaning of the path) and returns the status.
func (srv *server) rawRequest(t *testing.T, method, target string, hdr map[string]string) int {
	t.Helper()
	c, err := net.Dial("tcp", srv.host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + srv.host + "\r\nConnection: close\r\nContent-Length: 0\r\n")
	for k, v := range hdr {
		b.WriteString(k + ": " + v + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestGitRequestTricks sends the requests of SECURITY-NOTES.md to the
// forge's git URLs: the forge's routing must put every one of them in
// front of the middleware, which refuses them.
func TestGitRequestTricks(t *testing.T) {
	t.Parallel()
	_, srv, _ := permSite(t)
	pull := srv.issue("writer", "alpha/priv", "repository:pull").Token
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+pull))}
	bearer := map[string]string{"Authorization": "Bearer " + pull}
	tests := []struct {
		name, method, target string
		hdr                  map[string]string
		want                 int
	}{
		{"pull", "GET", "/alpha/priv.git/info/refs?service=git-upload-pack", basic, 200},
		{"pull, Bearer", "GET", "/alpha/priv.git/info/refs?service=git-upload-pack", bearer, 200},
		{"anonymous, private", "GET", "/alpha/priv.git/info/refs?service=git-upload-pack", nil, 401},
		{"anonymous push, public", "GET", "/alpha/pub.git/info/refs?service=git-receive-pack", nil, 401},
		{"push with a pull token", "GET", "/alpha/priv.git/info/refs?service=git-receive-pack", basic, 403},
		{"push route, pull query (Gogs)", "POST", "/alpha/priv.git/git-receive-pack?service=git-upload-pack", basic, 403},
		{"push route, pull query, anonymous", "POST", "/alpha/pub.git/git-receive-pack?service=git-upload-pack", nil, 401},
		{"token in query", "GET", "/alpha/pub.git/info/refs?service=git-upload-pack&access_token=" + pull, nil, 400},
		{"bare token in query", "GET", "/alpha/pub.git/info/refs?service=git-upload-pack&x=" + pull, nil, 400},
		{"dot-dot to another repository", "GET", "/alpha/pub.git/../priv.git/info/refs?service=git-upload-pack", nil, 400},
		{"encoded dot-dot", "GET", "/alpha/%2e%2e/alpha/priv.git/info/refs?service=git-upload-pack", nil, 400},
		{"encoded slash", "GET", "/alpha%2fpriv.git/info/refs?service=git-upload-pack", nil, 400},
		{"double slash", "GET", "/alpha//priv.git/info/refs?service=git-upload-pack", nil, 400},
		{"escape the root", "GET", "/../alpha/priv.git/info/refs?service=git-upload-pack", nil, 400},
		{"unknown repository", "GET", "/alpha/nope.git/info/refs?service=git-upload-pack", basic, 404},
		{"other project's private repository", "GET", "/beta/other.git/info/refs?service=git-upload-pack", basic, 404},
		{"not a git route", "GET", "/alpha/pub.git/config", nil, 404},
		{"clone URL in a browser", "GET", "/alpha/pub.git", nil, 302},
		{"not a clone URL", "GET", "//evil.example.git", nil, 400},
		{"not a clone URL either", "GET", "/alpha/x/pub.git", nil, 404},
		{"three segments", "GET", "/alpha/x/pub.git/info/refs?service=git-upload-pack", nil, 401},
	}
	for _, tt := range tests {
		if got := srv.rawRequest(t, tt.method, tt.target, tt.hdr); got != tt.want {
			t.Errorf("%s: %s %s: got %d; want %d", tt.name, tt.method, tt.target, got, tt.want)
		}
	}
	if strings.Contains(srv.output(), pull) {
		t.Errorf("the forge's log shows a token")
	}
}

func TestRepoPageOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/alpha/pub.git", "/alpha/pub"},
		{"/alpha/pub", ""},
		{"//evil.example.git", ""},
		{"//evil.example/x.git", ""},
		{"/alpha/../x.git", ""},
		{"/alpha/x/y.git", ""},
		{"/alpha/.git", ""},
		{"alpha/pub.git", ""},
		{"/api/pub.git", ""},
	}
	for _, tt := range tests {
		if got := repoPageOf(tt.in); got != tt.want {
			t.Errorf("repoPageOf(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
