#!/usr/bin/env bash
# aoip against a real RTP peer (GStreamer): an rtpL24pay sender plays into an
# aoipd `type = rtp` input, and an rtpL24depay receiver records an aoipd
# `type = rtp` output. 48 kHz, 1 ms packets, stereo, as ../shared/interop.md.
. "$(dirname "$0")/lib.sh"

command -v gst-launch-1.0 >/dev/null || skip "gst-launch-1.0 is not installed"

studio_up "encoding = L24
payload_type = 96" "encoding = L24
payload_type = 96
packet_us = 1000"

# The receiver first, so it hears from the start; SIGINT makes it finish the WAV.
env --default-signal=INT gst-launch-1.0 -q -e udpsrc port="$out_port" address=127.0.0.1 \
	caps="application/x-rtp,media=audio,clock-rate=48000,encoding-name=L24,channels=2,payload=96" \
	! rtpjitterbuffer latency=20 ! rtpL24depay ! audioconvert \
	! audio/x-raw,format=S24LE ! wavenc ! filesink location="$it_dir/gst.wav" \
	>"$it_dir/gst-rx.log" 2>&1 &
rx=$!
it_pids+=("$rx")

t_send=$((($(date +%s%N) - t0) / 1000000))
gst-launch-1.0 -q audiotestsrc wave=sine freq=1000 volume=0.1 is-live=true \
	samplesperbuffer=48 num-buffers=3000 \
	! audio/x-raw,format=S24BE,rate=48000,channels=2,layout=interleaved \
	! rtpL24pay pt=96 min-ptime=1000000 max-ptime=1000000 \
	! udpsink host=127.0.0.1 port="$in_port" >"$it_dir/gst-tx.log" 2>&1 ||
	fail "the GStreamer sender failed"
t_sent=$((($(date +%s%N) - t0) / 1000000))

ctl studio stats
ctl studio --json stats | tr -d ' \n' | grep -q '"peer":"rtp:' || fail "the rtp input is not in stats"
kill -INT "$rx"
wait "$rx" || true
node_stop studio

# GStreamer's sine at volume 0.1 is -20 dBFS; deskR comes 6 dB lower.
stallmon_result
"$WAVCHECK" "$it_dir/studio.wav" --skip-ms $((t_send + 700)) --until-ms $((t_sent - 300)) \
	--channel 1 --freq 1000 --level -20 --tol-db 0.1 $gaps_allowed \
	--channel 2 --freq 1000 --level -26 --tol-db 0.1 $gaps_allowed
"$WAVCHECK" "$it_dir/gst.wav" --skip-ms 700 \
	--channel 1 --freq 750 --level -18 --tol-db 0.1 $gaps_allowed \
	--channel 2 --freq 1250 --level -18 --tol-db 0.1 $gaps_allowed
