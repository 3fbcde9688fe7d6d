package httpauth

import (
	"io"
	"time"
)

// holdBack is how many bytes of a request body recheckBody keeps back
// until the body is complete and checked again: more than any request
// ends with (a pack's trailing checksum is 20 or 32 bytes, a pkt-line
// flush 4), so that git cannot act on a request before that check.
const holdBack = 64

// recheckBody is the body of a request the middleware let in. It checks
// the request's token again (check) before it gives out bytes when the
// last check is older than every, and always once the body is complete,
// before it gives out the last holdBack bytes: a request held open, or
// uploading slowly, stops as soon as its token is revoked or its owner
// loses the access, and git never gets the end of a request whose token
// was revoked before the request was complete. A failed check (an
// [*Error]) is returned by every later Read.
type recheckBody struct {
	body    io.ReadCloser
	check   func() *Error
	every   time.Duration
	checked time.Time // of the last check that passed

	buf   []byte // read from body; buf[start:] not given out yet
	start int
	eof   bool // body returned io.EOF
	final bool // the check after EOF passed
	err   error
}

func (b *recheckBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if b.err != nil {
			return 0, b.err
		}
		pending := b.buf[b.start:]
		switch {
		case b.eof:
			if !b.final {
				if e := b.check(); e != nil {
					b.err = e
					continue
				}
				b.final = true
			}
			if len(pending) == 0 {
				return 0, io.EOF
			}
			n := copy(p, pending)
			b.start += n
			return n, nil
		case len(pending) > holdBack:
			if time.Since(b.checked) >= b.every {
				if e := b.check(); e != nil {
					b.err = e
					continue
				}
				b.checked = time.Now()
			}
			n := copy(p, pending[:len(pending)-holdBack])
			b.start += n
			return n, nil
		}
		b.fill(len(p))
	}
}

// fill reads more of the body into buf.
func (b *recheckBody) fill(want int) {
	pending := len(b.buf) - b.start
	if b.start > 0 {
		copy(b.buf, b.buf[b.start:])
		b.buf, b.start = b.buf[:pending], 0
	}
	need := pending + max(want, 32<<10)
	if cap(b.buf) < need {
		nb := make([]byte, pending, need)
		copy(nb, b.buf)
		b.buf = nb
	}
	n, err := b.body.Read(b.buf[pending:cap(b.buf)])
	b.buf = b.buf[:pending+n]
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.err = err
	}
}

func (b *recheckBody) Close() error { return b.body.Close() }
