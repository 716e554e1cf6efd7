#!/usr/bin/env bash
# End-to-end latency, measured in the audio itself, trusting no clock: one
# pulse a second goes from a's click straight to a's recorder (channel 1,
# through a's mixer only) and round through b's bus back to the recorder
# (channel 2). Both channels are written by the same node on the same period
# clock, so the lag of channel 2 behind channel 1, in samples, is exactly
# the network round trip: two hops, each through a jitter buffer, plus b's
# bus.
#
#   a/click -> a/direct                                  (channel 1)
#   a/click -> b/bus -> a/looped                         (channel 2)
#
# The lag must lie within [2 L + 1 ms, 2 L + 5 ms], L being latency_us of
# both nodes, for every pulse recorded. Why that bound, with 1 ms periods:
#  - 2 L + 1 ms is the floor: each hop holds a frame at least its latency
#    target after the packet came, and a bus adds one period (engine.h).
#  - on top of it, each hop waits for the receiver's next period boundary;
#    the two nodes' period clocks are out of phase by some fraction p of a
#    period, so one hop waits p and the other 1 - p, plus the time a period
#    takes to compute before its packet leaves and crosses loopback:
#    together one period, or two when the boundaries nearly coincide.
#    Measured at L = 10, 3 and 2 ms: 2 L + 2 ms, now and then 2 L + 3 ms;
#    with sanitizers, whose periods take longer to compute, 2 L + 3 ms and
#    now and then 2 L + 4 ms; the same with both cores kept busy.
#  - the rest is room for a media thread that wakes late while a jitter
#    buffer picks its read position: the lag is then a period longer for
#    good. More than that is a buffer that does not hold its target.
# The lag is an audio property counted in samples, not a wall-clock timing.
#
# RTCP's latency_ms of each rx flow (sender's input to receiver's output,
# from sender reports against the receiver's playout) must agree: within
# 1.5 ms of half the round trip without the bus, and the two hops plus the
# bus within 1 ms of the recorded lag (both nodes read one wall clock here).
. "$(dirname "$0")/lib.sh"

lat_us=${NODE_LATENCY_US:-10000}
# rx_latency NODE CHANNEL: latency_ms of the rx flow of NODE that carries only
# CHANNEL ("null" until measured).
rx_latency() {
	ctl "$1" --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*' |
		grep -F "\"channels\":[\"$2\"]" | grep -o '"latency_ms":[^,}]*' | cut -d: -f2 | head -n 1
}
# rx_measured NODE CHANNEL: that flow has a latency from RTCP.
rx_measured() {
	local l
	l=$(rx_latency "$1" "$2")
	[ -n "$l" ] && [ "$l" != null ]
}

node_conf a "
[input.click]
type = tone
wave = pulse
channels = 1
names = click
level_dbfs = -6

[output.rec]
type = wav
path = $it_dir/a.wav
channels = 2
names = direct,looped
"
t0=$(date +%s%N)
node_start a
node_conf b "
[peer.a]
address = 127.0.0.1:$(node_port a)

[bus.bus]
channels = 1
names = bus
"
node_start b
wait_until 10 online a b || fail "a does not see b"
wait_until 10 online b a || fail "b does not see a"

ctl a route add a/click a/direct
ctl a route add a/click b/bus
ctl a route add b/bus a/looped
wait_until 10 rx_over b 200 || fail "no audio reaches b"
wait_until 10 rx_over a 200 || fail "no audio comes back to a"
# Clock recovery first measures the rate, then slews each buffer to its
# target: the lag is steady from then on.
wait_until 30 clocks_locked a || fail "a's clock recovery does not lock"
wait_until 30 clocks_locked b || fail "b's clock recovery does not lock"
# Half a second more: the route ramps are done.
t_settled=$(($(ms_since "$t0") + 500))
sleep 6.5
# RTCP reports once a second: after four seconds both hops have a figure.
wait_until 3 rx_measured a b/bus || fail "no RTCP latency on a's rx flow"
wait_until 3 rx_measured b a/click || fail "no RTCP latency on b's rx flow"
hop_ba=$(rx_latency a b/bus)
hop_ab=$(rx_latency b a/click)
ctl a stats
ctl b stats
# Late packets on either hop: the machine stalled (a VM's host, say) and a
# buffer resynced; the pulses around it may show it.
late=0
for n in a b; do
	for l in $(ctl "$n" --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*' |
		grep -o '"late":[0-9]*' | cut -d: -f2); do
		late=$((late + l))
	done
