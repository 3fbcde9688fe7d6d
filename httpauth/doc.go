// Package httpauth puts access tokens in front of git's smart HTTP protocol
// and Git LFS: a middleware ([Middleware]) that a forge wraps around its git
// HTTP handler (package gitserve has two: gitserve.Handler, which runs git
// upload-pack and receive-pack itself, and gitserve.CGI, which runs git
// http-backend). The same checks protect any other route of the forge, such
// as its JSON API: [Require], [RequireAny] and [RequireAll] for a route
// that needs scopes on a repository or project derived from the request
// ([RepositoryRoute], [ProjectRoute]), and [RequireToken] for endpoints
// about the token itself. Both kinds take credentials from the same
// [CredentialSource]s through the same code, and answer with the same
// status policy; what a refusal may reveal about a private resource (403
// or 404) is decided once, by [accesstoken.Manager.Verify]
// ([accesstoken.RejectedError.Visible]).
//
// For every request the middleware, in this order:
//
//  1. rejects unsafe paths with 400 before anything else
//     ([gitreq.CheckPath], [gitreq.ErrBadPath]): a path whose cleaned form
//     differs from the raw one, "..", "//", percent-encoded dots, slashes,
//     backslashes or percent signs, NUL and other control characters,
//     invalid UTF-8;
//  2. rejects a token in the query string with 400 ([ErrTokenInURL]);
//  3. splits the path into the repository part and the route, and decides
//     from the method and the route alone which operation the request
//     performs ([gitreq.Parse]): a pull ([accesstoken.ScopePull]) or a push
//     ([accesstoken.ScopePush]). The query is read only on GET …/info/refs
//     (?service=), the body only on the LFS batch route ("operation").
//     Anything it does not know is rejected, never passed through;
//  4. asks the forge's [Resolver] which repository the path names: its
//     [accesstoken.Resource], its directory and whether it is public. This
//     one parsed identity is what the token check and the git handler use;
//  5. takes the token from the Authorization header (Basic with the token
//     as password or as user name, or Bearer; [WithCredentials] adds or
//     replaces sources) and checks it, for every route and every credential
//     form, with one call of [accesstoken.Manager.Verify];
//  6. removes the credentials (every header a source reads,
//     Authorization, Proxy-Authorization) and Cookie from the request and
//     calls the next handler with the verified [Access] in the context
//     ([FromContext]; [TokenFrom] for the token alone, a copy);
//  7. while the request's body arrives, checks the token again
//     ([accesstoken.Manager.Recheck]; for an anonymous pull, that the
//     repository is still public) at most every [DefaultRecheckInterval],
//     and always once the body is complete, before the handler gets its
//     last 64 bytes: a request held open, or uploading slowly, stops when
//     its token is revoked or its owner loses the access, and git never
//     acts on a request whose token was revoked before the request was
//     complete (the body's Read returns an [*Error]; [Refuse] answers it).
//     A response already streaming (a clone in progress) is not stopped.
//
// An LFS batch request's body, which says whether it downloads or uploads,
// is read only once the request's token is found live
// ([accesstoken.Manager.Authenticate]) and its repository exists.
//
// # Status codes
//
// An anonymous request that needs a token gets 401 with a
// `WWW-Authenticate: Basic` challenge: git sends no credentials before it
// sees one. A malformed, unknown, expired or revoked token gets 401. A
// valid token that may not do what the request does gets 403, or 404 where
// the repository is private and the token is not for it or its owner may
// not see it (see [Middleware]; the Manager decides it:
// [accesstoken.RejectedError.Visible]), so that private repositories are
// never confirmed to outsiders. A failure of the token store, the forge's permission check or
// the resolver gets 503: the request is never let through undecided. Bodies
// are short plain text, which git prints to the user, and never contain the
// token. [WithErrorFunc] replaces the default replies.
//
// # Server timeouts
//
// A clone of a large repository can stream for many minutes, and a push
// can upload for as long. Do not set [http.Server.ReadTimeout] or
// [http.Server.WriteTimeout]: they bound the whole request and response
// and cut long clones and pushes off in the middle. Bound the parts where
// a client only holds a connection instead:
//
//	srv := &http.Server{
//		Handler:           handler,
//		ReadHeaderTimeout: 10 * time.Second, // slow-loris on the headers
//		IdleTimeout:       2 * time.Minute,  // idle keep-alive connections
//	}
package httpauth
