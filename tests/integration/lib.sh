# lib.sh: what every integration test shares. Sourced, never run.
#
# A test starts real aoipd processes on loopback, each with its own state
# directory, control socket and ports (port 0: the kernel picks), drives
# them only through aoipctl, as a user would, and analyses what they record
# with aoip-wavcheck. Everything it starts is stopped by PID when it ends,
# passed or failed; logs are printed when it fails.
#
# The binaries come from ctest through the environment: AOIPD, AOIPCTL,
# WAVCHECK, NOISE, STALLMON. AOIP_IT_KEEP=1 keeps the test's directory (configs,
# logs, recordings) for a look after it ran.

set -euo pipefail

: "${AOIPD:?}" "${AOIPCTL:?}" "${WAVCHECK:?}" "${STALLMON:?}"

it_dir=$(mktemp -d "${TMPDIR:-/tmp}/aoip-it.XXXXXX")
it_pids=()  # helpers (GStreamer, ...): stopped, their status ignored
it_nodes=() # aoipd: each must exit 0 on SIGTERM (sanitizers report through it)
it_name=$(basename "$0" .sh)

# stop_helper PID...: SIGTERM, and SIGKILL after 5 s for one that hangs
# (a JACK client whose server went away may).
stop_helper() {
	local pid i
	kill -TERM "$@" 2>/dev/null || true
	for pid in "$@"; do
		# Until it has exited: gone, or a zombie waiting to be reaped.
		for ((i = 0; i < 50; i++)); do
			grep -q '^State:[[:space:]]*[ZX]' "/proc/$pid/status" 2>/dev/null && break
			[ -e "/proc/$pid" ] || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

it_cleanup() {
	local rc=$? pid st
	for pid in "${it_nodes[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	stop_helper "${it_pids[@]}"
	for pid in "${it_nodes[@]}"; do
		st=0
		wait "$pid" 2>/dev/null || st=$?
		# 127: already waited for by node_stop.
		if [ "$st" -ne 0 ] && [ "$st" -ne 127 ] && [ "$rc" -eq 0 ]; then
			echo "FAIL: aoipd $pid exited with status $st on SIGTERM" >&2
			rc=1
		fi
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		echo "== $it_name failed (exit $rc); logs:" >&2
		for f in "$it_dir"/*.log; do
			[ -f "$f" ] || continue
			echo "-- ${f##*/}" >&2
			tail -n 40 "$f" >&2
		done
	fi
	if [ -n "${it_extra_cleanup:-}" ]; then
		"$it_extra_cleanup" || rc=1
	fi
	if [ -n "${AOIP_IT_KEEP:-}" ]; then
		echo "kept $it_dir" >&2
	else
		rm -rf "$it_dir"
	fi
	exit "$rc"
}
trap it_cleanup EXIT
trap 'exit 130' INT TERM

# The test's network: every node it starts holds this secret (NODE_SECRET
# names another file, for a node that is not a member).
(umask 077 && "$AOIPCTL" keygen >"$it_dir/network.secret")

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

# ctl NODE ARGS...: aoipctl against NODE's control socket.
ctl() {
	local node=$1
	shift
	"$AOIPCTL" -s "$it_dir/$node.sock" "$@"
}

# wait_until SECONDS CMD...: retry CMD every 100 ms until it succeeds.
wait_until() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# node_conf NAME BODY: write NAME's config; [node] basics come first, BODY after.
# Extra [node] keys go in NODE_EXTRA (one per line). Nodes on loopback find
# each other through static peers and send unicast only: mDNS and multicast
# stay off, so nothing goes out on the machine's real network.
node_conf() {
	local name=$1 body=$2
	cat >"$it_dir/$name.conf" <<-CONF
		[node]
		name = $name
		state_dir = $it_dir/$name.state
		secret_file = ${NODE_SECRET:-$it_dir/network.secret}
		control = $it_dir/$name.sock
		port = ${NODE_PORT:-0}
		latency_us = ${NODE_LATENCY_US:-10000}
		discovery = no
		multicast = never
		${NODE_EXTRA:-}

		$body
	CONF
}

# node_start NAME: start NAME from its config, wait for its control socket.
node_start() {
	local name=$1
	"$AOIPD" --config "$it_dir/$name.conf" >>"$it_dir/$name.log" 2>&1 &
	local pid=$!
	it_nodes+=("$pid")
	eval "pid_$name=$pid"
	wait_until 10 ctl "$name" status || fail "$name did not start"
}

