package httpauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/forgekit/accesstoken"
)

// Route is a kind of request under a repository that the middleware
// recognises. Every other path under a repository is rejected.
type Route string

// The routes, relative to the repository's URL.
const (
	// RouteInfoRefs is GET …/info/refs: the smart-HTTP ref advertisement
	// with ?service=git-upload-pack (pull) or ?service=git-receive-pack
	// (push), or the dumb-HTTP refs file without a service (pull).
	RouteInfoRefs Route = "info/refs"
	// RouteUploadPack is POST …/git-upload-pack: fetch and clone (pull).
	RouteUploadPack Route = "git-upload-pack"
	// RouteReceivePack is POST …/git-receive-pack: push.
	RouteReceivePack Route = "git-receive-pack"
	// RouteUploadArchive is POST …/git-upload-archive: git archive
	// --remote (pull). git http-backend does not serve it.
	RouteUploadArchive Route = "git-upload-archive"
	// RouteDumb is a dumb-HTTP file, read with GET or HEAD (pull): HEAD,
	// objects/info/packs, objects/info/alternates,
	// objects/info/http-alternates, a loose object objects/xx/… or a pack
	// objects/pack/pack-….pack or .idx.
	RouteDumb Route = "dumb"
	// RouteLFSBatch is POST …/info/lfs/objects/batch: the Git LFS batch
	// API; a pull for "operation": "download", a push for "upload".
	RouteLFSBatch Route = "info/lfs/objects/batch"
	// RouteLFSObject is …/info/lfs/objects/<oid>, the LFS basic transfer:
	// GET or HEAD downloads (pull), PUT uploads (push).
	RouteLFSObject Route = "info/lfs/objects"
	// RouteLFSVerify is POST …/info/lfs/verify, the basic transfer's verify
	// action after an upload (push).
	RouteLFSVerify Route = "info/lfs/verify"
	// RouteLFSLocks is …/info/lfs/locks: GET lists locks (pull), POST
	// creates one (push).
	RouteLFSLocks Route = "info/lfs/locks"
	// RouteLFSLocksVerify is POST …/info/lfs/locks/verify (push): git lfs
	// asks it before a push.
	RouteLFSLocksVerify Route = "info/lfs/locks/verify"
	// RouteLFSUnlock is POST …/info/lfs/locks/<id>/unlock (push).
	RouteLFSUnlock Route = "info/lfs/locks/unlock"
)

// LFS reports whether r is a Git LFS route.
func (r Route) LFS() bool { return strings.HasPrefix(string(r), "info/lfs/") }

// Operation is what a request does to its repository, as [Classify]
// decided it.
type Operation struct {
	// Route is the kind of request.
	Route Route
	// Path is the route part of the URL path, after the repository part:
	// "info/refs", "git-upload-pack", "objects/pack/pack-….pack", ….
	Path string
	// Service is, for RouteInfoRefs, "git-upload-pack", "git-receive-pack"
	// or "" (dumb HTTP). It is empty for every other route.
	Service string
	// Scope is what the request needs: [accesstoken.ScopePull] or
	// [accesstoken.ScopePush].
	Scope accesstoken.Scope
}

// DefaultMaxBatchBody is the largest LFS batch request body read to
// classify it: 1 MiB. See [WithMaxBatchBody].
const DefaultMaxBatchBody = 1 << 20

// SplitPath splits the path of a request (URL.Path without its leading
// slash, after any prefix the forge mounts git under) into the repository
// part, which a [Resolver] maps to a repository, and the route part, which
// [Classify] reads. The route is found from the end of the path, by
// segments, so a repository part may itself contain anything but a route
// at its end. It returns [ErrNotGitRoute] when p ends in no route, ends in
// two different routes at once, or has no repository part.
func SplitPath(p string) (repo, route string, err error) {
	repo, route, _, err = splitPath(p)
	return repo, route, err
}

