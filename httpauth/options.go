package httpauth

import (
	"fmt"
	"time"

	"github.com/forgekit/accesstoken/gitreq"
)

// Option configures [Middleware] and the route middlewares ([Require],
// [RequireAny], [RequireAll], [RequireToken]). The constructors apply the
// options in order and return an error matching [ErrMisconfigured] for an
// option given an invalid value, a nil Option, or an option that does not
// apply to the middleware being built ([WithMaxBatchBody] and
// [WithRecheckInterval] are about git requests, and [Middleware]'s only):
// no option is ignored or corrected silently. This is the convention of
// every package of this module that takes options.
type Option func(*config) error

// config is what the options set.
type config struct {
	forRoute      bool // a route middleware's: the git options do not apply
	realm         string
	errorFunc     ErrorFunc
	ownerUsername bool
	maxBody       int64
	recheckEvery  time.Duration
	sources       []CredentialSource
}

// DefaultRecheckInterval is how often, at most, the middleware checks a
// request's token again while the request's body arrives (see
// [WithRecheckInterval]).
const DefaultRecheckInterval = time.Second

// defaultSources is the default of [WithCredentials].
var defaultSources = []CredentialSource{AuthorizationHeader()}

// newConfig returns the configuration of a middleware, [Middleware]'s or
// (route) a route middleware's, after opts.
func newConfig(forRoute bool, opts []Option) (config, error) {
	c := config{forRoute: forRoute, realm: "git", errorFunc: DefaultErrorFunc, maxBody: gitreq.DefaultMaxBatchBody,
		recheckEvery: DefaultRecheckInterval, sources: defaultSources}
	if forRoute {
		c.realm = "api"
	}
	for i, o := range opts {
		if o == nil {
			return config{}, fmt.Errorf("%w: option %d is nil", ErrMisconfigured, i)
		}
		if err := o(&c); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// badOption returns the error of an option given a value it refuses.
func badOption(option, why string) error {
	return fmt.Errorf("%w: %s: %s", ErrMisconfigured, option, why)
}

// WithRealm sets the realm of the WWW-Authenticate challenge. The default
// is "git" for [Middleware] and "api" for the route middlewares. The realm
// must be 1 to 64 printable ASCII characters other than the double quote
// and the backslash, which it is sent without escaping.
func WithRealm(realm string) Option {
	return func(c *config) error {
		if realm == "" || len(realm) > 64 {
			return badOption("WithRealm", "the realm must be 1 to 64 characters")
		}
		for i := 0; i < len(realm); i++ {
			if b := realm[i]; b < 0x20 || b >= 0x7f || b == '"' || b == '\\' {
				return badOption("WithRealm", fmt.Sprintf("the realm holds %q at byte %d: want printable ASCII without '\"' or '\\'", b, i))
			}
		}
		c.realm = realm
		return nil
	}
}

// WithErrorFunc sets the function that answers refused requests. The
// default is [DefaultErrorFunc]; nil is an error.
func WithErrorFunc(f ErrorFunc) Option {
	return func(c *config) error {
		if f == nil {
			return badOption("WithErrorFunc", "nil ErrorFunc")
		}
		c.errorFunc = f
		return nil
	}
}

// WithOwnerUsername requires HTTP Basic credentials to carry the token's
// owner as user name and the token as password, as Launchpad does; the
// token-as-user-name form is then refused. Bearer tokens are not affected.
// By default any user name is accepted.
func WithOwnerUsername() Option {
	return func(c *config) error { c.ownerUsername = true; return nil }
}

// WithCredentials sets where the middlewares look for a token: the
// sources, each asked in turn. A request that carries a token in more
// than one of them, or anything malformed in any, is refused with 401
// ([ErrBadCredentials]): a request has one identity. Without this option
// the source is [AuthorizationHeader] alone. At least one source is
// needed, and none may be nil.
func WithCredentials(sources ...CredentialSource) Option {
	return func(c *config) error {
		if len(sources) == 0 {
			return badOption("WithCredentials", "no credential source")
		}
		for i, s := range sources {
			if s == nil {
				return badOption("WithCredentials", fmt.Sprintf("source %d is nil", i))
			}
		}
		c.sources = append([]CredentialSource(nil), sources...)
		return nil
	}
}

// WithMaxBatchBody sets the largest LFS batch request body [Middleware]
// reads to classify it; a larger one is refused with 413. The default is
// [gitreq.DefaultMaxBatchBody] (1 MiB). n must be positive. It applies
// to [Middleware] only.
func WithMaxBatchBody(n int64) Option {
	return func(c *config) error {
		switch {
		case c.forRoute:
			return badOption("WithMaxBatchBody", "a route middleware reads no LFS batch body (the option is for git requests)")
		case n <= 0:
			return badOption("WithMaxBatchBody", "the size must be positive")
		}
		c.maxBody = n
		return nil
	}
}

// WithRecheckInterval sets how often, at most, [Middleware] checks the
// token of a request again while its body arrives; the default is
// [DefaultRecheckInterval]. d must be positive. See [Middleware] for what
// the re-check guarantees. It applies to [Middleware] only.
func WithRecheckInterval(d time.Duration) Option {
	return func(c *config) error {
		switch {
		case c.forRoute:
			return badOption("WithRecheckInterval", "a route middleware does not check a token again (the option is for git requests)")
		case d <= 0:
			return badOption("WithRecheckInterval", "the interval must be positive")
		}
		c.recheckEvery = d
		return nil
	}
}
