package gitreq

import "errors"

// Sentinel errors of [CheckPath], [SplitPath], [Classify] and [Parse].
var (
	// ErrBadPath reports an unsafe request path: one whose cleaned form
	// differs from the raw one, or that holds "..", "//", an encoded dot,
	// slash, backslash or percent sign, a control character or invalid
	// UTF-8. Answer it with 400, before authenticating.
	ErrBadPath = errors.New("gitreq: unsafe request path")

	// ErrNotGitRoute reports a path under a repository that is not a git
	// smart-HTTP, dumb-HTTP or Git LFS route, or a method the route does
	// not take. Answer it with 404.
	ErrNotGitRoute = errors.New("gitreq: not a git route")

	// ErrBadRequest reports a request with a malformed query or body: an
	// unknown or repeated ?service= on info/refs, an LFS batch request
	// whose "operation" is missing, repeated or neither "download" nor
	// "upload", a query that does not decode. Answer it with 400.
	ErrBadRequest = errors.New("gitreq: malformed git request")

	// ErrBodyTooLarge reports an LFS batch request body over the limit.
	// Answer it with 413.
	ErrBodyTooLarge = errors.New("gitreq: LFS batch request body too large")
)
