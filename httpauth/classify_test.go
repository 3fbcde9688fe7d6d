package httpauth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/httpauth"
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
		route2 httpauth.Route
		err    error
	}{
		{"smart ref advertisement, pull", "GET", "info/refs", "service=git-upload-pack", "", pullScope, httpauth.RouteInfoRefs, nil},
		{"smart ref advertisement, push", "GET", "info/refs", "service=git-receive-pack", "", pushScope, httpauth.RouteInfoRefs, nil},
		{"HEAD ref advertisement, push", "HEAD", "info/refs", "service=git-receive-pack", "", pushScope, httpauth.RouteInfoRefs, nil},
		{"encoded service name", "GET", "info/refs", "service=git%2dreceive%2Dpack", "", pushScope, httpauth.RouteInfoRefs, nil},
		{"other parameters ignored", "GET", "info/refs", "x=1&service=git-upload-pack&y", "", pullScope, httpauth.RouteInfoRefs, nil},
		{"dumb info/refs", "GET", "info/refs", "", "", pullScope, httpauth.RouteInfoRefs, nil},
		{"unknown service", "GET", "info/refs", "service=git-upload-archive", "", "", "", httpauth.ErrBadRequest},
		{"empty service", "GET", "info/refs", "service=", "", "", "", httpauth.ErrBadRequest},
		{"service twice", "GET", "info/refs", "service=git-upload-pack&service=git-upload-pack", "", "", "", httpauth.ErrBadRequest},
		{"service with NUL", "GET", "info/refs", "service=git-receive-pack%00", "", "", "", httpauth.ErrBadRequest},
		{"semicolon", "GET", "info/refs", "a=b;service=git-receive-pack", "", "", "", httpauth.ErrBadRequest},
		{"bad escape", "GET", "info/refs", "service=%zz", "", "", "", httpauth.ErrBadRequest},
		{"POST info/refs", "POST", "info/refs", "service=git-upload-pack", "", "", "", httpauth.ErrNotGitRoute},
		{"upload-pack", "POST", "git-upload-pack", "", "", pullScope, httpauth.RouteUploadPack, nil},
		{"upload-pack with receive service", "POST", "git-upload-pack", "service=git-receive-pack", "", pullScope, httpauth.RouteUploadPack, nil},
		{"receive-pack", "POST", "git-receive-pack", "", "", pushScope, httpauth.RouteReceivePack, nil},
		{"receive-pack with upload service", "POST", "git-receive-pack", "service=git-upload-pack", "", pushScope, httpauth.RouteReceivePack, nil},
		{"receive-pack with bad query", "POST", "git-receive-pack", "service=;;%zz", "", pushScope, httpauth.RouteReceivePack, nil},
		{"GET receive-pack", "GET", "git-receive-pack", "", "", "", "", httpauth.ErrNotGitRoute},
		{"upload-archive", "POST", "git-upload-archive", "", "", pullScope, httpauth.RouteUploadArchive, nil},
		{"HEAD file", "GET", "HEAD", "", "", pullScope, httpauth.RouteDumb, nil},
		{"HEAD file, HEAD method", "HEAD", "HEAD", "", "", pullScope, httpauth.RouteDumb, nil},
		{"PUT HEAD file", "PUT", "HEAD", "", "", "", "", httpauth.ErrNotGitRoute},
		{"objects/info/packs", "GET", "objects/info/packs", "", "", pullScope, httpauth.RouteDumb, nil},
		{"objects/info/alternates", "GET", "objects/info/alternates", "", "", pullScope, httpauth.RouteDumb, nil},
		{"objects/info/http-alternates", "GET", "objects/info/http-alternates", "", "", pullScope, httpauth.RouteDumb, nil},
		{"loose object", "GET", "objects/01/" + sha1hex[2:], "", "", pullScope, httpauth.RouteDumb, nil},
		{"loose object, SHA-256", "GET", "objects/4d/" + oid256[2:], "", "", pullScope, httpauth.RouteDumb, nil},
		{"loose object, upper case", "GET", "objects/01/" + strings.ToUpper(sha1hex[2:]), "", "", "", "", httpauth.ErrNotGitRoute},
		{"loose object, short", "GET", "objects/01/abc", "", "", "", "", httpauth.ErrNotGitRoute},
		{"pack", "GET", "objects/pack/pack-" + sha1hex + ".pack", "", "", pullScope, httpauth.RouteDumb, nil},
		{"pack index", "GET", "objects/pack/pack-" + sha1hex + ".idx", "", "", pullScope, httpauth.RouteDumb, nil},
		{"pack, other extension", "GET", "objects/pack/pack-" + sha1hex + ".keep", "", "", "", "", httpauth.ErrNotGitRoute},
		{"config", "GET", "config", "", "", "", "", httpauth.ErrNotGitRoute},
		{"description", "GET", "description", "", "", "", "", httpauth.ErrNotGitRoute},
		{"refs file", "GET", "refs/heads/main", "", "", "", "", httpauth.ErrNotGitRoute},
		{"LFS batch download", "POST", "info/lfs/objects/batch", "", `{"operation":"download","objects":[]}`, pullScope, httpauth.RouteLFSBatch, nil},
		{"LFS batch upload", "POST", "info/lfs/objects/batch", "service=git-upload-pack", `{"objects":[],"operation":"upload"}`, pushScope, httpauth.RouteLFSBatch, nil},
		{"LFS batch, escaped key", "POST", "info/lfs/objects/batch", "", `{"oper\u0061tion":"upload"}`, pushScope, httpauth.RouteLFSBatch, nil},
		{"LFS batch, other case", "POST", "info/lfs/objects/batch", "", `{"Operation":"upload"}`, "", "", httpauth.ErrBadRequest},
		{"LFS batch, duplicate", "POST", "info/lfs/objects/batch", "", `{"operation":"download","operation":"upload"}`, "", "", httpauth.ErrBadRequest},
		{"LFS batch, upper-case value", "POST", "info/lfs/objects/batch", "", `{"operation":"UPLOAD"}`, "", "", httpauth.ErrBadRequest},
		{"LFS batch, number", "POST", "info/lfs/objects/batch", "", `{"operation":1}`, "", "", httpauth.ErrBadRequest},
		{"LFS batch, null", "POST", "info/lfs/objects/batch", "", `{"operation":null}`, "", "", httpauth.ErrBadRequest},
		{"LFS batch, missing", "POST", "info/lfs/objects/batch", "", `{"objects":[]}`, "", "", httpauth.ErrBadRequest},
		{"LFS batch, trailing data", "POST", "info/lfs/objects/batch", "", `{"operation":"download"}{"operation":"upload"}`, "", "", httpauth.ErrBadRequest},
		{"LFS batch, array", "POST", "info/lfs/objects/batch", "", `[{"operation":"download"}]`, "", "", httpauth.ErrBadRequest},
		{"LFS batch, empty", "POST", "info/lfs/objects/batch", "", ``, "", "", httpauth.ErrBadRequest},
		{"LFS batch, GET", "GET", "info/lfs/objects/batch", "", ``, "", "", httpauth.ErrNotGitRoute},
		{"LFS batch, too large", "POST", "info/lfs/objects/batch", "", `{"operation":"download","x":"` + strings.Repeat("x", httpauth.DefaultMaxBatchBody) + `"}`, "", "", httpauth.ErrBodyTooLarge},
		{"LFS download", "GET", "info/lfs/objects/" + oid256, "", "", pullScope, httpauth.RouteLFSObject, nil},
		{"LFS upload", "PUT", "info/lfs/objects/" + oid256, "service=git-upload-pack", "", pushScope, httpauth.RouteLFSObject, nil},
		{"LFS object, POST", "POST", "info/lfs/objects/" + oid256, "", "", "", "", httpauth.ErrNotGitRoute},
		{"LFS object, bad oid", "GET", "info/lfs/objects/xyz", "", "", "", "", httpauth.ErrNotGitRoute},
		{"LFS verify", "POST", "info/lfs/verify", "", "{}", pushScope, httpauth.RouteLFSVerify, nil},
		{"LFS lock list", "GET", "info/lfs/locks", "", "", pullScope, httpauth.RouteLFSLocks, nil},
		{"LFS lock create", "POST", "info/lfs/locks", "service=git-upload-pack", "{}", pushScope, httpauth.RouteLFSLocks, nil},
		{"LFS lock verify", "POST", "info/lfs/locks/verify", "", "{}", pushScope, httpauth.RouteLFSLocksVerify, nil},
		{"LFS lock verify, GET", "GET", "info/lfs/locks/verify", "", "", "", "", httpauth.ErrNotGitRoute},
		{"LFS unlock", "POST", "info/lfs/locks/a-1_B/unlock", "", "{}", pushScope, httpauth.RouteLFSUnlock, nil},
		{"LFS unlock, GET", "GET", "info/lfs/locks/1/unlock", "", "", "", "", httpauth.ErrNotGitRoute},
		{"LFS unlock, bad id", "POST", "info/lfs/locks/a.b/unlock", "", "{}", "", "", httpauth.ErrNotGitRoute},
		{"LFS other", "GET", "info/lfs/other", "", "", "", "", httpauth.ErrNotGitRoute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, err := httpauth.Classify(tc.method, tc.route, tc.query, strings.NewReader(tc.body))
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
		repo, route, err := httpauth.SplitPath(tc.in)
		if (err == nil) != tc.ok || repo != tc.repo || route != tc.route {
			t.Errorf("SplitPath(%q) = %q, %q, %v; want %q, %q, ok %v", tc.in, repo, route, err, tc.repo, tc.route, tc.ok)
		}
	}
}
