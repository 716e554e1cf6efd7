#!/usr/bin/env bash
# Routes added one by one, and removed again: the source node re-packs the
# channels into as few flows as fit the MTU (9 channels of L24 at 1 ms),
# and every re-pack switches the receiver from old flows to new ones on the
# sender's timeline, so a route that was already playing never glitches.
. "$(dirname "$0")/lib.sh"

freqs=$(seq -s, 300 50 850) # 12 tones, 300..850 Hz
node_conf stage "
[input.mics]
type = tone
channels = 12
frequency = $freqs
level_dbfs = -20
"
node_start stage
node_conf truck "
[peer.stage]
address = 127.0.0.1:$(node_port stage)

[output.rec]
type = wav
path = $it_dir/truck.wav
channels = 2
names = first,last

[output.rest]
type = null
channels = 12
"
t0=$(date +%s%N)
node_start truck
wait_until 10 online truck stage || fail "truck does not see stage"

ctl truck route add stage/ch1 truck/first
t_first=$((($(date +%s%N) - t0) / 1000000))
sleep 0.3
for i in $(seq 2 11); do
	# truck's destinations: first, last, then the 12 of rest (numbers 3..14).
	ctl truck route add "stage/ch$i" "truck/$((i + 2))" >/dev/null
	sleep 0.15
done
ctl truck route add stage/ch12 truck/last
t_last=$((($(date +%s%N) - t0) / 1000000))
sleep 4 # replaced flows are gone after at most 3 s

flows=$(ctl truck --json stats | tr -d ' \n' | grep -o '"direction":"rx"' | wc -l)
echo "12 channels in $flows flows"
[ "$flows" -eq 2 ] || fail "12 channels of L24 at 1 ms should travel in 2 flows, not $flows"
ctl stage --json stats | tr -d ' \n' | grep -o '"direction":"tx"' | wc -l | grep -qx 2 ||
	fail "stage still sends more than 2 flows"

# Take routes away again: the flows shrink and re-pack, ch1 plays on.
for i in $(seq 2 11); do
	ctl truck route del "stage/ch$i" "truck/$((i + 2))" >/dev/null
	sleep 0.1
done
sleep 4
flows=$(ctl truck --json stats | tr -d ' \n' | grep -o '"direction":"rx"' | wc -l)
[ "$flows" -eq 1 ] || fail "2 channels should travel in 1 flow, not $flows"
ctl truck stats
t_end=$((($(date +%s%N) - t0) / 1000000))
node_stop truck

stallmon_result
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms $((t_first + 300)) --until-ms $((t_end - 100)) \
	--channel 1 --freq 300 --level -20 $gaps_allowed
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms $((t_last + 300)) --until-ms $((t_end - 100)) \
	--channel 2 --freq 850 --level -20 $gaps_allowed
