package gitserve

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestStripCGIHeaders(t *testing.T) {
	h := map[string][]string{"authorization": {"x"}, "COOKIE": {"y"}, "proxy-authorization": {"z"}, "Accept": {"a"}, "Authorizations": {"b"},
		"Git-Protocol": {"version=2"}, "git-protocol": {"version=2"}, "Git_protocol": {"version=2"}, "Proxy_authorization": {"w"}, "Content-Type": {"c"}}
	stripCGIHeaders(h)
	if len(h) != 3 || h["Accept"] == nil || h["Authorizations"] == nil || h["Content-Type"] == nil {
		t.Fatalf("after stripCGIHeaders: %v", h)
	}
}

func TestLineLogger(t *testing.T) {
	var buf bytes.Buffer
	l := newLineLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	for _, w := range []string{"fatal: one\nfatal: t", "wo\r\n\x1b[31mred\x07\xff\n", strings.Repeat("x", maxLogLine+10), "\nlast"} {
		if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	l.Close()
	var got []string
	var truncated []bool
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec struct {
			Msg       string `json:"msg"`
			Line      string `json:"line"`
			Truncated bool   `json:"truncated"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Msg != "git stderr" {
			t.Fatalf("record %q: %v", line, err)
		}
		got = append(got, rec.Line)
		truncated = append(truncated, rec.Truncated)
	}
	want := []string{"fatal: one", "fatal: two", "\ufffd[31mred\ufffd\ufffd", strings.Repeat("x", maxLogLine), "last"}
	if !slices.Equal(got, want) {
		t.Fatalf("lines:\n%q\nwant\n%q", got, want)
	}
	if !slices.Equal(truncated, []bool{false, false, false, true, false}) {
		t.Errorf("truncated: %v", truncated)
	}
}
