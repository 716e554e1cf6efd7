#!/usr/bin/env bash
# bench_latency.sh: the lowest fixed latency that plays without a late
# packet between two nodes on loopback, per packet time.
#
#   tests/bench/bench_latency.sh BUILD_DIR [SECONDS]     (default 20 s per try)
#
# For each packet time (1 ms, 250 us, 125 us; the period is the packet
# time), two aoipd carry 8 channels of tones, the receiver at a fixed
# latency_us, for SECONDS after a 3 s settle. The latency steps down from
# 4 ms; the figure is the lowest step at which the receiver counted no late
# packet, no concealed frame and no resync during the measurement, which
# starts once clock recovery has locked. The sender's and receiver's clocks
# are skewed against each other (+-50 ppm), so it is at work the whole time.
#
# Figures only: it fails on nothing, and it is not part of ctest. Results
# move with the machine's load, printed beside them.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -x "$1/daemon/aoipd" ] || [ ! -x "$1/cli/aoipctl" ]; then
	echo "usage: $0 BUILD_DIR [SECONDS]  (BUILD_DIR holds daemon/aoipd and cli/aoipctl)" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
measure_s=${2:-20}
settle_s=1
steps=(4000 3000 2500 2000 1500 1250 1000 750 500 375 250)
bench_name=bench_latency
. "$(dirname "$0")/bench_lib.sh"

stop_all() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	pids=()
}
# counters NODE: late concealed resyncs, summed over its rx flows.
counters() {
	ctl "$1" --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*' | awk -v RS=, -F: '
		/"late"/ {l += $2} /"concealed"/ {c += $2} /"resyncs"/ {r += $2}
		END { print l + 0, c + 0, r + 0 }'
}

# locked NODE: every rx flow's clock recovery holds its level at the target.
locked() {
	local flows
	flows=$(ctl "$1" --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*') || return 1
	[ -n "$flows" ] && ! echo "$flows" | grep -v -q '"clock":"locked"'
}

# try PACKET_US LATENCY_US: prints "late concealed resyncs" of the measurement.
try() {
	local packet=$1 latency=$2 i
	start src "
clock_skew_ppm = 50
period_us = $packet
packet_us = $packet

[input.tones]
type = tone
channels = 8
frequency = 301,402,503,604,705,806,907,1008
level_dbfs = -20
"
	start dst "
clock_skew_ppm = -50
period_us = $packet
latency_us = $latency

[peer.src]
address = 127.0.0.1:$(peer_port src)

[output.sink]
type = null
channels = 8
"
	for ((i = 0; i < 100; i++)); do
		online dst src 2>/dev/null && break
		sleep 0.1
	done
	for ((i = 1; i <= 8; i++)); do
		ctl dst route add "src/$i" "dst/$i" >/dev/null || die "route refused"
	done
	# Clock recovery locks (a few seconds), then the measurement starts.
	for ((i = 0; i < 300; i++)); do
		locked dst && break
		sleep 0.1
	done
	sleep "$settle_s"
	local before after
	before=$(counters dst)
	sleep "$measure_s"
	after=$(counters dst)
	stop_all
	echo "$before $after" | awk '{ print $4 - $1, $5 - $2, $6 - $3 }'
}

echo "aoipd: $("$aoipd" --version); $(nproc) cores; ${measure_s} s per try"
printf "%9s %11s %6s %10s %7s   %s\n" packet_us latency_us late concealed resyncs "load average"
for packet in ${AOIP_BENCH_PACKETS:-1000 250 125}; do
	best=none
	for latency in "${steps[@]}"; do
		# A latency under a packet and a period cannot hold.
		[ "$latency" -ge $((2 * packet)) ] || continue
		read -r late concealed resyncs < <(try "$packet" "$latency")
		printf "%9d %11d %6d %10d %7d   %s\n" "$packet" "$latency" "$late" "$concealed" \
			"$resyncs" "$(cut -d' ' -f1-3 /proc/loadavg)"
		if [ "$late" -eq 0 ] && [ "$concealed" -eq 0 ] && [ "$resyncs" -eq 0 ]; then
			best=$latency
		else
			break
		fi
	done
	echo "packet_us $packet: lowest glitch-free latency_us: $best"
done