// splitPath is SplitPath that also returns the route's kind, so that the
// middleware does not match it twice.
func splitPath(p string) (repo, route string, kind Route, err error) {
	found := -1
	i := len(p)
	for n := 1; n <= 5; n++ {
		j := strings.LastIndexByte(p[:i], '/')
		if j < 0 {
			break
		}
		i = j
		if r := matchRoute(p[i+1:], n); r != "" {
			if found >= 0 {
				return "", "", "", ErrNotGitRoute
			}
			found, kind = i, r
		}
	}
	if found <= 0 {
		return "", "", "", ErrNotGitRoute
	}
	return p[:found], p[found+1:], kind, nil
}

// matchRoute returns the route that the n-segment path r is, or "".
func matchRoute(r string, n int) Route {
	switch n {
	case 1:
		switch r {
		case "HEAD":
			return RouteDumb
		case "git-upload-pack":
			return RouteUploadPack
		case "git-receive-pack":
			return RouteReceivePack
		case "git-upload-archive":
			return RouteUploadArchive
		}
	case 2:
		if r == "info/refs" {
			return RouteInfoRefs
		}
	case 3:
		switch r {
		case "objects/info/packs", "objects/info/alternates", "objects/info/http-alternates":
			return RouteDumb
		case "info/lfs/locks":
			return RouteLFSLocks
		case "info/lfs/verify":
			return RouteLFSVerify
		}
		if rest, ok := strings.CutPrefix(r, "objects/pack/pack-"); ok {
			for _, ext := range [...]string{".pack", ".idx"} {
				if h, ok := strings.CutSuffix(rest, ext); ok && (len(h) == 40 || len(h) == 64) && isHexString(h) {
					return RouteDumb
				}
			}
			return ""
		}
		if rest, ok := strings.CutPrefix(r, "objects/"); ok && len(rest) > 3 && rest[2] == '/' {
			h := rest[:2] + rest[3:]
			if (len(h) == 40 || len(h) == 64) && isHexString(h) {
				return RouteDumb
			}
		}
	case 4:
		switch r {
		case "info/lfs/objects/batch":
			return RouteLFSBatch
		case "info/lfs/locks/verify":
			return RouteLFSLocksVerify
		}
		if oid, ok := strings.CutPrefix(r, "info/lfs/objects/"); ok && len(oid) == 64 && isHexString(oid) {
			return RouteLFSObject
		}
	case 5:
		if rest, ok := strings.CutPrefix(r, "info/lfs/locks/"); ok {
			if id, ok := strings.CutSuffix(rest, "/unlock"); ok && lockIDOK(id) {
				return RouteLFSUnlock
			}
		}
	}
	return ""
}

