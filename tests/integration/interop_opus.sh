#!/usr/bin/env bash
# Opus against a real RTP peer (GStreamer, issue 8): opusenc + rtpopuspay
# play stereo into an aoipd `type = rtp` input with `encoding = opus`, and
# rtpopusdepay + opusdec record an aoipd `type = rtp` output with
# `encoding = opus`, stereo, as RFC 7587 has it. Each side is checked for
# its tones: frequency, level (Opus keeps a band's energy, not the sine:
# 0.5 dB) and no gap (judged at -25 dB, above what the coding leaves on a
# tone at these rates, -33 to -39 dB here; a gap or a concealed frame reads
# near 0 dB).
# With STUDIO_RATE=44100 (ctest's interop_opus_44k1) the studio runs at
# 44.1 kHz in 10 ms periods: what it takes in is converted from Opus' 48 kHz
# and what it sends out to it, with the tones where they were.
. "$(dirname "$0")/lib.sh"

rate=${STUDIO_RATE:-48000}
studio_extra="sample_rate = $rate"
[ "$rate" = 48000 ] || studio_extra="$studio_extra
period_us = 10000"

command -v gst-launch-1.0 >/dev/null || skip "gst-launch-1.0 is not installed"
for e in opusenc opusdec rtpopuspay rtpopusdepay; do
	gst-inspect-1.0 "$e" >/dev/null 2>&1 || skip "GStreamer has no $e"
done

NODE_EXTRA=$studio_extra studio_up "encoding = opus
payload_type = 97" "encoding = opus
opus_bitrate = 96
opus_frame_ms = 10
payload_type = 96"

# The receiver first, so it hears from the start; SIGINT makes it finish the WAV.
env --default-signal=INT gst-launch-1.0 -q -e udpsrc port="$out_port" address=127.0.0.1 \
	caps="application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=96" \
	! rtpjitterbuffer latency=40 ! rtpopusdepay ! opusdec ! audioconvert \
	! audio/x-raw,format=S24LE,channels=2 ! wavenc ! filesink location="$it_dir/gst.wav" \
	>"$it_dir/gst-rx.log" 2>&1 &
rx=$!
it_pids+=("$rx")

t_send=$((($(date +%s%N) - t0) / 1000000))
gst-launch-1.0 -q audiotestsrc wave=sine freq=1000 volume=0.1 is-live=true \
	samplesperbuffer=480 num-buffers=600 \
	! audio/x-raw,rate=48000,channels=2 ! opusenc frame-size=10 bitrate=128000 \
	! rtpopuspay pt=97 ! udpsink host=127.0.0.1 port="$in_port" >"$it_dir/gst-tx.log" 2>&1 ||
	fail "the GStreamer sender failed"
t_sent=$((($(date +%s%N) - t0) / 1000000))

ctl studio stats
grep -q "^sample_rate = $rate\$" "$it_dir/studio.conf" || fail "the studio is not at $rate Hz"
json=$(ctl studio --json stats | tr -d ' \n')
echo "$json" | grep -q '"peer":"rtp:127.0.0.1:'"$in_port"'","channels":\[[^]]*\],"encoding":"opus"' ||
	fail "the Opus rtp input is not in stats"
corrupt=$(echo "$json" | grep -o '"corrupt":[0-9]*' | head -n 1 | cut -d: -f2)
[ "${corrupt:-1}" -eq 0 ] || fail "$corrupt of GStreamer's Opus packets did not decode"
kill -INT "$rx"
wait "$rx" || true
node_stop studio

# GStreamer's sine at volume 0.1 is -20 dBFS; deskR comes 6 dB lower.
stallmon_result
"$WAVCHECK" "$it_dir/studio.wav" --skip-ms $((t_send + 700)) --until-ms $((t_sent - 300)) \
	--channel 1 --freq 1000 --level -20 --tol-db 0.5 $gaps_allowed --gap-threshold-db -25 \
	--channel 2 --freq 1000 --level -26 --tol-db 0.5 $gaps_allowed --gap-threshold-db -25 ||
	fail "what GStreamer sent is not what studio recorded"
"$WAVCHECK" "$it_dir/gst.wav" --skip-ms 700 \
	--channel 1 --freq 750 --level -18 --tol-db 0.5 $gaps_allowed --gap-threshold-db -25 \
	--channel 2 --freq 1250 --level -18 --tol-db 0.5 $gaps_allowed --gap-threshold-db -25 ||
	fail "what studio sent is not what GStreamer recorded"
