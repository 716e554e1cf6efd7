#!/usr/bin/env bash
# bench_nodes.sh: what carrying N channels between two nodes costs.
#
#   tests/bench/bench_nodes.sh BUILD_DIR [N...]     (default N: 8 64 256)
#   BENCH_SECURITY=open tests/bench/bench_nodes.sh ...  (plain RTP; default sealed)
#   BENCH_ENCODING=opus [BENCH_OPUS_FRAME_MS=2.5|5|10|20] [BENCH_OPUS_KBPS=K] \
#       tests/bench/bench_nodes.sh ...  (Opus flows, K kb/s a channel, default 64;
#                                        the default encoding is L24)
#
# For each N, two aoipd on loopback: src with an N-channel tone input (channel
# i at 100 + 37 i Hz, -20 dBFS) and dst with an N-channel null output, channel
# i routed to output i with one aoipctl call each. After 5 s to settle, 10 s
# are measured: the CPU time of each aoipd (utime + stime from
# /proc/PID/stat), the RTP flows and their packets per second, the
# end-to-end latency RTCP reports (median over dst's rx flows) and what went
# wrong on the way (lost, late, concealed frames, resyncs, late wake-ups of
# the media thread). Everything is read from the outside, through aoipctl
# and /proc, as an operator would.
#
# Figures only: nothing here fails on time, and it is not part of ctest.
# CPU time is the processes' own and barely moves with the machine's load;
# latency and the late/concealed counts do, so the load average is printed
# beside them.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -x "$1/daemon/aoipd" ] || [ ! -x "$1/cli/aoipctl" ]; then
	echo "usage: $0 BUILD_DIR [N...]  (BUILD_DIR holds daemon/aoipd and cli/aoipctl)" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(8 64 256)
settle_s=5
measure_s=10
hz=$(getconf CLK_TCK)
latency_us="?"
bench_name=bench_nodes
. "$(dirname "$0")/bench_lib.sh"

ms_now() { echo $(($(date +%s%N) / 1000000)); }
# cpu_ticks PID: utime + stime, in clock ticks (fields 14 and 15 of /proc/PID/stat,
# counted after the ')' that ends the command name).
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
rss_kb() { sed -n 's/^VmRSS:\s*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
# rx_flows NODE: one line per rx flow: packets lost late concealed resyncs latency_ms channels.
rx_flows() {
	ctl "$1" --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*' | awk '
		function num(k,   m) {
			if (match($0, "\"" k "\":[-0-9.a-z]*")) {
				m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:/, "", m); return m
			}
			return "?"
		}
		{
			ch = 0
			if (match($0, /"channels":\[[^]]*\]/)) {
				list = substr($0, RSTART, RLENGTH)
				ch = gsub(/","/, "&", list) + 1
			}
			print num("packets"), num("lost"), num("late"), num("concealed"), num("resyncs"),
				num("latency_ms"), ch
		}'
}
late_wakeups() { ctl "$1" --json stats | tr -d ' \n' | grep -o '"late_wakeups":[0-9]*' | cut -d: -f2; }
tx_count() { ctl "$1" --json stats | tr -d ' \n' | grep -o '"direction":"tx"' | wc -l; }

