package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"

	"github.com/forgekit/accesstoken/gitserve"
)

// forge scan [PROJECT[/REPO]]: the live tokens in every object reachable
// in the repositories (gitserve.ScanRepository), for an operator's cron,
// or after turning push protection on: tokens pushed before it was on,
// or pushed while it was off. Tokens found in a public repository are as
// good as published, and are revoked (Manager.RevokeLeaked, by the
// system actor system:repository-scan, with where they were found as the
// reason); those found in a private one are listed, and left to their
// owners and the operator.

func scanCmd(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		repos, err := reposToScan(ctx, e.db, args)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
		header := false
		live, revoked, left := map[uuid.UUID]bool{}, map[uuid.UUID]bool{}, map[uuid.UUID]bool{}
		var failed []error
		for _, rp := range repos {
			name := rp.Project + "/" + rp.Name
			opts := gitserve.ScanOptions{Manager: e.m}
			thisRepo := map[uuid.UUID]bool{}
			if !rp.Private {
				opts.Revoke = func(ctx context.Context, r gitserve.Revocation) error {
					if _, err := e.m.RevokeLeaked(ctx, r.Secret.Reveal(), r.Actor, fitReason(r.Reason)); err != nil {
						return err
					}
					thisRepo[r.Token.ID] = true
					return nil
				}
			}
			leaks, err := gitserve.ScanRepository(ctx, filepath.Join(e.c.data, "repos", filepath.FromSlash(rp.Dir())), opts)
			for _, l := range leaks {
				if !header {
					fmt.Fprintln(tw, "REPOSITORY\tCOMMIT\tPATH\tLINE\tTOKEN ID\tOWNER\tACTION")
					header = true
				}
				action := "revoked"
				switch {
				case rp.Private:
					action = "left live: private repository"
					left[l.Token.ID] = true
				case !thisRepo[l.Token.ID]:
					action = "NOT REVOKED: the revocation failed"
				default:
					revoked[l.Token.ID] = true
				}
				live[l.Token.ID] = true
				commit := l.Commit
				if commit == "" {
					commit = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", name, commit, leakPlace(l), l.Line, l.Token.ID, l.Token.Owner, action)
			}
			if err != nil {
				failed = append(failed, fmt.Errorf("%s: the scan stopped before the end, and found what is listed above: %w", name, err))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for id := range revoked {
			delete(left, id) // found in a public repository too
		}
		summary := fmt.Sprintf("scanned %s: ", plural(len(repos), "repository", "repositories"))
		switch {
		case len(live) == 0:
			summary += "no live token found"
		default:
			summary += fmt.Sprintf("%s found, %d revoked (found in public repositories)", plural(len(live), "live token", "live tokens"), len(revoked))
			if len(left) > 0 {
				summary += fmt.Sprintf(", %d left live (found in private repositories only: revoke with forge token revoke ID those that should not be there)", len(left))
			}
		}
		fmt.Fprintln(e.stdout, summary)
		if len(failed) > 0 {
			return errors.Join(failed...)
		}
		return nil
	}
}

// reposToScan returns the repositories that scan's arguments name: every
// one, a project's, or one.
func reposToScan(ctx context.Context, db *DB, args []string) ([]Repo, error) {
	if len(args) == 0 {
		ps, err := db.Projects(ctx)
		if err != nil {
			return nil, err
		}
		var all []Repo
		for _, p := range ps {
			rs, err := db.Repos(ctx, p.Name)
			if err != nil {
				return nil, err
			}
			all = append(all, rs...)
		}
		return all, nil
	}
	if project, name, ok := strings.Cut(args[0], "/"); ok {
		r, err := db.Repo(ctx, project, name)
		if err != nil {
			return nil, err
		}
		return []Repo{*r}, nil
	}
	if _, err := db.Project(ctx, args[0]); err != nil {
		return nil, err
	}
	return db.Repos(ctx, args[0])
}

// tokenShape is what could be a token of any prefix: what leakPlace
// hides.
var tokenShape = regexp.MustCompile(`[a-z][a-z0-9]{0,15}_[0-9A-Za-z]{49}`)

// leakPlace says where in its commit a leak is: a path (quoted if it
// holds unusual characters, whatever is shaped like a token hidden), or
// the message of a commit or a tag.
func leakPlace(l gitserve.Leak) string {
	switch {
	case l.ObjectType == "commit":
		return "(commit message)"
	case l.ObjectType == "tag":
		return "(message of tag object " + l.Object + ")"
	case l.Commit == "":
		return "(blob " + l.Object + ", in no commit)"
	}
	p := tokenShape.ReplaceAllLiteralString(l.Path, "[REDACTED]")
	for _, c := range []byte(p) {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return strconv.QuoteToASCII(p)
		}
	}
	return p
}
