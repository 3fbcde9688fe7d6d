// Package accesstoken gives a git forge scoped access tokens: secrets its
// users mint so that `git clone` and `git push` over HTTPS (or a CI job)
// can authenticate on their behalf, limited to one repository or one
// project, to some operations, optionally until an expiry, and revocable at
// any time. It is modelled on Launchpad's git access tokens, including
// project-scoped tokens.
//
// # Using it
//
// A forge builds one [Manager] with [New], over a [Store] (package memstore
// in memory, package sqlstore in SQLite or PostgreSQL) and its own
// [Authorizer], the forge's permission model; [Option]s such as
// [WithPrefix] and [WithMaxLifetime] set the rest. A user who may manage a
// repository or project mints a token for it with [Manager.Issue], whose
// [Issued] result holds the [Secret], shown once. Every request that
// carries a token is then checked with [Manager.Verify], which returns the
// [Token] the request acts as, or an error saying why not (the sentinel
// errors, such as [ErrRevoked], and a [*RejectedError] for a token found
// but refused). Tokens are listed, rotated and revoked through the
// Manager too. The examples of [Manager.Issue] and [Manager.Verify] show
// the whole flow.
//
// # Pieces
//
//   - A [Target] is one repository or one project; a project token covers
//     every repository of its project and nothing else. The forge resolves
//     URLs to identities and hands them over as a [Resource].
//   - A [Scope] is an operation: [ScopePull], [ScopePush],
//     [ScopeBuildStatus], or one the forge registers with [WithScopes]. No
//     scope implies another. A token's scopes are a [ScopeSet].
//   - A [Token] is the stored description of a token, a plain value with a
//     JSON form a forge's API can return as it is ([Token.MarshalJSON]); it
//     never holds the secret.
//   - The [Format] of the secrets: a prefix, a random payload and a
//     checksum ([DefaultFormat], [NewFormat]).
//   - A [Store] keeps the tokens as [Record]s, each with the [Digest] of
//     its secret. Package storetest checks any implementation.
//   - An [Event] reports every issue, use, refusal, revocation, rotation and
//     deletion, for an audit log ([WithEvents], [SlogEvents]).
//   - The forge itself revokes tokens found leaked ([Manager.RevokeLeaked],
//     and [Manager.Scan] finds them in any content) and an account's tokens
//     ([Manager.RevokeOwner]) as a system actor ([SystemActor]), with a
//     reason; [Manager.DeleteInactive] is the retention of revoked and
//     expired tokens.
//   - Lists come a page at a time ([Manager.PageForOwner],
//     [Manager.PageForTarget], [Manager.PageAll]).
//
// Tokens, the records stores keep and scope sets are plain values: what
// one caller holds, nobody else can change, and [Manager.Verify] over
// memstore does not allocate.
//
// Beside this package: package httpauth puts [Manager.Verify] in front of
// git's smart-HTTP protocol and of any other route of the forge (its API),
// package gitreq tells what a git request does, and package gitserve
// serves git behind httpauth.
//
// # Authentication, not authorization
//
// A token acts as its owner and never grants more than the owner may do at
// the moment of the request: [Manager.Verify] asks the forge's
// [Authorizer] every time, so a user who loses access to a repository takes
// their tokens' access with them. Only users the Authorizer allows to manage
// a target may issue tokens for it.
//
// # Secrets
//
// A token's secret is shown once, as the [Secret] returned by
// [Manager.Issue] or [Manager.Rotate]. Only its SHA-256 (or HMAC-SHA256 with
// [WithPepper]) is stored, looked up by exact match and compared in constant
// time. Secrets never appear in lists, errors, events or printed values.
// The format ([Format]) has a prefix and a checksum, so mistyped tokens are
// rejected without a store lookup and leaked ones can be found by
// [Format.FindAll] and by secret scanners; [Manager.Scan] finds the live
// ones (and, if asked, the revoked, expired and unknown ones) in any
// content, with their place and ID, never their text.
package accesstoken