run() {
	local n=$1 i freqs="" t_routes
	for ((i = 0; i < n; i++)); do
		freqs+="${freqs:+,}$((100 + 37 * i))"
	done
	start src "
[input.tones]
type = tone
channels = $n
frequency = $freqs
level_dbfs = -20
"
	start dst "
[peer.src]
address = 127.0.0.1:$(peer_port src)

[output.sink]
type = null
channels = $n
"
	for ((i = 0; i < 100; i++)); do
		online dst src && break
		sleep 0.1
	done
	online dst src || die "dst does not see src"

	t_routes=$(ms_now)
	for ((i = 1; i <= n; i++)); do
		ctl dst route add "src/$i" "dst/$i" >/dev/null || die "route $i of $n refused"
	done
	t_routes=$(($(ms_now) - t_routes))
	[ "$(ctl dst --json route list dst | grep -c '"source"')" -eq "$n" ] ||
		die "dst lists $(ctl dst --json route list dst | grep -c '"source"') routes, not $n"

	nap "$settle_s"
	local s0 d0 s1 d1 w0 w1 ws0 ws1 load0 load1 t0 t1
	load0=$(cut -d' ' -f1-3 /proc/loadavg)
	w0=$(late_wakeups dst)
	ws0=$(late_wakeups src)
	rx_flows dst >"$dir/before.$n"
	t0=$(ms_now)
	s0=$(cpu_ticks "${pid[src]}")
	d0=$(cpu_ticks "${pid[dst]}")
	nap "$measure_s"
	s1=$(cpu_ticks "${pid[src]}")
	d1=$(cpu_ticks "${pid[dst]}")
	t1=$(ms_now)
	rx_flows dst >"$dir/after.$n"
	w1=$(late_wakeups dst)
	ws1=$(late_wakeups src)
	load1=$(cut -d' ' -f1-3 /proc/loadavg)
	local rss_s rss_d tx
	rss_s=$(rss_kb "${pid[src]}")
	rss_d=$(rss_kb "${pid[dst]}")
	tx=$(tx_count src)
	latency_us=$(ctl dst --json status | tr -d ' \n' | grep -o '"latency_us":[0-9]*' | cut -d: -f2)
	stop dst
	stop src
	pids=()

	# The flows' counters before and after the measurement: the same flows
	# unless one was re-packed meanwhile, so sums, not flow by flow.
	awk -v n="$n" -v hz="$hz" -v ms="$((t1 - t0))" -v ds=$((s1 - s0)) -v dd=$((d1 - d0)) \
		-v tx="$tx" -v troutes="$t_routes" -v rss_s="$rss_s" -v rss_d="$rss_d" \
		-v w="$((ws1 - ws0))/$((w1 - w0))" -v load0="$load0" -v load1="$load1" '
		FNR == NR { for (c = 1; c <= 5; c++) b[c] += $c; next }
		{ flows++; for (c = 1; c <= 5; c++) a[c] += $c; chans += $7
		  if ($6 != "null" && $6 != "?") lat[++nl] = $6 }
		END {
			sec = ms / 1000
			for (i = 1; i <= nl; i++)
				for (j = i + 1; j <= nl; j++)
					if (lat[j] < lat[i]) { t = lat[i]; lat[i] = lat[j]; lat[j] = t }
			med = nl == 0 ? "-" : sprintf("%.2f", nl % 2 ? lat[(nl + 1) / 2] : (lat[nl / 2] + lat[nl / 2 + 1]) / 2)
			cs = ds / hz / sec; cd = dd / hz / sec
			printf "%4d %5d %3d %7.0f %6.1f %6.1f %7.0f %7.0f %7s %s %s %s %s %9s %7d %6d %6d  %s -> %s\n",
				n, flows, tx, (a[1] - b[1]) / sec, cs * 100, cd * 100, cs * 1e6 / n, cd * 1e6 / n, med,
				pair(a[2], b[2], 11), pair(a[3], b[3], 11), pair(a[4], b[4], 13), pair(a[5], b[5], 7),
				w, troutes, rss_s, rss_d, load0, load1
			if (chans != n) printf "     (the rx flows carry %d channels, not %d)\n", chans, n
		}
		function pair(after, before, wd) { return sprintf("%" wd "s", (after - before) "/" after) }
	' "$dir/before.$n" "$dir/after.$n"
}

echo "aoipd: $("$aoipd" --version)"
echo "$(nproc) cores, CLK_TCK $hz; settle ${settle_s} s, measure ${measure_s} s; security ${BENCH_SECURITY:-sealed};" \
	"encoding ${BENCH_ENCODING:-L24}${BENCH_OPUS_FRAME_MS:+, frames of $BENCH_OPUS_FRAME_MS ms}" \
	"${BENCH_OPUS_KBPS:+at $BENCH_OPUS_KBPS kb/s a channel}"
printf "%4s %5s %3s %7s %6s %6s %7s %7s %7s %11s %11s %13s %7s %9s %7s %6s %6s  %s\n" \
	N rx tx pkt/s src% dst% "src us" "dst us" "lat ms" lost late concealed resync wake "route" "src" "dst" \
	"load average"
printf "%4s %5s %3s %7s %6s %6s %7s %7s %7s %11s %11s %13s %7s %9s %7s %6s %6s  %s\n" \
	"" flows flows "" "" "" "/ch/s" "/ch/s" median "" "" frames "" "" "add ms" kB kB "before -> after"
for n in "${sizes[@]}"; do
	run "$n"
done
echo "src%, dst%: CPU time of each aoipd over the measurement, in % of one core;"
echo "us /ch/s: the same in CPU microseconds per channel per second of audio;"
echo "pkt/s: packets dst's rx flows received per second; lat ms: RTCP latency, median of the flows;"
echo "lost, late, concealed, resync: dst's rx flows, during the measurement / since they started;"
echo "wake: periods src's / dst's media thread began more than a period late, during the measurement;"
echo "latency_us: $latency_us (the default); rx flows: dst's, tx flows: src's."
echo "route add ms: the N 'aoipctl route add' calls, one process each, one after the other."
