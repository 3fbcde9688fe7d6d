package accesstoken

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error about a token or a request matches one of
// them with [errors.Is]; detail is added around them, never instead of
// them. (Configuration errors from [New], its options and [NewFormat] are
// plain errors.)
var (
	// ErrMalformed reports a secret that is not a well-formed token of the
	// configured format: wrong length, prefix, alphabet or checksum. It is
	// decided without touching the store.
	ErrMalformed = errors.New("accesstoken: malformed token")

	// ErrUnknownToken reports a well-formed secret that matches no stored
	// token.
	ErrUnknownToken = errors.New("accesstoken: unknown token")

	// ErrExpired reports a token whose expiry time has passed.
	ErrExpired = errors.New("accesstoken: token expired")

	// ErrRevoked reports a token that was revoked (or rotated, which revokes
	// the old token).
	ErrRevoked = errors.New("accesstoken: token revoked")

	// ErrWrongTarget reports a valid token used on a repository it does not
	// target.
	ErrWrongTarget = errors.New("accesstoken: token does not cover this repository")

	// ErrMissingScope reports a valid token that lacks the scope the
	// operation requires.
	ErrMissingScope = errors.New("accesstoken: token lacks the required scope")

	// ErrOwnerDenied reports that the token's owner may not, at present,
	// perform the operation on the repository: the forge's [Authorizer]
	// said no. A token never grants more than its owner has.
	ErrOwnerDenied = errors.New("accesstoken: token owner is not permitted")

	// ErrStoreFailure reports that the [Store] failed (database down, query
	// error, cancelled context). The request was not decided; callers must
	// fail closed (HTTP 503), never treat it as valid.
	ErrStoreFailure = errors.New("accesstoken: token store failure")

	// ErrAuthorizerFailure reports that the forge's [Authorizer] returned an
	// error. Like [ErrStoreFailure] the request was not decided.
	ErrAuthorizerFailure = errors.New("accesstoken: permission check failure")

	// ErrForbidden reports that the acting user may not manage (issue, list,
	// revoke, rotate) tokens of the target.
	ErrForbidden = errors.New("accesstoken: not permitted to manage these tokens")

	// ErrNotFound is returned by a [Store] when no token has the given ID or
	// digest, and by [Manager] methods that look a token up by ID.
	ErrNotFound = errors.New("accesstoken: token not found")

	// ErrDuplicate is returned by a [Store] when a token with the same ID or
	// digest already exists.
	ErrDuplicate = errors.New("accesstoken: duplicate token")

	// ErrInvalidInput is matched by every error about a bad request to issue
	// a token (and by the more specific errors below), so a forge can answer
	// HTTP 400 for all of them.
	ErrInvalidInput = errors.New("accesstoken: invalid input")

	// ErrUnknownScope reports a scope that is neither built in nor
	// registered with [WithScopes].
	ErrUnknownScope = errors.New("accesstoken: unknown scope")

	// ErrNoScopes reports a request for a token without any scope.
	ErrNoScopes = errors.New("accesstoken: a token needs at least one scope")

	// ErrBadExpiry reports an expiry time that is not in the future, or that
	// exceeds the maximum lifetime set with [WithMaxLifetime].
	ErrBadExpiry = errors.New("accesstoken: invalid expiry")

	// ErrBadDescription reports a description that is empty, too long, or
	// holds characters that can mislead a reader (control and invisible
	// format characters, such as bidirectional overrides and zero-width
	// characters; white space at either end).
	ErrBadDescription = errors.New("accesstoken: invalid description")

	// ErrDuplicateDescription reports a description that another active
	// token of the same owner and target has: descriptions name tokens, as
	// GitHub's and GitLab's token names do. A [Store]'s Insert returns it;
	// [Manager.Issue]'s error matches it and [ErrInvalidInput].
	ErrDuplicateDescription = errors.New("accesstoken: description already used by an active token of this owner and target")

	// ErrBadReason reports a revocation reason that is missing where one
	// is required, too long, or holds characters that can mislead a
	// reader, as [ErrBadDescription] says of descriptions.
	ErrBadReason = errors.New("accesstoken: invalid revocation reason")

	// ErrBadListOptions reports a page size out of range, an unknown
	// state, or a cursor that no listing returned.
	ErrBadListOptions = errors.New("accesstoken: invalid list options")

	// ErrBadOwner reports an empty or otherwise invalid owner (or actor).
	ErrBadOwner = errors.New("accesstoken: invalid owner")

	// ErrBadTarget reports an invalid target or resource: empty project,
	// identity too long or not printable UTF-8.
	ErrBadTarget = errors.New("accesstoken: invalid target")

	// ErrScanLimit reports that a [Scanner] met more distinct well-formed
	// tokens of its Manager's format than [ScanOptions].MaxLookups allows
	// it to look up. The scan is incomplete: a caller that must fail
	// closed (push protection) refuses what it was scanning.
	ErrScanLimit = errors.New("accesstoken: scan limit reached: too many distinct well-formed tokens to look up")
)

// Temporary reports whether err means the request could not be decided
// because the store or the permission check failed ([ErrStoreFailure] or
// [ErrAuthorizerFailure]). An HTTP server answers such errors with 503 and
// must never let the request through.
func Temporary(err error) bool {
	return errors.Is(err, ErrStoreFailure) || errors.Is(err, ErrAuthorizerFailure)
}

// storeErr turns a Store's error into the Manager's: the answers in pass
// (sentinels such as ErrNotFound) go through as they are, anything else is
// a system error matching ErrStoreFailure.
func storeErr(err error, pass ...error) error {
	for _, p := range pass {
		if errors.Is(err, p) {
			return p
		}
	}
	return fmt.Errorf("%w: %w", ErrStoreFailure, err)
}

// inputError is an [ErrInvalidInput] with a specific kind and message.
type inputError struct {
	kind error
	msg  string
}

func (e *inputError) Error() string { return e.msg }
func (e *inputError) Unwrap() []error {
	return []error{ErrInvalidInput, e.kind}
}

func invalid(kind error, msg string) error {
	return &inputError{kind: kind, msg: kind.Error() + ": " + msg}
}

// malformedError is an [ErrMalformed] with a reason. The values are
// preallocated so that rejecting a malformed token does not allocate; they
// never contain any part of the secret.
type malformedError struct{ msg string }

func (e *malformedError) Error() string { return e.msg }
func (e *malformedError) Unwrap() error { return ErrMalformed }

var (
	errEmpty    = &malformedError{"accesstoken: malformed token: empty"}
	errLength   = &malformedError{"accesstoken: malformed token: wrong length"}
	errPrefix   = &malformedError{"accesstoken: malformed token: wrong prefix"}
	errAlphabet = &malformedError{"accesstoken: malformed token: character outside the token alphabet"}
	errChecksum = &malformedError{"accesstoken: malformed token: checksum mismatch (mistyped or truncated)"}
)

// truncateForError bounds user input quoted in an error message.
func truncateForError(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
