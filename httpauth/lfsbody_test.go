package httpauth_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/httpauth"
)

// countingBody counts the bytes read from it.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }

// TestLFSBatchBodyReadAfterCredentials: the middleware reads an LFS batch
// request's body (to tell a download from an upload) only once the
// request's credentials are found good for an existing repository. The
// security review raised the forge's memory from 25 MB to 197 MB with
// anonymous batch requests to repositories that do not exist, whose
// bodies were read first.
func TestLFSBatchBodyReadAfterCredentials(t *testing.T) {
	u := newUnit(t)
	public := &httpauth.Repo{Resource: accesstoken.Resource{Project: "demo", Repository: "pub"}, Dir: "demo/pub.git", Public: true}
	res := httpauth.ResolverFunc(func(r *http.Request, p string) (*httpauth.Repo, error) {
		switch p {
		case "demo/hello.git":
			return u.repo, nil
		case "demo/pub.git":
			return public, nil
		}
		return nil, httpauth.ErrRepoNotFound
	})
	h := u.handler(u.m, res)
	batch := []byte(`{"operation":"download","objects":[]}`)
	for _, tc := range []struct {
		name     string
		repo     string
		auth     string
		status   int
		readBody bool
	}{
		{"anonymous, missing repository", "demo/nope.git", "", 401, false},
		{"anonymous, private repository", "demo/hello.git", "", 401, false},
		{"bad token, missing repository", "demo/nope.git", "Bearer " + otherFormatToken(t, u.m), 401, false},
		{"malformed token, private repository", "demo/hello.git", "Bearer gat_nope", 401, false},
		{"unknown token, private repository", "demo/hello.git", "Bearer " + otherManagerToken(t), 401, false},
		{"good token, missing repository", "demo/nope.git", "Bearer " + u.tok, 404, false},
		{"control: anonymous, public repository", "demo/pub.git", "", http.StatusTeapot, true},
		{"control: good token, its repository", "demo/hello.git", "Bearer " + u.tok, http.StatusTeapot, true},
	} {
		body := &countingBody{r: bytes.NewReader(batch)}
		r := httptest.NewRequest("POST", "/"+tc.repo+"/info/lfs/objects/batch", nil)
		r.Body, r.ContentLength = body, int64(len(batch))
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("%s: status %d; want %d (%s)", tc.name, w.Code, tc.status, w.Body)
		}
		if got := body.read.Load() > 0; got != tc.readBody {
			t.Errorf("%s: body read: %v; want %v", tc.name, got, tc.readBody)
		}
	}
}

// otherManagerToken returns a well-formed token of another Manager with
// the default format: unknown to u's store.
func otherManagerToken(t *testing.T) string {
	return newUnit(t).tok
}
