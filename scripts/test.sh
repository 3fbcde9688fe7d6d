#!/usr/bin/env bash
# The project's one test command (README: "Running the tests"); CI runs it
# too, through .ci/run. It installs or starts what the tests need, then runs
# the gofmt check, go vet and the race-enabled tests of every package of
# every module of the repository.
#
# The modules are the directories with a go.mod: the library at the root,
# examples/ (the example forge) and sqlstore/drivertest (sqlstore's tests
# with real drivers); go.work must use them all. `go vet ./...` and
# `go test ./...` in one module do not reach the others, so each step runs
# in each module's directory, with GOWORK=off: every module is tested as its
# own go.mod says, as someone who requires it would build it. The other
# modules' go.mod files replace the library with the one in this
# repository, so they are always tested together with it.
#
# Extra arguments go to `go test` in every module (for example -run or -v).
#
# The tests of sqlstore (in sqlstore/drivertest) and of the example forge
# use a real PostgreSQL: this script starts a throwaway PostgreSQL 15
# cluster (initdb and pg_ctl as an unprivileged user, data in a temporary
# directory, listening on 127.0.0.1 and a unix socket), exports its URL as
# ACCESSTOKEN_TEST_POSTGRES for the tests of every module, and stops it and
# removes the directory on exit, whatever happens. Without it the PostgreSQL
# tests skip, except under CI=true, where they fail.
#
#	scripts/test.sh --with-postgres CMD [ARG...]
#
# only starts the cluster and runs CMD with ACCESSTOKEN_TEST_POSTGRES set,
# for example the benchmarks:
#
#	scripts/test.sh --with-postgres go test -run '^$' -bench Verify ./sqlstore/drivertest/
#
# (go.work lets the go command reach every module from the root.)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> [%3ds] %s\n' "$SECONDS" "$*" >&2; }

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

# PostgreSQL server binaries: on PATH, or where Debian's postgresql-15
# package puts them (not on PATH).
pg_bindir() {
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v pg_ctl)"
		return 0
	fi
	local d
	for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

PG_TMP=""
PG_BIN=""
PG_AS=()

stop_postgres() {
	if [ -n "$PG_TMP" ]; then
		if [ -f "$PG_TMP/data/postmaster.pid" ]; then
			"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
		fi
		rm -rf "$PG_TMP"
		PG_TMP=""
	fi
}