# stage_tones LOW HIGH [SECTIONS]: the usual sender. stage plays two tones
# at -6 dBFS, LOW Hz as stage/low and HIGH Hz as stage/high, with the node
# keys in STAGE_EXTRA and any further SECTIONS.
stage_tones() {
	NODE_EXTRA=${STAGE_EXTRA:-} node_conf stage "
[input.tones]
type = tone
channels = 2
names = low,high
frequency = $1,$2
level_dbfs = -6

${3:-}
"
	node_start stage
}

# peer_stage: the [peer.stage] section of a node that hears stage.
peer_stage() {
	printf '[peer.stage]\naddress = 127.0.0.1:%s\n' "$(node_port stage)"
}

# truck_conf CHANNELS [SECTIONS]: the usual receiver's config: stage as a
# static peer, the node keys in TRUCK_EXTRA and any further SECTIONS, and a
# recording of CHANNELS channels (ch1..) to truck.wav.
truck_conf() {
	NODE_EXTRA=${TRUCK_EXTRA:-} node_conf truck "
$(peer_stage)

[output.rec]
type = wav
path = $it_dir/truck.wav
channels = $1

${2:-}
"
}

# truck_records [SECTIONS]: the usual receiver (truck_conf, two channels),
# started, with stage/low -> ch1 and stage/high -> ch2 routed.
# Sets t0: when truck started, where its recording begins.
truck_records() {
	truck_conf 2 "${1:-}"
	t0=$(date +%s%N)
	node_start truck
	wait_until 10 online truck stage || fail "truck does not see stage"
	ctl truck route add stage/low truck/ch1
	ctl truck route add stage/high truck/ch2
}

# node_pid NAME
node_pid() {
	eval "echo \$pid_$1"
}

# node_port NAME: the peer port NAME listens on.
node_port() {
	ctl "$1" --json status | sed -n 's/.*"port": *\([0-9]*\).*/\1/p' | head -n 1
}

# node_stop NAME: SIGTERM, and it must be gone within a second.
node_stop() {
	local name=$1 pid i
	pid=$(node_pid "$name")
	kill -TERM "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	kill -0 "$pid" 2>/dev/null && fail "$name still running 1 s after SIGTERM"
	wait "$pid" || fail "$name exited with status $? after SIGTERM"
}

# online NODE PEER: NODE sees PEER online.
online() {
	ctl "$1" nodes | grep -E "^\s*$2\s" | grep -q online
}

# lost NODE PEER: NODE sees PEER lost.
lost() {
	ctl "$1" nodes | grep -E "^\s*$2\s" | grep -q lost
}

# rx_packets NODE: packets its rx flows have received, all together.
rx_packets() {
	ctl "$1" --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*' |
		grep -o '"packets":[0-9]*' | awk -F: '{s += $2} END {print s + 0}'
}

# rx_over NODE N: NODE's rx flows have received more than N packets.
rx_over() {
	[ "$(rx_packets "$1")" -gt "$2" ]
}

