# lab_lib.sh: integration tests across the hosts of tests/lab. Sourced after
# lib.sh, never run.
#
# A test makes a lab of N hosts (each its own network namespace with its own
# avahi-daemon, on one IGMP-snooping switch), runs one aoipd per host with
# mDNS discovery and no static peers, and drives each through aoipctl on its
# control socket (a path on the shared file system, so aoipctl runs from
# here). Nodes are stopped by PID by lib.sh; the lab goes down after them,
# whatever happened. A machine that cannot make a lab skips (exit 77).

lab_bin=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lab" && pwd)/lab

why=$("$lab_bin" check 2>&1) || skip "${why#lab: }"

# A lab name of our own, from the PID, so parallel runs never meet.
lab_name=$(printf 'i%05x' $(($$ % 0x100000)))
export AOIP_LAB_TAG=aoiptest
"$lab_bin" prune aoiptest >/dev/null 2>&1 || true

lab_cleanup() {
	local rc=$? f
	"$lab_bin" down "$lab_name" >/dev/null 2>&1 || true
	# Nodes on lab hosts are not this shell's children: their sanitizer
	# reports are read from their logs instead of their exit status.
	for f in "$it_dir"/*.log; do
		[ -f "$f" ] || continue
		if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$f"; then
			echo "FAIL: sanitizer report in ${f##*/}" >&2
			grep -A12 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$f" >&2 | head -40
			rc=1
		fi
	done
	return "$rc"
}
# lib.sh's trap stops the nodes first; the lab comes down after it.
it_extra_cleanup=lab_cleanup

lab() { "$lab_bin" "$@"; }

# lab_up N
lab_up() {
	lab up "$lab_name" "$1" >/dev/null || fail "lab up failed"
}

# lab_node_conf HOST NAME BODY: NAME runs on HOST with discovery on, multicast
# as MULTICAST (default auto), its peer port the same on every host.
lab_node_conf() {
	local host=$1 name=$2 body=$3
	cat >"$it_dir/$name.conf" <<-CONF
		[node]
		name = ${NODE_NAME:-$name}
		state_dir = $it_dir/$name.state
		secret_file = ${NODE_SECRET:-$it_dir/network.secret}
		control = $it_dir/$name.sock
		port = ${NODE_PORT:-7400}
		latency_us = ${NODE_LATENCY_US:-10000}
		discovery = yes
		multicast = ${MULTICAST:-auto}
		multicast_ttl = 1

		$body
	CONF
	eval "host_$name=$host"
}

# lab_node_start NAME: start NAME on its host, wait for its control socket.
lab_node_start() {
	local name=$1 host pid
	host=$(eval "echo \$host_$name")
	pid=$(lab spawn "$lab_name" "$host" "$it_dir/$name.log" "$AOIPD" --config "$it_dir/$name.conf")
	it_nodes+=("$pid")
	eval "pid_$name=$pid"
	wait_until 10 ctl "$name" status || fail "$name did not start on host $host"
	# Its recordings start with its media thread, which starts as it begins to answer.
	eval "t0_$name=$(date +%s%N)"
}

# running PID: alive, not just a zombie nobody reaped yet (a spawned node's
# parent is not this shell).
running() {
	local state
	state=$(sed -n 's/^State:\s*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# lab_node_stop NAME: SIGTERM, and it must be gone within a second, having
# said so in its log (it is not this shell's child: no exit status to wait for).
lab_node_stop() {
	local name=$1 pid i
	pid=$(eval "echo \$pid_$name")
	kill -TERM "$pid"
	for ((i = 0; i < 100; i++)); do
		running "$pid" || break
		sleep 0.01
	done
	running "$pid" && fail "$name still running 1 s after SIGTERM"
	tail -n 1 "$it_dir/$name.log" | grep -q "stopped" || fail "$name did not stop cleanly"
}

# nodes_online NODE N: NODE sees N nodes online (itself included).
nodes_online() {
	[ "$(ctl "$1" nodes | grep -c ' online ')" -eq "$2" ]
}

# at_ms NAME STAMP: where a date +%s%N stamp falls in NAME's recordings
# (which start when NAME starts), in ms.
at_ms() {
	echo $((($2 - $(eval "echo \$t0_$1")) / 1000000))
}

# now_ms NAME: now, in NAME's recordings.
now_ms() {
	at_ms "$1" "$(date +%s%N)"
}

# lab_truck_records [KEYS]: truck on host 2, with the [node] KEYS given
# (NODE_LATENCY_US and the like from the environment), recording one
# channel to truck.wav; stage (configured before, on host 1) and truck
# started, and stage/low routed to truck/ch1.
lab_truck_records() {
	lab_node_conf 2 truck "${1:-}

[output.rec]
type = wav
path = $it_dir/truck.wav
channels = 1
"
	lab_node_start stage
	lab_node_start truck
	wait_until 20 online truck stage || fail "truck does not see stage"
	ctl truck route add stage/low truck/ch1
}