# start_postgres starts the cluster and exports ACCESSTOKEN_TEST_POSTGRES, or
# reports why it cannot (failing the run under CI=true).
start_postgres() {
	if ! PG_BIN=$(pg_bindir); then
		# Debian's package puts initdb under /usr/lib/postgresql/15/bin,
		# not on PATH, so need_pkg cannot tell whether it is there.
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			log "installing postgresql-15"
			DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2 || true
		fi
		if ! PG_BIN=$(pg_bindir); then
			log "PostgreSQL server binaries not found: PostgreSQL tests will skip"
			[ "${CI:-}" = true ] && exit 1
			return 0
		fi
	fi
	# As root the directory is under /tmp, which the postgres user can
	# reach whatever TMPDIR says.
	local parent=${TMPDIR:-/tmp}
	[ "$(id -u)" = 0 ] && parent=/tmp
	PG_TMP=$(mktemp -d "$parent/accesstoken-pg.XXXXXX")
	trap stop_postgres EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# initdb and postgres refuse to run as root: run them as the
	# unprivileged postgres user.
	if [ "$(id -u)" = 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres
		fi
		chown postgres: "$PG_TMP"
		PG_AS=(runuser -u postgres --)
	else
		PG_AS=(env)
	fi
	chmod 700 "$PG_TMP"
	log "starting PostgreSQL ($("$PG_BIN/postgres" --version)) in a temporary cluster"
	"${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres --auth=trust \
		--no-sync --encoding=UTF8 --locale=C >"$PG_TMP/initdb.log" 2>&1 ||
		{ cat "$PG_TMP/initdb.log" >&2; log "initdb failed"; exit 1; }
	local port tries=0
	while :; do
		port=$((20000 + RANDOM % 20000))
		if "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 30 \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB" \
			start >/dev/null 2>&1; then
			break
		fi
		tries=$((tries + 1))
		if [ "$tries" -ge 5 ]; then
			cat "$PG_TMP/server.log" >&2 || true
			log "could not start PostgreSQL"
			exit 1
		fi
	done
	export ACCESSTOKEN_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	log "PostgreSQL listening on 127.0.0.1:$port and in $PG_TMP"
}

if [ "${1:-}" = --with-postgres ]; then
	shift
	start_postgres
	status=0
	"$@" || status=$?
	exit "$status"
fi

need_pkg git git
need_pkg chromium chromium # the browser test of examples/forge (chromedp)

# modules lists the module directories, the root first: every go.mod outside
# testdata and .git. It fails unless go.work uses exactly these.
modules() {
	local found used
	found=$(find . -name go.mod -not -path '*/testdata/*' -not -path './.git/*' | sed 's|/go\.mod$||' | LC_ALL=C sort)
	used=$(GOWORK="$PWD/go.work" go list -m -f '{{.Dir}}' | while read -r d; do
		if [ "$d" = "$PWD" ]; then echo .; else echo "./${d#"$PWD"/}"; fi
	done | LC_ALL=C sort)
	if [ "$found" != "$used" ]; then
		log "go.work does not use every module of the repository:"
		printf 'go.mod files in:\n%s\ngo.work uses:\n%s\n' "$found" "$used" >&2
		return 1
	fi
	echo "$found"
}
mods=$(modules)
mapfile -t mods <<<"$mods"

# gofmt reads files, not modules: one run over the tree checks them all.
log "gofmt (modules: ${mods[*]})"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	log "gofmt would change:"; echo "$unformatted" >&2; exit 1
fi

for m in "${mods[@]}"; do
	log "go vet ./... in module $m"
	(cd "$m" && GOWORK=off go vet ./...)
done

# The README's `go run ./examples/forge` from the root goes through go.work.
log "go build ./examples/forge from the root (go.work)"
GOWORK="$PWD/go.work" go build -o /dev/null ./examples/forge

start_postgres

# The modules' tests run at the same time (each module's packages in
# parallel as go test does): much of their time is spent waiting for git,
# PostgreSQL and the browser, so they overlap well. Each module's output is
# printed whole when it is done.
# go test's own limit per package binary is 10 minutes by default; the
# slowest package (the example forge) takes about 2 minutes on 2 quiet
# cores and 5 on a saturated machine (scripts/stress.sh), so a machine five
# times slower would reach it. The limit here is for a hung test, within
# CI's 90 minutes; a -timeout among the arguments comes later and wins.
#
# -race also turns on the compiler's checkptr instrumentation, which checks
# every unsafe.Pointer conversion. The pure-Go SQLite driver (modernc.org,
# C translated to Go) makes them all the time: checkptr was half of the
# CPU time of sqlstore's tests, and the 100,000-token paging test took 76 s
# instead of 19 s. It is turned off for modernc.org's packages only; the
# race detector still watches them, and checkptr still checks this
# project's own unsafe code (format.go, scan.go).
race_flags=(-race -gcflags='modernc.org/...=-d=checkptr=0')
out_dir=$(mktemp -d "${TMPDIR:-/tmp}/accesstoken-test.XXXXXX")
pids=()
for i in "${!mods[@]}"; do
	m=${mods[$i]}
	log "go test -race ./... in module $m (started)"
	(cd "$m" && GOWORK=off go test "${race_flags[@]}" -count=1 -timeout 45m "$@" ./... >"$out_dir/$i" 2>&1) &
	pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null || true; stop_postgres; rm -rf "$out_dir"' EXIT
failed=()
for i in "${!mods[@]}"; do
	status=0
	wait "${pids[$i]}" || status=$?
	log "go test -race ./... in module ${mods[$i]}: exit $status"
	cat "$out_dir/$i"
	[ "$status" = 0 ] || failed+=("${mods[$i]}")
done
rm -rf "$out_dir"
if [ "${#failed[@]}" -gt 0 ]; then
	log "tests failed in module(s): ${failed[*]}"
	exit 1
fi
