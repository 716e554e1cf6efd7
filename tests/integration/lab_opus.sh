#!/usr/bin/env bash
# Opus across a lossy WAN (issue 8): stage's host loses 10 % of the UDP
# packets it sends, at random, and holds the rest 5 ms plus up to 2 ms of
# jitter (aoip-impair, seeded). truck asks for stage's tone as Opus in
# 10 ms frames with FEC, at a latency that leaves room for FEC to arrive.
# What must hold: the clock locks at the target; the decoder rebuilds lost
# frames from FEC and conceals the rest (both counted, together as many as
# were lost, most of them rebuilt); the tone arrives at its frequency and
# level; and the recording has no dropout. A rebuilt or concealed frame is
# coarser than a decoded one and often quieter (measured with seed 11, of
# 2000 blocks of 10 ms: 37 more than 6 dB down, 8 more than 10, 1 more
# than 15, none 20; residual -8 dB at worst), so a dropout is a block 20 dB
# down or with a residual above -6 dB (at most 50 ms of them), and the
# frames lost (about 2800 ms of them) may leave at most 1000 ms of blocks
# 6 dB down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lab_lib.sh"

seconds=20
# Under the sanitizers the same checks over less time.
if [ -n "${AOIP_SANITIZED:-}" ]; then
	seconds=12
fi
lab_up 2
lab impair "$lab_name" 1 --udp-only --delay-ms 5 --jitter-ms 2 --loss 0.1 --seed 11 \
	--rt-priority 70 >/dev/null || fail "lab impair failed"
lab_node_conf 1 stage "
[input.tones]
type = tone
channels = 1
names = low
frequency = 997
level_dbfs = -6
"
NODE_LATENCY_US=20000 lab_truck_records "encoding = opus
opus_frame_ms = 10"
wait_until 20 clocks_locked truck || fail "truck's clock recovery does not lock"
t_from=$(date +%s%N)
sleep "$seconds"
t_end=$(date +%s%N)
ctl truck stats
json=$(ctl truck --json stats | tr -d ' \n' | grep -o '"direction":"rx"[^}]*' | head -n 1)
lab impair "$lab_name" 1 stats | tr '\n' ' '
echo
lab_node_stop truck
lab_node_stop stage

num() { echo "$json" | grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; }
lost=$(num lost) fec=$(num fec_recovered) plc=$(num plc_concealed) corrupt=$(num corrupt)
echo "lost $lost, rebuilt from FEC $fec, concealed $plc, corrupt $corrupt"
[ "${lost:-0}" -gt 0 ] || fail "no packet was lost: the impairment did not work"
[ "${fec:-0}" -gt 0 ] || fail "no lost frame was rebuilt from FEC"
[ "${corrupt:-1}" -eq 0 ] || fail "$corrupt packets did not decode"
[ $((fec + plc)) -eq "$lost" ] || fail "$lost lost, but $((fec + plc)) frames rebuilt or concealed"
[ $((2 * fec)) -gt "$lost" ] || fail "FEC rebuilt only $fec of $lost lost frames"

from=$(at_ms truck "$t_from") until=$(at_ms truck "$t_end")
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$from" --until-ms "$until" \
	--channel 1 --freq 997 --level -6 --tol-db 0.5 --gaps-allowed-ms 50 --gap-threshold-db -6 \
	--block-level-db 20 ||
	fail "the recording has dropouts or is not the tone"
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$from" --until-ms "$until" \
	--channel 1 --freq 997 --gaps-allowed-ms 1000 --gap-threshold-db -6 --block-level-db 6 ||
	fail "too much of the recording was rebuilt coarsely"
