# bench_lib.sh: what the benchmarks that run aoipd share. Sourced, never run.
#
# The caller sets bench_name and build (the build directory) first. Nodes
# run on loopback with discovery and multicast off, each with its state,
# socket and log in a scratch directory; everything started is stopped by
# PID when the script ends.

aoipd=$build/daemon/aoipd
aoipctl=$build/cli/aoipctl
dir=$(mktemp -d "${TMPDIR:-/tmp}/aoip-bench.XXXXXX")
pids=()
declare -A pid # by node name
nap_pid=
bench_cleanup() {
	local rc=$? p
	[ -z "$nap_pid" ] || kill "$nap_pid" 2>/dev/null || true
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ]; then
		for f in "$dir"/*.log; do
			[ -f "$f" ] || continue
			echo "-- ${f##*/}" >&2
			tail -n 20 "$f" >&2
		done
	fi
	rm -rf "$dir"
	exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
# Every node of a benchmark is a member of one network.
(umask 077 && "$aoipctl" keygen >"$dir/network.secret")

die() {
	echo "$bench_name: $*" >&2
	exit 1
}
ctl() {
	local node=$1
	shift
	"$aoipctl" -s "$dir/$node.sock" "$@"
}
# nap SECONDS: sleep, and let a signal end it at once (bash runs traps only
# after a foreground command, but during a wait).
nap() {
	sleep "$1" &
	nap_pid=$!
	wait $nap_pid
}

# start NAME BODY: write NAME's config and run it; its PID in pid[NAME].
# BODY may begin with [node] keys.
start() {
	local name=$1 body=$2 i
	cat >"$dir/$name.conf" <<-CONF
		[node]
		name = $name
		state_dir = $dir/$name.state
		secret_file = $dir/network.secret
		security = ${BENCH_SECURITY:-sealed}
		encoding = ${BENCH_ENCODING:-L24}
		opus_frame_ms = ${BENCH_OPUS_FRAME_MS:-auto}
		opus_bitrate = ${BENCH_OPUS_KBPS:-64}
		control = $dir/$name.sock
		port = 0
		discovery = no
		multicast = never

		$body
	CONF
	"$aoipd" --config "$dir/$name.conf" >>"$dir/$name.log" 2>&1 &
	pids+=($!)
	pid[$name]=$!
	for ((i = 0; i < 100; i++)); do
		ctl "$name" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "$name did not start"
}
# stop NAME: SIGTERM, and wait for it.
stop() {
	kill -TERM "${pid[$1]}"
	wait "${pid[$1]}" || echo "$bench_name: $1 exited with status $? on SIGTERM" >&2
}
peer_port() { ctl "$1" --json status | tr -d ' \n' | grep -o '"port":[0-9]*' | head -n 1 | cut -d: -f2; }
online() { ctl "$1" nodes | grep -E "^\s*$2\s" | grep -q online; }
