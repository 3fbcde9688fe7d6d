package httpauth_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/httpauth"
)

// rawResponse is what a raw HTTP request got.
type rawResponse struct {
	status int
	header http.Header
	body   string
}

// rawRequest sends exactly the given request line, headers and body over
// TCP, so that nothing on the client side cleans or re-encodes the path.
func rawRequest(t *testing.T, addr, method, target string, headers []string, body []byte, chunked bool) rawResponse {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, addr)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	switch {
	case chunked:
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 64<<10)
			fmt.Fprintf(&b, "%x\r\n", n)
			b.Write(rest[:n])
			b.WriteString("\r\n")
			rest = rest[n:]
		}
		b.WriteString("0\r\n\r\n")
	case body != nil:
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
		b.Write(body)
	default:
		b.WriteString("\r\n")
	}
	// Write while reading: a server may answer (413) and close before it
	// has read a large body, and the write then fails; the answer counts.
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(b.Bytes())
		werr <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %q: reading response: %v (write: %v)", method, target, err, <-werr)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header, string(rb)}
}

// pushBodies builds real receive-pack request bodies: each creates the
// given ref pointing at a new commit, with the pack that holds it. A
// control row sends one with a push token and must see the ref created,
// so the rows that are refused are refused for the right reason.
type pushBodies struct {
	commit string
	pack   []byte
}

func newPushBodies(f *forge) *pushBodies {
	w := f.workRepo("attack payload")
	commit := strings.TrimSpace(f.mustGit(w, "rev-parse", "HEAD"))
	cmd := exec.Command("git", "pack-objects", "--stdout", "--revs", "-q")
	cmd.Dir = w
	cmd.Env = f.gitEnv()
	cmd.Stdin = strings.NewReader(commit + "\n")
	pack, err := cmd.Output()
	if err != nil {
		f.t.Fatalf("pack-objects: %v", err)
	}
	return &pushBodies{commit: commit, pack: pack}
}

func (p *pushBodies) body(ref string) []byte {
	line := strings.Repeat("0", 40) + " " + p.commit + " " + ref + "\x00 report-status\n"
	var b bytes.Buffer
	fmt.Fprintf(&b, "%04x%s0000", len(line)+4, line)
	b.Write(p.pack)
	return b.Bytes()
}

func basicAuth(user, pass string) string {
	return "Authorization: Basic " + b64(user+":"+pass)
}

func bearer(tok string) string { return "Authorization: Bearer " + tok }