# clocks_locked NODE [STATES]: NODE has rx flows, and clock recovery holds
# every one at its target (or in any of STATES, an alternation such as
# 'locked\|slewing').
clocks_locked() {
	local flows
	flows=$(ctl "$1" --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*') || return 1
	[ -n "$flows" ] && ! echo "$flows" | grep -v -q "\"clock\":\"\(${2:-locked}\)\""
}

# The machine is watched for stops of 3 ms or more from the test's start to
# its judgement (a VM's host stops its CPUs for 2-15 ms now and then:
# tests/support/stallmon.c). Such a stop makes everything late together,
# a sender's packets and a receiver's ticks alike, and may cost a recording
# a block or two however well aoipd does. stallmon_result ends the watch
# (the first call; later calls repeat its answer), prints its line, and sets
# stalls to how many stops it saw and gaps_allowed to the wavcheck option
# that excuses STALL_GAP_MS of recording for each: with no stop, as strict
# as --no-gaps.
stallmon_start() {
	"$STALLMON" 0 3 >"$it_dir/stalls.txt" &
	stallmon_pid=$!
	it_pids+=("$stallmon_pid")
}
stallmon_result() {
	if [ -n "${stallmon_pid:-}" ]; then
		kill -TERM "$stallmon_pid" 2>/dev/null || true
		wait "$stallmon_pid" || true
		stallmon_pid=
	fi
	stall=$(cat "$it_dir/stalls.txt")
	stalls=$(echo "$stall" | sed -n 's/.* stalls=\([0-9]*\) .*/\1/p')
	stalls=${stalls:-0}
	gaps_allowed="--gaps-allowed-ms $((STALL_GAP_MS * stalls))"
	echo "the machine: $stall"
}
# A stop of the machine may cost this much of a recording: a receiver that
# stood still for 8 ms plays the next 100-200 ms a little bent while its
# clock recovery settles again (seen at -70 dB).
STALL_GAP_MS=250
stallmon_start

# free_udp_port: a UDP port nothing on this machine listens on now, below
# the kernel's ephemeral range (ip_local_port_range, 32768 up by default), so
# that no socket of a test running alongside (port 0) can take it between
# this check and the bind: a sanitized CI run at 8d0dd48 lost that race.
free_udp_port() {
	local p low
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
	[ "$low" -gt 12000 ] || low=32768
	for p in $(seq $((10000 + RANDOM % (low - 11000))) 1 $((low - 1))) $(seq 10000 1 $((low - 1))); do
		if ! ss -Hlun "sport = :$p" | grep -q .; then
			echo "$p"
			return
		fi
	done
}

# studio_up IN_KEYS OUT_KEYS: the studio the interop tests play against: an
# rtp input desk (deskL, deskR) listening on $in_port and an rtp output gst
# (gstL, gstR) sending to $out_port, two free UDP ports it picks, with the
# encoding keys given for each; deskL and deskR (-6 dB) recorded to
# studio.wav, tones of 750 and 1250 Hz at -18 dBFS sent out on gst. Sets t0.
studio_up() {
	in_port=$(free_udp_port)
	out_port=$(free_udp_port)
	[ "$in_port" != "$out_port" ] || out_port=$((out_port + 2))
	node_conf studio "
[input.desk]
type = rtp
listen = 127.0.0.1:$in_port
channels = 2
names = deskL,deskR
$1

[input.osc]
type = tone
channels = 2
names = oscL,oscR
frequency = 750,1250
level_dbfs = -18

[output.rec]
type = wav
path = $it_dir/studio.wav
channels = 2
names = recL,recR

[output.gst]
type = rtp
destination = 127.0.0.1:$out_port
channels = 2
names = gstL,gstR
$2
"
	t0=$(date +%s%N)
	node_start studio
	ctl studio route add studio/deskL studio/recL
	ctl studio route add studio/deskR studio/recR --gain -6
	ctl studio route add studio/oscL studio/gstL
	ctl studio route add studio/oscR studio/gstR
}

# ms_since T0: milliseconds since a date +%s%N stamp.
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# json_num KEY: the first number KEY has in the JSON on stdin.
json_num() { tr -d ' \n' | grep -o "\"$1\":-\?[0-9.]*" | head -n 1 | cut -d: -f2; }

# rss_kb PID
rss_kb() {
	sed -n 's/^VmRSS:\s*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}

# Sound I/O tests (jack.sh, alsa.sh). it_step MESSAGE: where the test is,
# with the time since it began, so that a hang says where it stood.
it_t_start=$(date +%s%N)
it_step() { echo "+$(ms_since "$it_t_start") ms: $*"; }

# jackd_start SERVER [DUMMY OPTIONS...]: a JACK server of the tests' own
# with its dummy driver, 48 kHz, 256-frame periods (5.3 ms: at 64 the dummy
# driver missed cycles on this VM's hiccups of 1-2 ms, below what
# aoip-stallmon counts as a stop of the machine), real-time; waits until it
# answers. Sets jackd_pid. A server name used again takes its old place in
# JACK's table in /dev/shm (integration tests run one at a time). The
# dummy driver's cycles keep to the system clock.
jackd_start() {
	local server=$1
	shift
	JACK_DEFAULT_SERVER=$server JACK_NO_AUDIO_RESERVATION=1 \
		jackd -n "$server" -R -P 70 -d dummy -r 48000 -p 256 "$@" >>"$it_dir/jackd-$server.log" 2>&1 &
	jackd_pid=$!
	it_pids+=("$jackd_pid")
	JACK_DEFAULT_SERVER=$server wait_until 10 timeout 3 jack_lsp ||
		fail "jackd $server did not start"
}

# jack_has SERVER PORT...: every PORT is on SERVER's graph.
jack_has() {
	local server=$1 ports p
	shift
	ports=$(JACK_DEFAULT_SERVER=$server timeout 3 jack_lsp) || return 1
	for p in "$@"; do
		grep -qx "$p" <<<"$ports" || return 1
	done
}