// lockIDOK accepts the LFS lock IDs forges issue: 1 to 128 ASCII letters,
// digits, '-' and '_'.
func lockIDOK(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Classify decides what a request does from its method, its route path
// (the route part from [SplitPath]), its raw query and, for the LFS batch
// route only, its body, of which it reads at most [DefaultMaxBatchBody]
// bytes (body may be nil for other routes).
//
// It follows the rule git http-backend itself uses: a request is a push
// if and only if it is GET …/info/refs?service=git-receive-pack or POST
// …/git-receive-pack; everything else git serves is a pull. The query is
// read only on GET (or HEAD) …/info/refs: ?service= on any other route
// changes nothing. For Git LFS, a batch request with "operation":
// "upload", a basic-transfer PUT, a verify, and lock create, verify and
// delete are pushes; a batch "download", a basic-transfer GET and a lock
// list are pulls. The Git-Protocol header (protocol v2) plays no part.
//
// Errors match [ErrNotGitRoute] (not a route, or not a method the route
// takes), [ErrBadRequest] (bad ?service= or batch body) or
// [ErrBodyTooLarge].
func Classify(method, route, rawQuery string, body io.Reader) (Operation, error) {
	kind := matchRoute(route, strings.Count(route, "/")+1)
	return classify(method, kind, route, rawQuery, func() ([]byte, error) {
		if body == nil {
			return nil, nil
		}
		b, err := io.ReadAll(io.LimitReader(body, DefaultMaxBatchBody+1))
		if err == nil && len(b) > DefaultMaxBatchBody {
			err = ErrBodyTooLarge
		}
		return b, err
	})
}

// classify is Classify for a route whose kind is already known, with the
// body read by readBody, which is called only for the LFS batch route.
func classify(method string, kind Route, route, rawQuery string, readBody func() ([]byte, error)) (Operation, error) {
	op := Operation{Route: kind, Path: route}
	get := method == http.MethodGet || method == http.MethodHead
	post := method == http.MethodPost
	pull, push := accesstoken.ScopePull, accesstoken.ScopePush
	switch {
	case op.Route == RouteInfoRefs && get:
		svc, err := serviceParam(rawQuery)
		if err != nil {
			return Operation{}, err
		}
		op.Service = svc
		switch svc {
		case "", "git-upload-pack":
			op.Scope = pull
		case "git-receive-pack":
			op.Scope = push
		}
	case op.Route == RouteUploadPack && post, op.Route == RouteUploadArchive && post:
		op.Scope = pull
	case op.Route == RouteReceivePack && post:
		op.Scope = push
	case op.Route == RouteDumb && get:
		op.Scope = pull
	case op.Route == RouteLFSBatch && post:
		b, err := readBody()
		if err != nil {
			if errors.Is(err, ErrBodyTooLarge) {
				return Operation{}, err
			}
			return Operation{}, errors.Join(ErrBadRequest, err)
		}
		switch lfsOperation(b) {
		case "download":
			op.Scope = pull
		case "upload":
			op.Scope = push
		default:
			return Operation{}, ErrBadRequest
		}
	case op.Route == RouteLFSObject && get, op.Route == RouteLFSLocks && get:
		op.Scope = pull
	case op.Route == RouteLFSObject && method == http.MethodPut,
		op.Route == RouteLFSLocks && post,
		op.Route == RouteLFSLocksVerify && post,
		op.Route == RouteLFSUnlock && post,
		op.Route == RouteLFSVerify && post:
		op.Scope = push
	default:
		return Operation{}, ErrNotGitRoute
	}
	return op, nil
}

// serviceParam returns the service parameter of an info/refs query: ""
// when absent, "git-upload-pack" or "git-receive-pack". Anything else, a
// repeated parameter, or a query that does not parse the same everywhere
// (a ';' separator, a bad escape) is [ErrBadRequest].
func serviceParam(rawQuery string) (string, error) {
	svc, seen := "", false
	for q := rawQuery; q != ""; {
		var part string
		part, q, _ = strings.Cut(q, "&")
		if strings.IndexByte(part, ';') >= 0 {
			return "", ErrBadRequest
		}
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return "", ErrBadRequest
		}
		if k != "service" {
			continue
		}
		if seen || (v != "git-upload-pack" && v != "git-receive-pack") {
			return "", ErrBadRequest
		}
		svc, seen = v, true
	}
	return svc, nil
}

// lfsOperation returns the "operation" member of an LFS batch request,
// or "" when the body is not a JSON object with exactly one member spelt
// exactly "operation" whose value is a string. A member spelt with other
// case ("Operation"), which some JSON decoders would take for it, makes
// the request ambiguous and is rejected too, as is a repeated member.
func lfsOperation(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	op, seen := "", false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		key, ok := t.(string)
		if !ok {
			return ""
		}
		if !strings.EqualFold(key, "operation") {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return ""
			}
			continue
		}
		if key != "operation" || seen {
			return ""
		}
		seen = true
		if dec.Decode(&op) != nil {
			return ""
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return ""
	}
	if _, err := dec.Token(); err != io.EOF {
		return ""
	}
	return op
}
