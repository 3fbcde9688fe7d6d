package httpauth_test

import (
	"path/filepath"
	"testing"

	"github.com/forgekit/accesstoken"
)

func TestSmoke(t *testing.T) {
	f := newForge(t)
	srv := f.server()
	tok := f.issue("alice", accesstoken.ProjectTarget("alpha"), accesstoken.ScopePull, accesstoken.ScopePush)
	u := "http://x:" + tok + "@" + srv.Listener.Addr().String() + "/alpha/one.git"
	dst := filepath.Join(t.TempDir(), "c")
	out, err := f.git("", "clone", u, dst)
	t.Logf("%s %v", out, err)
	w := f.workRepo("x")
	out, err = f.git(w, "push", u, "HEAD:refs/heads/new")
	t.Logf("%s %v", out, err)
	t.Log(f.refs("alpha/one.git"))
	t.Log(f.stderr.String())
}