// TestAttacks sends, for every item of SECURITY.md (the threat catalogue), the request that
// broke another forge, and checks the status and that no repository was
// written to. Control rows (writes: true) show the same requests do write
// when they are allowed.
func TestAttacks(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		var errMu sync.Mutex
		var errTexts []string
		srv := f.server(httpauth.WithErrorFunc(func(w http.ResponseWriter, r *http.Request, err error) {
			errMu.Lock()
			errTexts = append(errTexts, err.Error())
			errMu.Unlock()
			httpauth.DefaultErrorFunc(w, r, err)
		}))
		addr := srv.Listener.Addr().String()
		pb := newPushBodies(f)

		pull, push := accesstoken.ScopePull, accesstoken.ScopePush
		pullTok := f.issue("alice", accesstoken.ProjectTarget("alpha"), pull)
		pushTok := f.issue("alice", accesstoken.ProjectTarget("alpha"), pull, push)
		pushOnly := f.issue("alice", accesstoken.ProjectTarget("alpha"), push)
		oneTok := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), pull, push)
		secrets := []string{pullTok, pushTok, pushOnly, oneTok}

		const oid = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"
		upload := []byte(`{"operation":"upload","transfers":["basic"],"objects":[{"oid":"` + oid + `","size":3}]}`)
		download := []byte(`{"operation":"download","objects":[{"oid":"` + oid + `","size":3}]}`)
		huge := append([]byte(`{"operation":"download","pad":"`), bytes.Repeat([]byte("x"), 2<<20)...)
		huge = append(huge, `"}`...)

		type row struct {
			note     string // the SECURITY.md row
			name     string
			method   string
			target   string
			headers  []string
			body     []byte
			chunked  bool
			want     int
			writes   bool   // the request must write (control row)
			contains string // the response body must contain this
		}
		n := 0
		ref := func() string { n++; return fmt.Sprintf("refs/heads/attack%d", n) }
		rp := "/alpha/one.git/git-receive-pack"
		ir := "/alpha/one.git/info/refs"
		batch := "/alpha/one.git/info/lfs/objects/batch"
		rows := []row{
			// Deciding pull vs push from what the client controls.
			{note: "Gogs GHSA-wmfg-5p4h-5fw3", name: "receive-pack?service=git-upload-pack, pull token (Basic)", method: "POST", target: rp + "?service=git-upload-pack", headers: []string{basicAuth("x", pullTok)}, body: pb.body(ref()), want: 403},
			{note: "Gogs GHSA-wmfg-5p4h-5fw3", name: "same, pull token (Bearer)", method: "POST", target: rp + "?service=git-upload-pack", headers: []string{bearer(pullTok)}, body: pb.body(ref()), want: 403},
			{note: "Gogs GHSA-wmfg-5p4h-5fw3", name: "same, anonymous, public repository", method: "POST", target: "/alpha/public.git/git-receive-pack?service=git-upload-pack", body: pb.body(ref()), want: 401},
			{note: "Gogs GHSA-wmfg-5p4h-5fw3", name: "control: same body, push token", method: "POST", target: rp, headers: []string{basicAuth("x", pushTok)}, body: pb.body(ref()), want: 200, writes: true, contains: "unpack ok"},
			{note: "soft-serve 27f52459", name: "LFS batch upload?service=git-upload-pack, pull token", method: "POST", target: batch + "?service=git-upload-pack", headers: []string{basicAuth("x", pullTok)}, body: upload, want: 403},
			{note: "soft-serve 27f52459", name: "LFS lock create?service=git-upload-pack, pull token", method: "POST", target: "/alpha/one.git/info/lfs/locks?service=git-upload-pack", headers: []string{basicAuth("x", pullTok)}, body: []byte(`{"path":"a.bin"}`), want: 403},
			{note: "soft-serve 27f52459", name: "LFS lock verify?service=git-upload-pack, pull token", method: "POST", target: "/alpha/one.git/info/lfs/locks/verify?service=git-upload-pack", headers: []string{basicAuth("x", pullTok)}, body: []byte(`{}`), want: 403},
			{note: "soft-serve 27f52459", name: "LFS unlock?service=git-upload-pack, pull token", method: "POST", target: "/alpha/one.git/info/lfs/locks/42/unlock?service=git-upload-pack", headers: []string{basicAuth("x", pullTok)}, body: []byte(`{"force":true}`), want: 403},
			{note: "soft-serve 27f52459", name: "LFS basic PUT?service=git-upload-pack, pull token", method: "PUT", target: "/alpha/one.git/info/lfs/objects/" + oid + "?service=git-upload-pack", headers: []string{basicAuth("x", pullTok)}, body: []byte("abc"), want: 403},
			{note: "soft-serve 27f52459", name: "LFS verify?service=git-upload-pack, pull token", method: "POST", target: "/alpha/one.git/info/lfs/verify?service=git-upload-pack", headers: []string{basicAuth("x", pullTok)}, body: []byte(`{}`), want: 403},
			{note: "soft-serve 27f52459", name: "LFS batch upload, anonymous, public repository", method: "POST", target: "/alpha/public.git/info/lfs/objects/batch", body: upload, want: 401},
			{note: "soft-serve 27f52459", name: "LFS batch with \"Operation\" and \"operation\"", method: "POST", target: batch, headers: []string{basicAuth("x", pullTok)}, body: []byte(`{"Operation":"download","operation":"upload"}`), want: 400, contains: "malformed git request"},
			{note: "soft-serve 27f52459", name: "LFS batch with operation twice", method: "POST", target: batch, headers: []string{basicAuth("x", pullTok)}, body: []byte(`{"operation":"download","operation":"upload"}`), want: 400, contains: "malformed git request"},
			{note: "soft-serve 27f52459", name: "LFS batch with an unknown operation", method: "POST", target: batch, headers: []string{basicAuth("x", pushTok)}, body: []byte(`{"operation":"delete"}`), want: 400, contains: "malformed git request"},
			{note: "soft-serve 27f52459", name: "LFS batch that is not JSON", method: "POST", target: batch, headers: []string{basicAuth("x", pushTok)}, body: []byte(`operation=upload`), want: 400, contains: "malformed git request"},
			{note: "soft-serve 27f52459", name: "LFS batch over 1 MiB", method: "POST", target: batch, headers: []string{basicAuth("x", pushTok)}, body: huge, want: 413},
			{note: "soft-serve 27f52459", name: "control: LFS batch download, pull token, body passed on", method: "POST", target: batch + "?service=git-receive-pack", headers: []string{basicAuth("x", pullTok)}, body: download, want: 200, contains: fmt.Sprintf("lfs info/lfs/objects/batch repository:pull as \"alice\" body=%d", len(download))},
			{note: "AaronO/go-git-http", name: "info/refs?service=git-receive-pack, pull token", method: "GET", target: ir + "?service=git-receive-pack", headers: []string{basicAuth("x", pullTok)}, want: 403},
			{note: "AaronO/go-git-http", name: "upload-pack?service=git-receive-pack is a pull: push-only token refused", method: "POST", target: "/alpha/one.git/git-upload-pack?service=git-receive-pack", headers: []string{basicAuth("x", pushOnly)}, body: []byte("0000"), want: 403, contains: "repository:pull"},
			{note: "AaronO/go-git-http", name: "info/refs with two service parameters", method: "GET", target: ir + "?service=git-upload-pack&service=git-receive-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "malformed git request"},
			{note: "AaronO/go-git-http", name: "info/refs with a ';' separated service", method: "GET", target: ir + "?service=git-upload-pack;service=git-receive-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "malformed git request"},
			{note: "AaronO/go-git-http", name: "info/refs?service=git-receive-pack%00", method: "GET", target: ir + "?service=git-receive-pack%00", headers: []string{basicAuth("x", pullTok)}, want: 400, contains: "malformed git request"},
			{note: "AaronO/go-git-http", name: "POST info/refs", method: "POST", target: ir + "?service=git-receive-pack", headers: []string{basicAuth("x", pushTok)}, body: []byte("0000"), want: 404},
			{note: "AaronO/go-git-http", name: "GET git-receive-pack", method: "GET", target: rp, headers: []string{basicAuth("x", pushTok)}, want: 404},
			{note: "git http-backend rule", name: "HEAD file is a pull: push-only token refused", method: "GET", target: "/alpha/one.git/HEAD", headers: []string{basicAuth("x", pushOnly)}, want: 403},
			{note: "git http-backend rule", name: "HEAD request on info/refs?service=git-receive-pack, pull token", method: "HEAD", target: ir + "?service=git-receive-pack", headers: []string{basicAuth("x", pullTok)}, want: 403},
			{note: "git http-backend rule", name: "dumb objects/info/packs, pull token: passes, backend does not serve dumb HTTP", method: "GET", target: "/alpha/one.git/objects/info/packs", headers: []string{basicAuth("x", pullTok)}, want: 404, contains: "dumb HTTP is not served"},
			{note: "git http-backend rule", name: "dumb info/refs, pull token: passes, not served", method: "GET", target: ir, headers: []string{basicAuth("x", pullTok)}, want: 404, contains: "dumb HTTP is not served"},
			{note: "git http-backend rule", name: "git-upload-archive is a pull: push-only token refused", method: "POST", target: "/alpha/one.git/git-upload-archive", headers: []string{basicAuth("x", pushOnly)}, body: []byte("0000"), want: 403},
			{note: "git http-backend rule", name: "control: info/refs?service=git-upload-pack, pull token", method: "GET", target: ir + "?service=git-upload-pack", headers: []string{basicAuth("x", pullTok)}, want: 200, contains: "# service=git-upload-pack"},
			{note: "git http-backend rule", name: "other file under the repository (config)", method: "GET", target: "/alpha/one.git/config", headers: []string{basicAuth("x", pushTok)}, want: 404},
			{note: "git http-backend rule", name: "other file under the repository (hooks/pre-receive)", method: "GET", target: "/alpha/one.git/hooks/pre-receive", headers: []string{basicAuth("x", pushTok)}, want: 404},
			// Different credential forms, different checks.
			{note: "Gitea GHSA-cc8w-r4qh-3v65", name: "Bearer pull token pushes", method: "POST", target: rp, headers: []string{bearer(pullTok)}, body: pb.body(ref()), want: 403},
			{note: "Gitea GHSA-cc8w-r4qh-3v65", name: "Bearer token for alpha/one pushes to alpha/two", method: "POST", target: "/alpha/two.git/git-receive-pack", headers: []string{bearer(oneTok)}, body: pb.body(ref()), want: 404},
			{note: "Gitea GHSA-cc8w-r4qh-3v65", name: "token as Basic user name, pull token pushes", method: "POST", target: rp, headers: []string{basicAuth(pullTok, "")}, body: pb.body(ref()), want: 403},
			{note: "Gitea GHSA-cc8w-r4qh-3v65", name: "Bearer garbage", method: "POST", target: rp, headers: []string{bearer("gat_garbage")}, body: pb.body(ref()), want: 401},
			{note: "Gitea GHSA-cc8w-r4qh-3v65", name: "unsupported scheme (Token)", method: "POST", target: rp, headers: []string{"Authorization: token " + pushTok}, body: pb.body(ref()), want: 401},
			{note: "Gitea GHSA-cc8w-r4qh-3v65", name: "two Authorization headers (Bearer pull, Basic push)", method: "POST", target: rp, headers: []string{bearer(pullTok), basicAuth("x", pushTok)}, body: pb.body(ref()), want: 401},
			{note: "Gitea GHSA-cc8w-r4qh-3v65", name: "control: Bearer push token (lower-case scheme)", method: "POST", target: rp, headers: []string{"Authorization: bearer " + pushTok}, body: pb.body(ref()), want: 200, writes: true, contains: "unpack ok"},
			{note: "Gitea PR #24362", name: "LFS batch upload to a sibling with a repository token", method: "POST", target: "/alpha/two.git/info/lfs/objects/batch", headers: []string{bearer(oneTok)}, body: upload, want: 404},
			{note: "Gitea PR #24362 / GHSA-cr4g-f395-h25h", name: "git-upload-archive of another project", method: "POST", target: "/beta/three.git/git-upload-archive", headers: []string{basicAuth("x", pushTok)}, body: []byte("0000"), want: 404},
			{note: "Gitea PR #24362", name: "push to a public repository with a pull token", method: "POST", target: "/alpha/public.git/git-receive-pack", headers: []string{basicAuth("x", pullTok)}, body: pb.body(ref()), want: 403},
			{note: "Gogs GHSA-x9p5-w45c-7ffc", name: "?access_token= on receive-pack", method: "POST", target: rp + "?access_token=" + pushTok, body: pb.body(ref()), want: 400, contains: "not accepted in URLs"},
			{note: "Gogs GHSA-x9p5-w45c-7ffc", name: "?token=", method: "GET", target: ir + "?service=git-upload-pack&token=" + pullTok, want: 400, contains: "not accepted in URLs"},
			{note: "Gogs GHSA-x9p5-w45c-7ffc", name: "?private_token=", method: "GET", target: ir + "?service=git-upload-pack&private_token=" + pullTok, want: 400, contains: "not accepted in URLs"},
			{note: "Gogs GHSA-x9p5-w45c-7ffc", name: "token as the value of any parameter", method: "GET", target: ir + "?service=git-upload-pack&x=" + pullTok, want: 400, contains: "not accepted in URLs"},
			{note: "Gogs GHSA-x9p5-w45c-7ffc", name: "query token next to valid Basic credentials", method: "POST", target: rp + "?access_token=" + pushTok, headers: []string{basicAuth("x", pushTok)}, body: pb.body(ref()), want: 400, contains: "not accepted in URLs"},
			{note: "Gogs GHSA-x9p5-w45c-7ffc", name: "query that does not decode (could hide a token)", method: "POST", target: rp + "?x=%zz", headers: []string{basicAuth("x", pushTok)}, body: pb.body(ref()), want: 400, contains: "malformed git request"},
			{note: "Gogs GHSA-x9p5-w45c-7ffc", name: "percent-encoded token in the query", method: "GET", target: ir + "?service=git-upload-pack&x=%67" + pullTok[1:], want: 400, contains: "not accepted in URLs"},
			// Path confusion between the auth layer and the backend.
			{note: "Gogs CVE-2022-1993", name: "'.' segment (decided before auth: 400, not 401)", method: "GET", target: "/alpha/./one.git/info/refs?service=git-upload-pack", want: 400, contains: "invalid repository path"},
			{note: "Gogs CVE-2022-1993", name: "trailing slash", method: "GET", target: ir + "/?service=git-upload-pack", headers: []string{basicAuth("x", pullTok)}, want: 400, contains: "invalid repository path"},
			{note: "Gogs CVE-2022-1993", name: "auth on alpha, backend on beta via ..", method: "POST", target: "/alpha/one.git/../../beta/three.git/git-receive-pack", headers: []string{basicAuth("x", pushTok)}, body: pb.body(ref()), want: 400, contains: "invalid repository path"},
			{note: "Gogs CVE-2022-1993", name: "'//' in the path", method: "POST", target: "/alpha//one.git/git-receive-pack", headers: []string{basicAuth("x", pushTok)}, body: pb.body(ref()), want: 400, contains: "invalid repository path"},
			{note: "Gogs CVE-2022-1993", name: "leading '//'", method: "POST", target: "//alpha/one.git/git-receive-pack", headers: []string{basicAuth("x", pushTok)}, body: pb.body(ref()), want: 400, contains: "invalid repository path"},
			{note: "soft-serve CVE-2025-22130", name: "/../ at the root", method: "GET", target: "/../beta/three.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "soft-serve CVE-2025-22130", name: "%2e%2e", method: "GET", target: "/alpha/%2e%2e/beta/three.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "soft-serve CVE-2025-22130", name: "%2E%2E upper case", method: "GET", target: "/alpha/%2E%2E/beta/three.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "soft-serve CVE-2025-22130", name: ".%2e mixed", method: "GET", target: "/alpha/.%2e/beta/three.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "soft-serve CVE-2025-22130", name: "%252e%252e double encoding", method: "GET", target: "/alpha/%252e%252e/beta/three.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "Gogs CVE-2026-52813", name: "'..' in an organisation name", method: "POST", target: "/../alpha/one.git/git-receive-pack", headers: []string{basicAuth("x", pushTok)}, body: pb.body(ref()), want: 400, contains: "invalid repository path"},
			{note: "Gogs CVE-2026-52813", name: "'..' inside a name (a..b)", method: "GET", target: "/alpha/one..git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "SECURITY.md lesson", name: "%2f in the repository part", method: "GET", target: "/alpha%2fone.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "SECURITY.md lesson", name: "%2F in the route part", method: "POST", target: "/alpha/one.git%2Fgit-receive-pack", headers: []string{basicAuth("x", pushTok)}, body: pb.body(ref()), want: 400, contains: "invalid repository path"},
			{note: "SECURITY.md lesson", name: "%5c backslash", method: "GET", target: "/alpha/one.git%5c..%5cthree.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "SECURITY.md lesson", name: "NUL (%00)", method: "GET", target: "/alpha/one.git%00/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "SECURITY.md lesson", name: "control character (%0a)", method: "GET", target: "/alpha/one%0a.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "SECURITY.md lesson", name: "DEL (%7f)", method: "GET", target: "/alpha/one%7f.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "SECURITY.md lesson", name: "invalid UTF-8 (%ff)", method: "GET", target: "/alpha/%ff.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "SECURITY.md lesson", name: "invalid UTF-8 (raw 0xff byte)", method: "GET", target: "/alpha/\xff.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "SECURITY.md lesson", name: "absolute-form target with ..", method: "GET", target: "http://" + addr + "/alpha/../beta/three.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 400, contains: "invalid repository path"},
			{note: "sosedoff/gitkit", name: "route twice (repo part ends in info/refs)", method: "GET", target: "/alpha/one.git/info/refs/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 404, contains: "repository not found"},
			{note: "sosedoff/gitkit", name: "service name as a repository name", method: "POST", target: "/alpha/git-receive-pack/git-upload-pack", headers: []string{basicAuth("x", pushTok)}, body: []byte("0000"), want: 404, contains: "repository not found"},
			{note: "sosedoff/gitkit", name: "upload-pack inside the repository part of a receive-pack route", method: "POST", target: "/alpha/one.git/git-upload-pack/git-receive-pack", headers: []string{basicAuth("x", pushTok)}, body: pb.body(ref()), want: 404, contains: "repository not found"},
			// Leaking the token downstream (also TestGitHookDoesNotSeeToken).
			{note: "net/http/cgi HTTP_* / GitLab CVE-2018-19583", name: "control: push with token and cookie; next handler and hooks see neither", method: "POST", target: rp, headers: []string{basicAuth("x", pushTok), "Cookie: session=hunter2", "Proxy-Authorization: Basic " + b64("x:"+pushTok)}, body: pb.body(ref()), want: 200, writes: true},
			// git client behaviour to respect.
			{note: "git client: 401 + challenge", name: "anonymous clone of a private repository", method: "GET", target: ir + "?service=git-upload-pack", want: 401, contains: "authentication required"},
			{note: "git client: 401 + challenge", name: "anonymous clone of a missing repository (same answer)", method: "GET", target: "/alpha/nope.git/info/refs?service=git-upload-pack", want: 401, contains: "authentication required"},
			{note: "git client: 401 + challenge", name: "anonymous push to a public repository", method: "GET", target: "/alpha/public.git/info/refs?service=git-receive-pack", want: 401},
			{note: "private repos never confirmed", name: "valid token, missing repository", method: "GET", target: "/alpha/nope.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 404, contains: "repository not found"},
			{note: "private repos never confirmed", name: "valid token, private repository of another project (same answer)", method: "GET", target: "/beta/three.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", pushTok)}, want: 404, contains: "repository not found"},
			{note: "private repos never confirmed", name: "bad token, missing repository (same as existing: 401)", method: "GET", target: "/alpha/nope.git/info/refs?service=git-upload-pack", headers: []string{basicAuth("x", "gat_bad")}, want: 401},
			{note: "private repos never confirmed", name: "bad token, private repository", method: "GET", target: ir + "?service=git-upload-pack", headers: []string{basicAuth("x", "gat_bad")}, want: 401},
			{note: "Go CGI refuses chunked", name: "control: chunked push, push token", method: "POST", target: rp, headers: []string{basicAuth("x", pushTok)}, body: pb.body(ref()), chunked: true, want: 200, writes: true, contains: "unpack ok"},
			{note: "Go CGI refuses chunked", name: "chunked push, pull token", method: "POST", target: rp, headers: []string{basicAuth("x", pullTok)}, body: pb.body(ref()), chunked: true, want: 403},
		}

		if want := fmt.Sprintf("(`TestAttacks`: %d rows per handler", len(rows)); !strings.Contains(readme(t), want) {
			t.Errorf("the README does not say %q", want)
		}
		// The threat catalogue's rows name the rows of this test that
		// replay them.
		catalogue, err := os.ReadFile("../SECURITY.md")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile("`TestAttacks` \\(([^)]*?) rows").FindAllStringSubmatch(string(catalogue), -1) {
			for _, note := range strings.Split(m[1], ", ") {
				if !slices.ContainsFunc(rows, func(r row) bool { return strings.HasPrefix(r.note, note) }) {
					t.Errorf("SECURITY.md names the %q rows of TestAttacks; there are none", note)
				}
			}
		}
		for _, tc := range rows {
			t.Run(tc.name, func(t *testing.T) {
				headers := tc.headers
				path, _, _ := strings.Cut(tc.target, "?")
				for _, svc := range []string{"git-receive-pack", "git-upload-pack", "git-upload-archive"} {
					if tc.method == "POST" && strings.HasSuffix(path, "/"+svc) {
						headers = append(headers[:len(headers):len(headers)], "Content-Type: application/x-"+svc+"-request")
					}
				}
				before := f.snapshot()
				resp := rawRequest(t, addr, tc.method, tc.target, headers, tc.body, tc.chunked)
				after := f.snapshot()
				result := "refused, nothing written"
				switch {
				case resp.status != tc.want:
					t.Errorf("status %d; want %d\n%s", resp.status, tc.want, resp.body)
					result = "WRONG STATUS"
				case tc.writes && before == after:
					t.Errorf("nothing was written; want a write (control row)\n%s", resp.body)
					result = "NO WRITE"
				case !tc.writes && before != after:
					t.Errorf("a repository was written to")
					result = "WRITTEN"
				case tc.writes:
					result = "allowed, written (control)"
				case resp.status < 300:
					result = "allowed as a pull, nothing written (control)"
				}
				if tc.contains != "" && !strings.Contains(resp.body, tc.contains) {
					t.Errorf("body %q does not contain %q", resp.body, tc.contains)
				}
				if resp.status == 401 {
					if got := resp.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Basic realm="git"`) {
						t.Errorf("WWW-Authenticate = %q; want a Basic challenge", got)
					}
				}
				if resp.status >= 400 && !strings.HasPrefix(resp.header.Get("Content-Type"), "text/plain") {
					t.Errorf("Content-Type = %q; want text/plain", resp.header.Get("Content-Type"))
				}
				for _, s := range secrets {
					if strings.Contains(resp.body, s) {
						t.Error("the response body contains a token")
					}
				}
				target := tc.target
				for i, s := range secrets {
					target = strings.ReplaceAll(target, s, fmt.Sprintf("<token%d>", i))
				}
				t.Logf("ROW | %s | %s | %s %.90q | %d | %s", tc.note, tc.name, tc.method, target, resp.status, result)
			})
		}

		// Nothing downstream saw a credential, and nothing logged a token.
		f.seenMu.Lock()
		if len(f.seenAuth) > 0 {
			t.Errorf("the next handler saw credential headers: %d", len(f.seenAuth))
		}
		f.seenMu.Unlock()
		logs := f.stderr.String() + strings.Join(errTexts, "\n")
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				t.Error("a token appears in the backend's stderr or in an error passed to the ErrorFunc")
			}
		}
	})
}