done
node_stop a

# Every pulse from the settled point to the end, each in its own window from
# 100 ms before it: the lag holds from the first to the last.
info=$("$WAVCHECK" "$it_dir/a.wav" --skip-ms "$t_settled" --print --json)
first=$(echo "$info" | json_num first_sound_s)
[ -n "$first" ] || fail "no pulse recorded on channel 1"
p=$(awk -v s="$first" 'BEGIN { printf "%d", s * 1000 }')
end=$(echo "$info" | json_num duration_s | awk '{ printf "%d", $1 * 1000 }')
lo=$((2 * lat_us / 1000 + 1))
hi=$((2 * lat_us / 1000 + 5))
lags=()
while [ $((p + 500)) -le "$end" ]; do
	out=$("$WAVCHECK" "$it_dir/a.wav" --skip-ms $((p - 100)) --until-ms $((p + 400)) \
		--delay 1,2 --json) || fail "pulse at $p ms: no delay measured"
	lags+=("$(echo "$out" | json_num lag_ms)")
	p=$((p + 1000))
done
[ "${#lags[@]}" -ge 3 ] || fail "only ${#lags[@]} pulses recorded after the routes settled"
echo "latency $((lat_us / 1000)) ms: round trip ${lags[*]} ms over ${#lags[@]} pulses;" \
	"RTCP a->b $hop_ab ms, b->a $hop_ba ms; late packets: $late"
# The lag of the middle pulse (by lag) is the latency; it must lie in the bound.
mode=$(printf '%s\n' "${lags[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
# Clock recovery holds each buffer's level to a fraction of a frame, not to
# the frame: a pulse within two samples (0.05 ms) of the mark is on it. After
# a stall (late packets) a buffer's level is slewed back to its target over
# seconds: within half a period of the mark is on it then.
tol=0.05
[ "$late" -eq 0 ] || tol=0.5
same=$(printf '%s\n' "${lags[@]}" | awk -v m="$mode" -v tol="$tol" '{ d = $1 - m; if (d < 0) d = -d; if (d <= tol) n++ } END { print n + 0 }')
awk -v m="$mode" -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(m >= lo && m <= hi) }' ||
	fail "round trip $mode ms is outside [$lo, $hi] ms"
if [ "$same" -ne "${#lags[@]}" ]; then
	# Only a stall the counters saw excuses a pulse off the mark, and only a few.
	[ "$late" -gt 0 ] || fail "the lag moved (${lags[*]} ms) with no late packet to explain it"
	[ $((4 * same)) -ge $((3 * ${#lags[@]})) ] ||
		fail "the lag moved too often (${lags[*]} ms), $late late packets"
	echo "note: $((${#lags[@]} - same)) pulse(s) off by a stall ($late late packets)"
fi
lags=("$mode")

awk -v lag="${lags[0]}" -v ab="$hop_ab" -v ba="$hop_ba" 'BEGIN {
	hop = (lag - 1) / 2
	d_ab = ab - hop; d_ba = ba - hop; d_sum = ab + ba + 1 - lag
	printf "one hop from the recording %.2f ms; RTCP off by %+.2f (a->b), %+.2f (b->a);" \
		" both hops and the bus off by %+.2f ms\n", hop, d_ab, d_ba, d_sum
	bad = d_ab > 1.5 || d_ab < -1.5 || d_ba > 1.5 || d_ba < -1.5 || d_sum > 1 || d_sum < -1
	exit bad
}' || fail "RTCP latency disagrees with the recording"
