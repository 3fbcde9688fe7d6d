package gitreq_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitreq"
)

const (
	pullScope = accesstoken.ScopePull
	pushScope = accesstoken.ScopePush
	sha1hex   = "0123456789abcdef0123456789abcdef01234567"
	oid256    = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		route  string
		query  string
		body   string
		want   accesstoken.Scope
		route2 gitreq.Route
		err    error
	}{
		{"smart ref advertisement, pull", "GET", "info/refs", "service=git-upload-pack", "", pullScope, gitreq.RouteInfoRefs, nil},
		{"smart ref advertisement, push", "GET", "info/refs", "service=git-receive-pack", "", pushScope, gitreq.RouteInfoRefs, nil},
		{"HEAD ref advertisement, push", "HEAD", "info/refs", "service=git-receive-pack", "", pushScope, gitreq.RouteInfoRefs, nil},
		{"encoded service name", "GET", "info/refs", "service=git%2dreceive%2Dpack", "", pushScope, gitreq.RouteInfoRefs, nil},
		{"other parameters ignored", "GET", "info/refs", "x=1&service=git-upload-pack&y", "", pullScope, gitreq.RouteInfoRefs, nil},
		{"dumb info/refs", "GET", "info/refs", "", "", pullScope, gitreq.RouteInfoRefs, nil},
		{"unknown service", "GET", "info/refs", "service=git-upload-archive", "", "", "", gitreq.ErrBadRequest},
		{"empty service", "GET", "info/refs", "service=", "", "", "", gitreq.ErrBadRequest},
		{"service twice", "GET", "info/refs", "service=git-upload-pack&service=git-upload-pack", "", "", "", gitreq.ErrBadRequest},
		{"service with NUL", "GET", "info/refs", "service=git-receive-pack%00", "", "", "", gitreq.ErrBadRequest},
		{"semicolon", "GET", "info/refs", "a=b;service=git-receive-pack", "", "", "", gitreq.ErrBadRequest},
		{"bad escape", "GET", "info/refs", "service=%zz", "", "", "", gitreq.ErrBadRequest},
		{"POST info/refs", "POST", "info/refs", "service=git-upload-pack", "", "", "", gitreq.ErrNotGitRoute},
		{"upload-pack", "POST", "git-upload-pack", "", "", pullScope, gitreq.RouteUploadPack, nil},
		{"upload-pack with receive service", "POST", "git-upload-pack", "service=git-receive-pack", "", pullScope, gitreq.RouteUploadPack, nil},
		{"receive-pack", "POST", "git-receive-pack", "", "", pushScope, gitreq.RouteReceivePack, nil},
		{"receive-pack with upload service", "POST", "git-receive-pack", "service=git-upload-pack", "", pushScope, gitreq.RouteReceivePack, nil},
		{"receive-pack with bad query", "POST", "git-receive-pack", "service=;;%zz", "", pushScope, gitreq.RouteReceivePack, nil},
		{"GET receive-pack", "GET", "git-receive-pack", "", "", "", "", gitreq.ErrNotGitRoute},
		{"upload-archive", "POST", "git-upload-archive", "", "", pullScope, gitreq.RouteUploadArchive, nil},
		{"HEAD file", "GET", "HEAD", "", "", pullScope, gitreq.RouteDumb, nil},
		{"HEAD file, HEAD method", "HEAD", "HEAD", "", "", pullScope, gitreq.RouteDumb, nil},
		{"PUT HEAD file", "PUT", "HEAD", "", "", "", "", gitreq.ErrNotGitRoute},
		{"objects/info/packs", "GET", "objects/info/packs", "", "", pullScope, gitreq.RouteDumb, nil},
		{"objects/info/alternates", "GET", "objects/info/alternates", "", "", pullScope, gitreq.RouteDumb, nil},
		{"objects/info/http-alternates", "GET", "objects/info/http-alternates", "", "", pullScope, gitreq.RouteDumb, nil},
		{"loose object", "GET", "objects/01/" + sha1hex[2:], "", "", pullScope, gitreq.RouteDumb, nil},
		{"loose object, SHA-256", "GET", "objects/4d/" + oid256[2:], "", "", pullScope, gitreq.RouteDumb, nil},
		{"loose object, upper case", "GET", "objects/01/" + strings.ToUpper(sha1hex[2:]), "", "", "", "", gitreq.ErrNotGitRoute},
		{"loose object, short", "GET", "objects/01/abc", "", "", "", "", gitreq.ErrNotGitRoute},
		{"pack", "GET", "objects/pack/pack-" + sha1hex + ".pack", "", "", pullScope, gitreq.RouteDumb, nil},
		{"pack index", "GET", "objects/pack/pack-" + sha1hex + ".idx", "", "", pullScope, gitreq.RouteDumb, nil},
		{"pack, other extension", "GET", "objects/pack/pack-" + sha1hex + ".keep", "", "", "", "", gitreq.ErrNotGitRoute},
		{"config", "GET", "config", "", "", "", "", gitreq.ErrNotGitRoute},
		{"description", "GET", "description", "", "", "", "", gitreq.ErrNotGitRoute},
		{"refs file", "GET", "refs/heads/main", "", "", "", "", gitreq.ErrNotGitRoute},
		{"LFS batch download", "POST", "info/lfs/objects/batch", "", `{"operation":"download","objects":[]}`, pullScope, gitreq.RouteLFSBatch, nil},
		{"LFS batch upload", "POST", "info/lfs/objects/batch", "service=git-upload-pack", `{"objects":[],"operation":"upload"}`, pushScope, gitreq.RouteLFSBatch, nil},
		{"LFS batch, escaped key", "POST", "info/lfs/objects/batch", "", `{"oper\u0061tion":"upload"}`, pushScope, gitreq.RouteLFSBatch, nil},
		{"LFS batch, other case", "POST", "info/lfs/objects/batch", "", `{"Operation":"upload"}`, "", "", gitreq.ErrBadRequest},
		{"LFS batch, duplicate", "POST", "info/lfs/objects/batch", "", `{"operation":"download","operation":"upload"}`, "", "", gitreq.ErrBadRequest},
		{"LFS batch, upper-case value", "POST", "info/lfs/objects/batch", "", `{"operation":"UPLOAD"}`, "", "", gitreq.ErrBadRequest},
		{"LFS batch, number", "POST", "info/lfs/objects/batch", "", `{"operation":1}`, "", "", gitreq.ErrBadRequest},
		{"LFS batch, null", "POST", "info/lfs/objects/batch", "", `{"operation":null}`, "", "", gitreq.ErrBadRequest},
		{"LFS batch, missing", "POST", "info/lfs/objects/batch", "", `{"objects":[]}`, "", "", gitreq.ErrBadRequest},
		{"LFS batch, trailing data", "POST", "info/lfs/objects/batch", "", `{"operation":"download"}{"operation":"upload"}`, "", "", gitreq.ErrBadRequest},
		{"LFS batch, array", "POST", "info/lfs/objects/batch", "", `[{"operation":"download"}]`, "", "", gitreq.ErrBadRequest},
		{"LFS batch, empty", "POST", "info/lfs/objects/batch", "", ``, "", "", gitreq.ErrBadRequest},
		{"LFS batch, GET", "GET", "info/lfs/objects/batch", "", ``, "", "", gitreq.ErrNotGitRoute},
		{"LFS batch, too large", "POST", "info/lfs/objects/batch", "", `{"operation":"download","x":"` + strings.Repeat("x", gitreq.DefaultMaxBatchBody) + `"}`, "", "", gitreq.ErrBodyTooLarge},
		{"LFS download", "GET", "info/lfs/objects/" + oid256, "", "", pullScope, gitreq.RouteLFSObject, nil},
		{"LFS upload", "PUT", "info/lfs/objects/" + oid256, "service=git-upload-pack", "", pushScope, gitreq.RouteLFSObject, nil},
		{"LFS object, POST", "POST", "info/lfs/objects/" + oid256, "", "", "", "", gitreq.ErrNotGitRoute},
		{"LFS object, bad oid", "GET", "info/lfs/objects/xyz", "", "", "", "", gitreq.ErrNotGitRoute},
		{"LFS verify", "POST", "info/lfs/verify", "", "{}", pushScope, gitreq.RouteLFSVerify, nil},
		{"LFS lock list", "GET", "info/lfs/locks", "", "", pullScope, gitreq.RouteLFSLocks, nil},
		{"LFS lock create", "POST", "info/lfs/locks", "service=git-upload-pack", "{}", pushScope, gitreq.RouteLFSLocks, nil},
		{"LFS lock verify", "POST", "info/lfs/locks/verify", "", "{}", pushScope, gitreq.RouteLFSLocksVerify, nil},
		{"LFS lock verify, GET", "GET", "info/lfs/locks/verify", "", "", "", "", gitreq.ErrNotGitRoute},
		{"LFS unlock", "POST", "info/lfs/locks/a-1_B/unlock", "", "{}", pushScope, gitreq.RouteLFSUnlock, nil},
		{"LFS unlock, GET", "GET", "info/lfs/locks/1/unlock", "", "", "", "", gitreq.ErrNotGitRoute},
		{"LFS unlock, bad id", "POST", "info/lfs/locks/a.b/unlock", "", "{}", "", "", gitreq.ErrNotGitRoute},
		{"LFS other", "GET", "info/lfs/other", "", "", "", "", gitreq.ErrNotGitRoute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, err := gitreq.Classify(tc.method, tc.route, tc.query, strings.NewReader(tc.body))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Classify: got %+v, %v; want %v", op, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if op.Scope != tc.want || op.Route != tc.route2 || op.Path != tc.route {
				t.Fatalf("got %+v; want scope %s, route %s", op, tc.want, tc.route2)
			}
		})
	}
}

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		in          string
		repo, route string
		ok          bool
	}{
		{"alice/hello.git/info/refs", "alice/hello.git", "info/refs", true},
		{"~alice/demo/+git/hello/git-upload-pack", "~alice/demo/+git/hello", "git-upload-pack", true},
		{"r/info/lfs/objects/batch", "r", "info/lfs/objects/batch", true},
		{"r/info/lfs/locks/verify", "r", "info/lfs/locks/verify", true},
		{"r/info/lfs/locks/verify/unlock", "r", "info/lfs/locks/verify/unlock", true},
		{"r/objects/pack/pack-" + sha1hex + ".pack", "r", "objects/pack/pack-" + sha1hex + ".pack", true},
		{"a/info/refs/info/refs", "a/info/refs", "info/refs", true},
		{"a/git-receive-pack/git-upload-pack", "a/git-receive-pack", "git-upload-pack", true},
		{"info/refs", "", "", false},
		{"/info/refs", "", "", false},
		{"git-upload-pack", "", "", false},
		{"a/b", "", "", false},
		{"a/info/refs/", "", "", false},
		{"", "", "", false},
	} {
		repo, route, err := gitreq.SplitPath(tc.in)
		if (err == nil) != tc.ok || repo != tc.repo || route != tc.route {
			t.Errorf("SplitPath(%q) = %q, %q, %v; want %q, %q, ok %v", tc.in, repo, route, err, tc.repo, tc.route, tc.ok)
		}
	}
}
