// Package gitserve serves git repositories over HTTP behind
// [httpauth.Middleware]: [Handler] runs git upload-pack and receive-pack
// itself (git's smart HTTP protocol, versions 0, 1 and 2), [CGI] runs
// git http-backend for forges that want dumb HTTP too, and [Limiter]
// bounds what clients can make the server do (git processes, held
// connections, idle bodies), in front of either or of any other git
// backend. [PushProtection] makes the Handler refuse pushes that add a
// live access token, and [ScanRepository] finds the tokens already in a
// repository.
//
// Both handlers serve exactly what the middleware decided: the
// repository directory the forge's resolver returned, the operation
// package gitreq classified, pushes only when authorised as pushes. No
// credential reaches git, its hooks or its environment. git's standard
// error is logged as structured records, one per line, never copied raw
// into a log stream.
//
// # Server timeouts
//
// A clone of a large repository can stream for many minutes, and a push
// can upload for as long. Do not set [http.Server.ReadTimeout] or
// [http.Server.WriteTimeout]: they bound the whole request and response
// and cut long clones and pushes off in the middle. Bound the parts where
// a client only holds a connection instead, with ReadHeaderTimeout and
// IdleTimeout on the server, and a [Limiter] for request bodies and
// responses that stop moving:
//
//	srv := &http.Server{
//		Handler:           limiter.Middleware(auth(handler)),
//		ReadHeaderTimeout: 10 * time.Second, // slow-loris on the headers
//		IdleTimeout:       2 * time.Minute,  // idle keep-alive connections
//	}
package gitserve
