package gitserve

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"unicode/utf8"
)

// maxLogLine bounds one logged line of git's standard error; the rest of
// a longer line is dropped (and the record says so).
const maxLogLine = 1024

// lineLogger is the io.Writer given to git as its standard error. It
// logs each line as one record, "git stderr", with the line in the
// attribute "line" and the request's attributes: never as raw text in the
// log stream, so that a request whose content git echoes (git prints
// "fatal: invalid command '…'" with what the client sent) cannot forge a
// record. A slog handler quotes the value; control characters other than
// tab, and invalid UTF-8, are also replaced here, so that a handler that
// does not quote (a terminal, a custom one) gets no escape sequence.
type lineLogger struct {
	log  *slog.Logger
	mu   sync.Mutex
	buf  []byte
	long bool // the line being collected was cut at maxLogLine
}

func newLineLogger(log *slog.Logger) *lineLogger { return &lineLogger{log: log} }

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxLogLine - len(l.buf); room < len(chunk) {
			l.buf = append(l.buf, chunk[:max(room, 0)]...)
			l.long = true
		} else {
			l.buf = append(l.buf, chunk...)
		}
		if i < 0 {
			break
		}
		l.flush()
		p = p[i+1:]
	}
	return n, nil
}

// Close logs a last line that did not end in a newline.
func (l *lineLogger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 || l.long {
		l.flush()
	}
	return nil
}

func (l *lineLogger) flush() {
	line := sanitize(bytes.TrimSuffix(l.buf, []byte{'\r'}))
	attrs := []slog.Attr{slog.String("line", line)}
	if l.long {
		attrs = append(attrs, slog.Bool("truncated", true))
	}
	l.log.LogAttrs(context.Background(), slog.LevelWarn, "git stderr", attrs...)
	l.buf, l.long = l.buf[:0], false
}

// sanitize returns b as a string with every control character but tab,
// and every byte of invalid UTF-8, replaced by U+FFFD.
func sanitize(b []byte) string {
	clean := true
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	var s []rune
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 || r < 0x20 && r != '\t' || r >= 0x7f && r < 0xa0 {
			r = utf8.RuneError
		}
		s = append(s, r)
		b = b[n:]
	}
	return string(s)
}
