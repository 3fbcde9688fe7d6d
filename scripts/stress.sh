#!/usr/bin/env bash
# Runs the project's test command (scripts/test.sh, what CI runs) while the
# machine is saturated, to reproduce CI on a busy machine:
#
#	scripts/stress.sh [-n RUNS] [-- TEST.SH ARGS...]
#
# For the whole time it keeps one busy loop per core spinning and, beside
# them, `go build` of the standard library from scratch in a loop (a
# compiler and linker fighting for the same cores, as other builds on a
# shared CI machine do). Then it runs scripts/test.sh RUNS times (default
# 3) in a row, stops at the first failure, and prints each run's wall time
# and the load average it ran under. The load stops whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
while [ $# -gt 0 ]; do
	case "$1" in
	-n) runs=$2; shift 2 ;;
	--) shift; break ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "stress.sh: unknown argument $1 (see -h)" >&2; exit 2 ;;
	esac
done

log() { printf '==> stress: %s\n' "$*" >&2; }

load_pids=()
load_dir=$(mktemp -d "${TMPDIR:-/tmp}/accesstoken-stress.XXXXXX")
stop_load() {
	local p
	for p in "${load_pids[@]}"; do
		kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$load_dir"
}
trap stop_load EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cores=$(nproc)
set -m # each load job in its own process group, so that it is stopped whole
for _ in $(seq "$cores"); do
	(while :; do :; done) &
	load_pids+=($!)
done
(
	export GOCACHE="$load_dir/gocache" GOFLAGS=
	while :; do
		rm -rf "$GOCACHE"
		go build -a -o /dev/null std >/dev/null 2>&1 || true
	done
) &
load_pids+=($!)
set +m
log "load: $cores busy loops and a looping 'go build -a std' on $cores cores"

for i in $(seq "$runs"); do
	start=$(date +%s)
	log "run $i of $runs: scripts/test.sh $*"
	if ! ./scripts/test.sh "$@"; then
		log "run $i FAILED after $(($(date +%s) - start)) s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
		exit 1
	fi
	log "run $i passed in $(($(date +%s) - start)) s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
done
log "all $runs runs passed under load"
