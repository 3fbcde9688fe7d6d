package gitserve_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"testing"
)

// TestUploadPackBodyLimit: an upload-pack request body over
// MaxRequestBody gets 413 from both backends before git starts (as sent
// for CGI, whose git http-backend decodes gzip itself; decoded for the
// Handler, so that a small gzip body cannot grow past it), and a clone,
// whose requests are far smaller, still works.
func TestUploadPackBodyLimit(t *testing.T) {
	const limit = 4096
	for _, cgi := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "cgi"}[cgi], func(t *testing.T) {
			s := newServerWith(t, nil, cgi)
			s.handler.MaxRequestBody, s.cgi.MaxRequestBody = limit, limit
			post := func(body []byte, gzipped bool) int {
				t.Helper()
				req, _ := http.NewRequest("POST", s.srv.URL+"/p/pub.git/git-upload-pack", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/x-git-upload-pack-request")
				if gzipped {
					req.Header.Set("Content-Encoding", "gzip")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if code := post(bytes.Repeat([]byte("0"), limit+1), false); code != http.StatusRequestEntityTooLarge {
				t.Errorf("a body of %d bytes: %d; want 413", limit+1, code)
			}
			if !cgi {
				var z bytes.Buffer
				zw := gzip.NewWriter(&z)
				zw.Write(bytes.Repeat([]byte("0"), 100*limit))
				zw.Close()
				if z.Len() >= limit {
					t.Fatalf("the gzip body is %d bytes", z.Len())
				}
				if code := post(z.Bytes(), true); code != http.StatusRequestEntityTooLarge {
					t.Errorf("a gzip body of %d bytes that decodes to %d: %d; want 413", z.Len(), 100*limit, code)
				}
			}
			if out, err := s.clone("p/pub.git", ""); err != nil {
				t.Fatalf("clone under a %d-byte limit: %v\n%s", limit, err, out)
			}
		})
	}
}
