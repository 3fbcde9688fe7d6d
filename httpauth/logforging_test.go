package httpauth_test

import (
	"regexp"
	"strings"
	"testing"
)

// logLine is one record of slog's text handler: its time, level and
// message come first, the message quoted when it has spaces.
var logLine = regexp.MustCompile(`^time=\S+ level=[A-Z]+ msg=("(?:[^"\\]|\\.)*"|\S+)`)

// TestGitStderrCannotForgeLogRecords: git echoes a protocol v2 command it
// does not know on its standard error ("fatal: invalid command '…'"). A
// command holding a newline, a line shaped like an audit record, and a
// terminal escape sequence becomes records of git's stderr whose text is
// a quoted attribute: no record with another message appears, and no raw
// escape byte reaches the log.
func TestGitStderrCannotForgeLogRecords(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		forged := `time=2026-01-01T00:00:00.000Z level=INFO msg="access token revoked" event=revoked token_id=00000000-0000-0000-0000-000000000000 actor=admin`
		body := []byte(pktLine("command=ls-refs\n"+forged+"\x1b[2J\x1b[31mred\n") + "0000")
		hdrs := []string{"Content-Type: application/x-git-upload-pack-request", "Git-Protocol: version=2"}
		resp := rawRequest(t, srv.Listener.Addr().String(), "POST", "/alpha/public.git/git-upload-pack", hdrs, body, false)
		if f.backend == "direct" && resp.status != 400 {
			t.Errorf("status %d; want 400 for a request git refuses", resp.status)
		}
		out := f.stderr.String()
		if !strings.Contains(out, "git stderr") {
			t.Fatalf("git's complaint was not logged:\n%s", out)
		}
		if strings.ContainsRune(out, 0x1b) {
			t.Errorf("a raw escape character reached the log:\n%q", out)
		}
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			m := logLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("a log line that is not a record of its own: %q", line)
				continue
			}
			if strings.Contains(m[1], "access token revoked") {
				t.Errorf("a forged record: %q", line)
			}
		}
	})
}
