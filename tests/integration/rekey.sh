#!/usr/bin/env bash
# Media keys are replaced while the audio plays: stage re-keys its flows
# every 2 s (rekey_s), announcing each new key a second before it seals
# with it. truck takes every key in time: its key id moves on, not one
# packet fails to open (a packet lost to a key change would be counted
# there), and the recording has no click or gap at -60 dB (the clock loop's
# slow bends read -65 to -70 dB), but where the machine itself stopped
# (lib.sh, stallmon_start).
. "$(dirname "$0")/lib.sh"

export NODE_LATENCY_US=5000
seconds=9

STAGE_EXTRA="rekey_s = 2" stage_tones 997 3000
truck_records
wait_until 20 clocks_locked truck || fail "truck's clock recovery does not lock"
t_locked=$(ms_since "$t0")

# rx FIELD: FIELD of truck's rx flow (the flow carries both channels or the
# first of two; each has its own keys, and the first is enough to follow).
rx() { ctl truck --json stats | tr -d ' \n' | grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; }
key0=$(rx key_id)
for ((s = 1; s <= seconds; s++)); do
	sleep 1
	echo "+$s s: key $(rx key_id), auth_failures $(rx auth_failures), replays $(rx replays)"
done
key1=$(rx key_id)
auth=$(ctl truck --json stats | tr -d ' \n' | grep -o '"auth_failures":[0-9]*' | cut -d: -f2 |
	awk '{ s += $1 } END { print s + 0 }')
stallmon_result
ctl truck stats
node_stop truck

keys=$(((key1 - key0 + 256) % 256))
echo "in $seconds s: $keys new keys, $auth packets failed to open"
[ "$keys" -ge 3 ] || fail "only $keys re-keys in $seconds s at rekey_s = 2"
[ "$auth" -eq 0 ] || fail "$auth packets failed to open across re-keys"
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms "$t_locked" \
	--channel 1 --freq 997 --level -6 --tol-db 0.1 $gaps_allowed \
	--gap-threshold-db -60 \
	--channel 2 --freq 3000 --level -6 --tol-db 0.1 $gaps_allowed \
	--gap-threshold-db -60 ||
	fail "the recording glitched across a re-key"
