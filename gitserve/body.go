package gitserve

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"

	"github.com/forgekit/accesstoken/gitreq"
	"github.com/forgekit/accesstoken/httpauth"
)

var errTooLarge = errors.New("gitserve: request body too large")

// requestBody returns r's body, decompressed when it is gzip-encoded.
func requestBody(r *http.Request) (io.Reader, error) {
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return r.Body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBadEncoding, err)
		}
		zr.Multistream(false)
		return zr, nil
	default:
		return nil, errBadEncoding
	}
}

var errBadEncoding = errors.New("gitserve: request body encoding not supported or malformed")

// refuseBody answers a request whose body could not be read before any
// response was written: as the middleware would (httpauth.Refuse) when a
// re-check of its token failed, 413 when it was too large, 415 for a bad
// encoding, and otherwise 400 (the client went away or sent garbage, or
// a Limiter cut a body that did not move).
func refuseBody(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var herr *httpauth.Error
	switch {
	case errors.As(err, &herr):
		log.Info("git request refused while its body arrived", "err", err)
		httpauth.Refuse(w, r, err)
	case errors.Is(err, errTooLarge):
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
	case errors.Is(err, errBadEncoding):
		http.Error(w, "request body encoding not supported or malformed", http.StatusUnsupportedMediaType)
	default:
		log.Info("git request body not read", "err", err)
		http.Error(w, "could not read the request", http.StatusBadRequest)
	}
}

// holdBody waits for r's body before a process is started for it: an
// upload-pack request (small; git http-backend decodes it itself) is read
// whole, up to limit bytes as sent (DefaultMaxRequestBody when limit is 0
// or less); for any other route the first byte is waited for.
func holdBody(r *http.Request, route gitreq.Route, limit int64) (io.Reader, error) {
	if limit <= 0 {
		limit = DefaultMaxRequestBody
	}
	if route == gitreq.RouteUploadPack {
		b, err := readAtMost(r.Body, limit)
		return bytes.NewReader(b), err
	}
	return firstByte(r.Body)
}

// readAtMost reads body whole, or fails with errTooLarge past limit bytes.
func readAtMost(body io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, min(limit, math.MaxInt64-1)+1))
	if err == nil && int64(len(b)) > limit {
		err = errTooLarge
	}
	return b, err
}

// firstByte waits for body's first byte (or its end) and returns a reader
// of all of it.
func firstByte(body io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(body, 64<<10)
	if _, err := br.Peek(1); err != nil && err != io.EOF {
		return nil, err
	}
	return br, nil
}
