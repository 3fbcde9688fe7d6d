package gitreq_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/forgekit/accesstoken/gitreq"
)

// What a git HTTP request does, from its method, path and query alone: the
// repository part of the path, and whether it pulls or pushes. A path
// that could mean something else once decoded is refused first.
func Example() {
	for _, c := range []struct{ method, target string }{
		{"GET", "/alice/hello.git/info/refs?service=git-upload-pack"},
		{"POST", "/alice/hello.git/git-upload-pack"},
		{"GET", "/alice/hello.git/info/refs?service=git-receive-pack"},
		{"POST", "/alice/hello.git/git-receive-pack?service=git-upload-pack"}, // a push, whatever the query says
		{"GET", "/alice/hello.git/HEAD"},                                      // dumb HTTP
		{"GET", "/alice/hello.git/config"},                                    // not something git serves
		{"GET", "/alice/../bob/hello.git/info/refs"},                          // path trick
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		if err := gitreq.CheckPath(r); err != nil {
			fmt.Println(c.method, c.target, "->", err)
			continue
		}
		repo, op, err := gitreq.Parse(r.Method, r.URL.Path[1:], r.URL.RawQuery)
		if err != nil {
			fmt.Println(c.method, c.target, "->", err)
			continue
		}
		fmt.Println(c.method, c.target, "->", repo, op.Scope)
	}
	// Output:
	// GET /alice/hello.git/info/refs?service=git-upload-pack -> alice/hello.git repository:pull
	// POST /alice/hello.git/git-upload-pack -> alice/hello.git repository:pull
	// GET /alice/hello.git/info/refs?service=git-receive-pack -> alice/hello.git repository:push
	// POST /alice/hello.git/git-receive-pack?service=git-upload-pack -> alice/hello.git repository:push
	// GET /alice/hello.git/HEAD -> alice/hello.git repository:pull
	// GET /alice/hello.git/config -> gitreq: not a git route
	// GET /alice/../bob/hello.git/info/refs -> gitreq: unsafe request path
}
