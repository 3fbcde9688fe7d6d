package accesstoken

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Target is what a token is for: one repository, or every repository of one
// project. Identities are opaque strings chosen by the forge (names or
// database IDs); the library only compares them. A repository is identified
// by the pair (Project, Repository), so repository names need only be unique
// within their project.
type Target struct {
	// Project is the project's identity. It is never empty for a project
	// target. For a repository target it may be empty when the forge has
	// repositories outside any project (personal repositories).
	Project string
	// Repository is the repository's identity, or empty for a project
	// target.
	Repository string
}

// ProjectTarget returns the target covering every repository of project.
func ProjectTarget(project string) Target { return Target{Project: project} }

// RepositoryTarget returns the target covering one repository.
func RepositoryTarget(project, repository string) Target {
	return Target{Project: project, Repository: repository}
}

// IsProject reports whether t is a project target.
func (t Target) IsProject() bool { return t.Repository == "" }

// Covers reports whether a token for t may be used on res: a project
// target covers every repository of its project, and the project itself
// (a resource made by [ProjectResource]); a repository target only its own
// repository. A resource that names no repository and is not a project
// resource is covered by nothing.
func (t Target) Covers(res Resource) bool {
	switch {
	case res.project:
		return t.Repository == "" && t.Project != "" && t.Project == res.Project && res.Repository == ""
	case t.Repository == "":
		return t.Project != "" && t.Project == res.Project && res.Repository != ""
	}
	return t.Repository == res.Repository && t.Project == res.Project
}

// String returns "project/repository" or "project/*".
func (t Target) String() string {
	if t.IsProject() {
		return t.Project + "/*"
	}
	return t.Project + "/" + t.Repository
}

// Validate reports whether t is a usable target, as an error matching
// [ErrBadTarget] and [ErrInvalidInput].
func (t Target) Validate() error {
	if err := checkIdentity("project", t.Project, t.Repository != ""); err != nil {
		return err
	}
	return checkIdentity("repository", t.Repository, true)
}

// Resource is what a request accesses, as the forge resolved it from the
// URL, with the same identities it uses in [Target]: a repository, or, made
// by [ProjectResource], a project as a whole, which only project tokens of
// that project cover (for API routes about a project rather than one of
// its repositories). A Resource written as a literal is a repository; one
// whose Repository is empty names nothing and is covered by no token, so
// that a forge's bug that loses the repository name never lets a project
// token through.
type Resource struct {
	// Project is the project's identity; for a repository it may be
	// empty, as in a [Target].
	Project string
	// Repository is the repository's identity; empty for a project
	// resource.
	Repository string

	project bool // made by ProjectResource
}

// ProjectResource returns the resource that is the project itself, for
// routes about a project as a whole: only a project token of that project
// covers it, and the [Authorizer] is asked about the project
// ([Resource.IsProject]).
func ProjectResource(project string) Resource { return Resource{Project: project, project: true} }

// IsProject reports whether r is a project resource, made by
// [ProjectResource].
func (r Resource) IsProject() bool { return r.project }

// Validate reports whether r names a repository, or is a project resource
// naming a project, as an error matching [ErrBadTarget] and
// [ErrInvalidInput].
func (r Resource) Validate() error {
	if r.project {
		if r.Repository != "" {
			return invalid(ErrBadTarget, "a project resource with a repository")
		}
		return checkIdentity("project", r.Project, false)
	}
	if r.Repository == "" {
		return invalid(ErrBadTarget, "empty repository")
	}
	if err := checkIdentity("project", r.Project, true); err != nil {
		return err
	}
	return checkIdentity("repository", r.Repository, false)
}

// String returns "project/repository", or "project/*" for a project
// resource.
func (r Resource) String() string {
	if r.project {
		return r.Project + "/*"
	}
	return r.Project + "/" + r.Repository
}

// MaxIdentityLen is the longest owner, project or repository identity
// accepted, in bytes.
const MaxIdentityLen = 255

// checkName checks an identity (what names it in the error, kind is the
// error it matches): not empty unless emptyOK, at most MaxIdentityLen
// bytes, printable.
func checkName(kind error, what, s string, emptyOK bool) error {
	switch {
	case s == "" && emptyOK:
		return nil
	case s == "":
		return invalid(kind, "empty "+what)
	case len(s) > MaxIdentityLen:
		return invalid(kind, fmt.Sprintf("%s longer than %d bytes", what, MaxIdentityLen))
	case !printable(s):
		return invalid(kind, what+" is not printable UTF-8")
	}
	return nil
}

func checkIdentity(what, s string, emptyOK bool) error {
	return checkName(ErrBadTarget, what, s, emptyOK)
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	// The names forges use are ASCII: checked a byte at a time, without
	// decoding (this runs on every verification).
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			ascii = false
			break
		}
	}
	if ascii {
		return true
	}
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
