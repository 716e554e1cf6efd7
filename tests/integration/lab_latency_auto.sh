#!/usr/bin/env bash
# latency = auto across a network with real delay and jitter: stage's host
# holds every UDP packet it sends for 1 to 3 ms (aoip-impair on an NFQUEUE
# rule, seeded, reordering allowed), truck starts with a target far too low
# (1 ms) and must find one that covers the network: after it settled, 20 s
# with no late packet and no concealed frame, at a target that is
# above the jitter but not wasteful, and a recording with no gap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lab_lib.sh"

settle=15
# 20 s at a time, up to three times: this VM's host stops it a few times a
# minute (below), and a shorter window is likelier to be clean.
seconds=20

lab_up 2
# The emulated network keeps its own time: SCHED_FIFO above the daemons'
# media threads (60), so that what the CPUs are busy with (two sanitized
# daemons, say) does not delay its releases, as it would not a real link's.
lab impair "$lab_name" 1 --udp-only --delay-ms 1 --jitter-ms 2 --seed 42 --rt-priority 70 >/dev/null ||
	fail "lab impair failed"
lab_node_conf 1 stage "
[input.tones]
type = tone
channels = 1
names = low
frequency = 997
level_dbfs = -6
"
NODE_LATENCY_US=1000 lab_truck_records "latency = auto"
t_routed=$(date +%s%N)

# rx flow of truck: late concealed resyncs target_ms buffer_ms
sample() {
	ctl truck --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*' | head -n 1 |
		awk -v RS=, -F: '/"late"/ {l = $2} /"concealed"/ {c = $2} /"resyncs"/ {r = $2}
			/"target_ms"/ {t = $2} /"buffer_ms"/ {b = $2}
			END { print l + 0, c + 0, r + 0, t, b }'
}
sleep "$settle"
# 20 s of no late packet, judged against the machine: this VM's host
# stops its CPUs for 2-15 ms now and then (tests/support/stallmon.c), which
# delays the sender's and the impairment's packets beyond any network the
# test sets up. A window in which that happened and packets came late is
# measured again (the target it raised is then held); late packets with no
# stall to explain them fail at once.
measured=no
for attempt in 1 2 3; do
	t_from=$(date +%s%N)
	read -r late0 conc0 res0 target0 _ < <(sample)
	echo "attempt $attempt: target $target0 ms; $late0 late, $conc0 concealed, $res0 resyncs so far"
	"$STALLMON" "$seconds" 3 >"$it_dir/window_stalls.txt" &
	mon=$!
	it_pids+=("$mon")
	for ((s = 0; s < seconds; s += 10)); do
		sleep 10
		echo "  +$((s + 10)) s: late concealed resyncs target_ms buffer_ms: $(sample)"
	done
	wait "$mon" || true
	read -r late1 conc1 res1 target1 _ < <(sample)
	stall=$(cat "$it_dir/window_stalls.txt")
	echo "  in $seconds s: $((late1 - late0)) late, $((conc1 - conc0)) concealed frames," \
		"$((res1 - res0)) resyncs; the machine: $stall"
	if [ "$((late1 - late0 + conc1 - conc0 + res1 - res0))" -eq 0 ]; then
		measured=yes
		break
	fi
	case $stall in
	*" stalls=0 "*) fail "packets came late after the target settled, with no stall of the machine to explain them" ;;
	esac
done
t_end=$(date +%s%N)
ctl truck stats
lab impair "$lab_name" 1 stats | tr '\n' ' '
echo
lab_node_stop truck
lab_node_stop stage
[ "$measured" = yes ] ||
	skip "the host stopped this machine's CPUs (over 3 ms) in every measured window: late packets cannot be told from it"

echo "latency = auto settled at $target1 ms with 1-3 ms of network delay: in $seconds s no late" \
	"packet, no concealed frame, no resync"
# Above the 2 ms of jitter plus a packet, and not absurdly far above it.
# A stop of the machine delays packets like the network would, and the
# target rises for it at once and falls only after tens of seconds of calm,
# longer than a measured window. So the 20 ms ceiling is judged only when
# no stop of 10 ms or more was seen in the whole test (two in a row under
# the sanitizers raised it to 36 ms); otherwise the test says it did not.
stallmon_result
worst=$(echo "$stall" | sed -n 's/.*worst_ms=\([0-9.]*\).*/\1/p')
awk -v t="$target1" 'BEGIN { exit !(t >= 2.5) }' ||
	fail "target $target1 ms is below the 2 ms of jitter the network has"
if awk -v w="${worst:-0}" 'BEGIN { exit !(w < 10) }'; then
	awk -v t="$target1" 'BEGIN { exit !(t <= 20) }' ||
		fail "target $target1 ms is far above what 2 ms of jitter calls for"
else
	echo "note: the 20 ms ceiling not judged: the machine stopped for up to $worst ms"
fi

# Continuity against one fitted frequency: while the level slews up to a
# raised target the tone plays up to 1000 ppm low, which alone reads -35 dB
# in a 10 ms block; a dropout or a click reads -20 dB or worse.
stallmon_result
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$(at_ms truck "$t_from")" \
	--until-ms "$(at_ms truck "$t_end")" \
	--channel 1 --freq 997 --level -6 --tol-db 0.2 $gaps_allowed --gap-threshold-db -30 ||
	fail "the recording has gaps or is not the tone"
