#!/usr/bin/env bash
# Garbage at every door of a node that is carrying audio: random datagrams
# and lying RTP at its RTP port (some with the SSRC of the live flow),
# garbage and over-long lines on its control socket, nonsense on its peer
# port. It counts and answers, keeps running, keeps its memory, and the
# audio on the live flow does not miss a sample.
. "$(dirname "$0")/lib.sh"

: "${NOISE:?}"
json_field() { tr -d ' \n' | grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; }

node_conf stage "
[input.mics]
type = tone
channels = 2
names = mic1,mic2
frequency = 440,660
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
names = in1,in2
"
t0=$(date +%s%N)
node_start truck
wait_until 10 online truck stage || fail "truck does not see stage"
ctl truck route add stage/mic1 truck/in1
ctl truck route add stage/mic2 truck/in2
wait_until 10 rx_over truck 2000 || fail "no audio reaches truck"
t_noise=$((($(date +%s%N) - t0) / 1000000))
pid=$(node_pid truck)
rss_before=$(rss_kb "$pid")

status=$(ctl truck --json status)
rtp_port=$(echo "$status" | json_field rtp_port)
peer_port=$(echo "$status" | json_field port)
ssrc=$(ctl truck --json stats | tr -d ' \n' | grep -o '"ssrc":"[0-9a-f]*"' | head -n 1 | cut -d'"' -f4)
[ -n "$rtp_port" ] && [ -n "$peer_port" ] && [ -n "$ssrc" ] || fail "no ports or ssrc in status/stats"

"$NOISE" udp "127.0.0.1:$rtp_port" --count 20000 --seed 1
"$NOISE" rtp "127.0.0.1:$rtp_port" --count 20000 --seed 2
# The live flow's SSRC on packets that must never reach an output.
"$NOISE" rtp "127.0.0.1:$rtp_port" --count 20000 --seed 3 --ssrc "0x$ssrc" --channels 1 \
	--only version,csrc,extension,padding,truncated,odd-length,wrong-pt,huge
"$NOISE" lines "$it_dir/truck.sock" --seed 4 || fail "the control socket did not stay usable"
"$NOISE" tcp "127.0.0.1:$peer_port" --seed 5 || fail "the peer port did not stay usable"
"$NOISE" lines "$it_dir/truck.sock" --seed 6 || fail "the control socket did not stay usable"

sleep 1
t_end=$((($(date +%s%N) - t0) / 1000000))
kill -0 "$pid" || fail "truck died"
ctl truck status >/dev/null || fail "truck does not answer"
online truck stage || fail "truck lost stage"
stats=$(ctl truck --json stats)
dropped=$(echo "$stats" | tr -d ' \n' | grep -o '"dropped":{[^}]*}')
echo "$dropped"
[ "$(echo "$dropped" | json_field malformed)" -gt 0 ] || fail "no malformed datagram counted"
[ "$(echo "$dropped" | json_field unknown_ssrc)" -gt 0 ] || fail "no unknown SSRC counted"
# The lies with the live flow's SSRC do not open: the flow is sealed.
auth=$(echo "$stats" | json_field auth_failures)
echo "the live flow: $auth packets failed to open"
[ "$auth" -gt 0 ] || fail "packets with the live SSRC were not counted as failing to open"
rss_after=$(rss_kb "$pid")
echo "truck RSS: $rss_before kB before, $rss_after kB after the noise"
# Under AddressSanitizer freed memory sits in quarantine and RSS says nothing;
# LeakSanitizer checks for leaks there instead, at exit.
if [ -z "${AOIP_SANITIZED:-}" ]; then
	[ $((rss_after - rss_before)) -lt 4096 ] || fail "memory grew by $((rss_after - rss_before)) kB"
fi
node_stop truck

stallmon_result
"$WAVCHECK" "$it_dir/truck.wav" --skip-ms $((t_noise - 200)) --until-ms $((t_end - 100)) \
	--channel 1 --freq 440 --level -20 $gaps_allowed \
	--channel 2 --freq 660 --level -20 $gaps_allowed
