package gitreq

import "strings"

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
