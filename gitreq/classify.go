package gitreq

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

// NeedsBody reports whether the operation's scope is still to be decided
// from the request body: an LFS batch request classified by [Parse].
func (op Operation) NeedsBody() bool { return op.Route == RouteLFSBatch && op.Scope == "" }

// DefaultMaxBatchBody is the largest LFS batch request body read to
// classify it: 1 MiB. See [WithMaxBatchBody].
const DefaultMaxBatchBody = 1 << 20

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

// Parse splits the request path p (URL.Path without its leading slash,
// after any prefix the forge mounts git under) as [SplitPath] does and
// classifies the request as [Classify] does, matching the route once, and
// without reading a body: for [RouteLFSBatch] the returned Operation's
// Scope is empty, and [BatchScope] decides it from the body when the
// caller chooses to read it (package httpauth reads it only once the
// request's credentials are checked). [Operation.NeedsBody] tells.
func Parse(method, p, rawQuery string) (repo string, op Operation, err error) {
	repo, route, kind, err := splitPath(p)
	if err != nil {
		return "", Operation{}, err
	}
	op, err = classify(method, kind, route, rawQuery, nil)
	if err != nil {
		return "", Operation{}, err
	}
	return repo, op, nil
}

// BatchScope returns what a Git LFS batch request body asks for:
// [accesstoken.ScopePull] for "operation": "download",
// [accesstoken.ScopePush] for "upload". A body that is not a JSON object
// with exactly one member spelt exactly "operation" holding one of those
// is [ErrBadRequest]. Bounding the body is the caller's job ([Classify]
// reads at most [DefaultMaxBatchBody] bytes).
func BatchScope(body []byte) (accesstoken.Scope, error) {
	switch lfsOperation(body) {
	case "download":
		return accesstoken.ScopePull, nil
	case "upload":
		return accesstoken.ScopePush, nil
	}
	return "", ErrBadRequest
}

// classify is Classify for a route whose kind is already known, with the
// body read by readBody, which is called only for the LFS batch route. A
// nil readBody leaves the batch route's scope undecided (Parse).
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
		if readBody == nil {
			return op, nil
		}
		b, err := readBody()
		if err != nil {
			if errors.Is(err, ErrBodyTooLarge) {
				return Operation{}, err
			}
			return Operation{}, errors.Join(ErrBadRequest, err)
		}
		if op.Scope, err = BatchScope(b); err != nil {
			return Operation{}, err
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
