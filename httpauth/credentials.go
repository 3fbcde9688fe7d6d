package httpauth

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/textproto"
	"strings"
)

// Credentials is the token a request carries, as a [CredentialSource]
// found it.
type Credentials struct {
	// Secret is the token, as sent.
	Secret string
	// User is the HTTP Basic user name sent with the token as password,
	// possibly empty; it is empty for every other form.
	User string
	// Form says how the token was sent.
	Form CredentialForm
}

// CredentialForm says how a request sent its token.
type CredentialForm uint8

// The forms of [Credentials].
const (
	// FormBasicPassword is HTTP Basic with the token as password (and any
	// user name, possibly empty), what git sends for a token in a URL or
	// from a credential helper.
	FormBasicPassword CredentialForm = iota + 1
	// FormBasicUser is HTTP Basic with the token as user name and an
	// empty password.
	FormBasicUser
	// FormBearer is "Authorization: Bearer <token>".
	FormBearer
	// FormHeader is a header of the forge's own ([TokenHeader]).
	FormHeader
)

// CredentialSource finds the token a request carries. It is given the
// request's headers only, never its URL: a token is never taken from a
// query string (a request with one there is refused before any source is
// asked; see [ErrTokenInURL]). Both middlewares ([Middleware] and the
// route middlewares, [Require] and its kin) ask the same sources in the
// same way, for every route: one code path for every credential form. Set
// them with [WithCredentials]; the default is [AuthorizationHeader] alone.
// A CredentialSource must be safe for concurrent use.
type CredentialSource interface {
	// Credentials returns the token the headers carry, with found true;
	// found false when they carry none; or an error matching
	// [ErrBadCredentials] when what they carry is malformed, repeated or
	// of an unsupported scheme. The error must not contain any part of
	// the headers.
	Credentials(h http.Header) (c Credentials, found bool, err error)
	// Headers lists, in canonical form, the headers Credentials reads.
	// The middlewares remove them from a request they let through, so
	// that the next handler (a CGI backend, git's hooks) never sees the
	// token.
	Headers() []string
}

// AuthorizationHeader returns the default [CredentialSource]: the
// Authorization header, with HTTP Basic credentials (the token as
// password and any user name, or the token as user name and an empty
// password; up to 1 KiB) or a Bearer token. A repeated Authorization
// header, another scheme, or malformed Basic or Bearer credentials are
// [ErrBadCredentials]. It reads Authorization and Proxy-Authorization
// (the latter only to remove it: a token meant for a proxy is not
// accepted as the client's).
func AuthorizationHeader() CredentialSource { return authorizationSource{} }

type authorizationSource struct{}

var authorizationHeaders = []string{"Authorization", "Proxy-Authorization"}

func (authorizationSource) Headers() []string { return authorizationHeaders }

func (authorizationSource) Credentials(hdr http.Header) (Credentials, bool, error) {
	v, present, err := oneValue(hdr, "Authorization")
	if !present || err != nil {
		return Credentials{}, present, err
	}
	scheme, rest, _ := strings.Cut(v, " ")
	rest = strings.TrimLeft(rest, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		rest = strings.TrimRight(rest, " ")
		if rest == "" || strings.ContainsAny(rest, " \t") {
			return Credentials{}, true, ErrBadCredentials
		}
		return Credentials{Secret: rest, Form: FormBearer}, true, nil
	case strings.EqualFold(scheme, "Basic"):
		return basicCredentials(rest)
	}
	return Credentials{}, true, ErrBadCredentials
}

// oneValue returns the value of the header name (in canonical form) of
// hdr: absent, or present once; a repeated header is [ErrBadCredentials].
func oneValue(hdr http.Header, name string) (v string, present bool, err error) {
	switch vals := hdr[name]; len(vals) {
	case 0:
		return "", false, nil
	case 1:
		return vals[0], true, nil
	}
	return "", true, ErrBadCredentials
}

// basicCredentials decodes the credentials of an HTTP Basic header.
func basicCredentials(enc string) (Credentials, bool, error) {
	// Decode on the stack when the credentials are of the usual size (a
	// user name and a token); longer ones, up to 1 KiB, on the heap.
	var src [128]byte
	var dst [96]byte
	var dec []byte
	switch {
	case len(enc) <= len(src):
		n, err := base64.StdEncoding.Decode(dst[:], src[:copy(src[:], enc)])
		if err != nil {
			return Credentials{}, true, ErrBadCredentials
		}
		dec = dst[:n]
	case len(enc) <= 1024:
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return Credentials{}, true, ErrBadCredentials
		}
		dec = b
	default:
		return Credentials{}, true, ErrBadCredentials
	}
	i := bytes.IndexByte(dec, ':')
	switch {
	case i < 0 || len(dec) == 1:
		return Credentials{}, true, ErrBadCredentials
	case i == len(dec)-1:
		return Credentials{Secret: string(dec[:i]), Form: FormBasicUser}, true, nil
	}
	// One string holds both the user name and the token: one allocation.
	s := string(dec)
	return Credentials{Secret: s[i+1:], User: s[:i], Form: FormBasicPassword}, true, nil
}

// TokenHeader returns a [CredentialSource] that reads the token from a
// header of the forge's own whose whole value is the token, such as
// GitLab's "PRIVATE-TOKEN" or "JOB-TOKEN" (name is put in canonical form).
// Space around the value is ignored; an empty or repeated header, or a
// value with spaces inside, is [ErrBadCredentials]. Use it in
// [WithCredentials] beside [AuthorizationHeader], or alone.
func TokenHeader(name string) CredentialSource {
	return tokenHeader{name: textproto.CanonicalMIMEHeaderKey(name)}
}

type tokenHeader struct{ name string }

func (t tokenHeader) Headers() []string { return []string{t.name} }

func (t tokenHeader) Credentials(hdr http.Header) (Credentials, bool, error) {
	v, present, err := oneValue(hdr, t.name)
	if !present || err != nil {
		return Credentials{}, present, err
	}
	v = strings.Trim(v, " \t")
	if v == "" || strings.ContainsAny(v, " \t") {
		return Credentials{}, true, ErrBadCredentials
	}
	return Credentials{Secret: v, Form: FormHeader}, true, nil
}
