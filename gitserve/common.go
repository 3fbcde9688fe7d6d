package gitserve

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/httpauth"
)

// resolveRootAndGit returns root as an absolute path to an existing
// directory, and the git binary found in PATH (or git itself, when it is
// a path).
func resolveRootAndGit(root, git string) (string, string, error) {
	if root == "" {
		return "", "", fmt.Errorf("gitserve: Root is not set")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", "", fmt.Errorf("gitserve: Root: %w", err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return "", "", fmt.Errorf("gitserve: Root %q is not a directory", root)
	}
	if git == "" {
		git = "git"
	}
	path, err := exec.LookPath(git)
	if err != nil {
		return "", "", fmt.Errorf("gitserve: git binary: %w", err)
	}
	return abs, path, nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// mayPush reports whether acc was authorised as a push with a token: the
// only requests a handler lets git receive-pack act on.
func mayPush(acc *httpauth.Access) bool {
	return acc.Operation.Scope == accesstoken.ScopePush && !acc.Anonymous()
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// newRequestID returns a short random identifier that ties together the
// log records of one request.
func newRequestID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestLogger returns log with the attributes that identify the request
// r for acc in every record: the repository, the route, the client and a
// request identifier.
func requestLogger(log *slog.Logger, r *http.Request, acc *httpauth.Access) *slog.Logger {
	attrs := []any{
		slog.String("request_id", newRequestID()),
		slog.String("repo", acc.Repo.Dir),
		slog.String("route", string(acc.Operation.Route)),
		slog.String("client", clientIP(r)),
	}
	if acc.Owner != "" {
		attrs = append(attrs, slog.String("user", acc.Owner))
	}
	return log.With(attrs...)
}

// clientIP returns the host part of r.RemoteAddr.
func clientIP(r *http.Request) string {
	a := r.RemoteAddr
	if i := strings.LastIndexByte(a, ':'); i >= 0 && !strings.HasSuffix(a, "]") {
		a = a[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(a, "["), "]")
}
