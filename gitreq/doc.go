// Package gitreq tells what a git HTTP request does, from the request
// alone: which repository path it names and whether it reads (pull) or
// writes (push). It is the one classifier of the project's git serving
// path: package httpauth checks tokens against what it decides, and
// package gitserve serves what it decided, so that the operation that was
// authorised is the operation that runs. Any forge can use it on its own.
//
// It follows the rule git http-backend itself uses: a request is a push
// if and only if it is GET …/info/refs?service=git-receive-pack or POST
// …/git-receive-pack; everything else git serves is a pull. The query is
// read only on GET …/info/refs, and the body only on the Git LFS batch
// route. Unknown routes are errors, never passed through.
//
// [CheckPath] refuses request paths that could mean something else once
// decoded or cleaned ("..", "//", encoded dots and slashes, control
// characters, invalid UTF-8): call it before anything else looks at the
// path.
package gitreq
