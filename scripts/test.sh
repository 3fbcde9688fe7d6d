#!/usr/bin/env bash
# The project's one test command (README: "Running the tests"); CI runs it
# too, through .ci/run. It installs or starts what the tests need, then runs
# the gofmt check, go vet and the race-enabled tests of every package.
#
# Extra arguments go to `go test` (for example -run or -v).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

# Debian packages the tests drive for real. Installed when missing and we are
# root (as on CI); otherwise a missing one is reported and, under CI=true,
# fails the run.
need_pkg() { # command package
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing $2"
		if [ -z "${APT_UPDATED:-}" ]; then
			DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
			APT_UPDATED=1
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2
	fi
	command -v "$1" >/dev/null 2>&1 && return 0
	log "missing: $1 (Debian package $2)"
	[ "${CI:-}" = true ] && exit 1
	return 0
}

need_pkg git git

log "gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	log "gofmt would change:"; echo "$unformatted" >&2; exit 1
fi

log "go vet"
go vet ./...

log "go test -race"
go test -race -count=1 "$@" ./...
