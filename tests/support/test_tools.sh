#!/usr/bin/env bash
# test_tools.sh: the tools the integration tests trust must themselves be
# right. aoip-tonegen writes files whose content is known exactly; each
# flaw an integration test must catch (a gap, a click, a level 0.5 dB off,
# a wrong frequency, a delay) is put in one of them, and aoip-wavcheck must
# fail on it, pass on the clean file, and measure the delay to the sample.
# aoip-noise is checked for what it can do without a daemon: send to a port
# nobody serves, refuse names, give up on a socket that is not there.
#
# usage: test_tools.sh AOIP-WAVCHECK AOIP-NOISE AOIP-TONEGEN
set -euo pipefail

wavcheck=$1 noise=$2 tonegen=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/aoip-tools.XXXXXX")
trap 'rm -rf "$dir"' EXIT

. "$(dirname "$0")/tool_test_lib.sh"

gen() {
	"$tonegen" "$dir/$1" "${@:2}"
}

# Two tones a major third apart on channel 1, a tone on 2, silence on 3:
# the shape of a recording an integration test checks.
two_tones=(--channel 1 --tone 440,-20 --tone 554,-26 --channel 2 --tone 1000,-20)
gen clean.wav --channels 3 --duration-ms 3000 "${two_tones[@]}"
gen clean24.wav --channels 3 --duration-ms 3000 --format pcm24 "${two_tones[@]}"
gen gap.wav --channels 3 --duration-ms 3000 "${two_tones[@]}" --channel 2 --gap 1234.5,20
gen click.wav --channels 3 --duration-ms 3000 "${two_tones[@]}" --channel 2 --click 1500.3,0.05
gen click2.wav --channels 3 --duration-ms 3000 "${two_tones[@]}" --channel 1 --click 2000,0.05
gen loud.wav --channels 3 --duration-ms 3000 --channel 1 --tone 440,-19.5 --tone 554,-26
gen wrongfreq.wav --channels 3 --duration-ms 3000 --channel 2 --tone 1003,-20
gen drift.wav --channels 1 --duration-ms 20000 --format pcm24 --channel 1 --tone 1000.1,-20
gen bend.wav --channels 2 --duration-ms 6000 --channel 1 --tone 997,-6 --bend 300,2000 \
	--channel 2 --tone 3000,-6 --tone 440,-12 --bend 300,2000
gen bendclick.wav --channels 1 --duration-ms 6000 --channel 1 --tone 997,-6 --bend 300,2000 \
	--click 3000.3,0.01
gen bendfar.wav --channels 1 --duration-ms 3000 --channel 1 --tone 3000,-6 --bend 3000,2000
gen pulses.wav --channels 2 --duration-ms 3000 --channel 1 --pulses -6 \
	--channel 2 --pulses -6 --delay-samples 137
gen noise.wav --channels 2 --duration-ms 2000 --channel 1 --noise -20 \
	--channel 2 --noise -20 --delay-samples 4321

clean_checks=(--skip-ms 100 --rate 48000
	--channel 1 --freq 440 --level -20 --freq 554 --level -26 --no-gaps
	--channel 2 --freq 1000 --level -20 --tol-db 0.01 --no-gaps
	--channel 3 --silent)

# ---- aoip-wavcheck passes what is right ----------------------------------
expect 0 "clean file passes every check" "$wavcheck" "$dir/clean.wav" "${clean_checks[@]}"
has "clean file" '^PASS ch1 tone 440 Hz: level -20\.000 dBFS'
has "clean file" '^PASS ch1 tone 554 Hz: level -26\.000 dBFS'
has "clean file" '^PASS ch3 silent'
has "clean file" '^[0-9]+ checks, 0 failed'
expect 0 "24-bit file passes the same checks" "$wavcheck" "$dir/clean24.wav" "${clean_checks[@]}"
expect 0 "a level may be given once for every tone" \
	"$wavcheck" "$dir/clean.wav" --channel 2 --freq 1000 --level -20 \
	--channel 1 --freq 440 --freq 554 --level -23 --tol-db 3.1
expect 0 "a tone 100 ppm off reads its level exactly over 20 s" \
	"$wavcheck" "$dir/drift.wav" --channel 1 --freq 1000 --level -20 --tol-db 0.01 --no-gaps
has "drift" 'measured 1000\.1000 Hz'
expect 0 "a slow pitch bend of 300 ppm is no glitch, even at -60 dB" \
	"$wavcheck" "$dir/bend.wav" --channel 1 --freq 997 --level -6 --no-gaps --gap-threshold-db -60 \
	--channel 2 --freq 3000 --level -6 --freq 440 --level -12 --no-gaps --gap-threshold-db -60
expect 0 "json output holds the verdict" "$wavcheck" "$dir/clean.wav" --json "${clean_checks[@]}"
has "json" '"ok": true'
has "json" '"measured_dbfs": -(20\.0000|19\.9999)'
expect 0 "print shows each channel's frequency and level" "$wavcheck" "$dir/clean.wav" --print
has "print" '^ch2: 3\.000 s, RMS -23\.01 dBFS, peak -20\.00 dBFS, 1000\.000 Hz'
has "print" '^ch3: 3\.000 s, RMS -inf dBFS'

# ---- aoip-wavcheck fails what is wrong -----------------------------------
expect 1 "a 20 ms gap is caught" "$wavcheck" "$dir/gap.wav" "${clean_checks[@]}"
has "gap" '^FAIL ch2 continuity: 3 bad blocks \(30\.0 ms, 0 ms allowed\), first glitch at 123[45]\.[0-9]+ ms'
expect 0 "a gap within --gaps-allowed-ms passes" \
	"$wavcheck" "$dir/gap.wav" --channel 2 --freq 1000 --gaps-allowed-ms 30
expect 1 "a gap beyond --gaps-allowed-ms fails" \
	"$wavcheck" "$dir/gap.wav" --channel 2 --freq 1000 --gaps-allowed-ms 20
expect 1 "a click of 0.05 on a -20 dBFS tone is caught" \
	"$wavcheck" "$dir/click.wav" "${clean_checks[@]}"
has "click" '^FAIL ch2 continuity: 1 bad blocks .*first glitch at 1500\.292 ms'
expect 1 "a click among two tones is caught" "$wavcheck" "$dir/click2.wav" "${clean_checks[@]}"
has "click2" '^FAIL ch1 continuity: .*first glitch at 2000\.000 ms'
expect 1 "a level 0.5 dB high is caught" \
	"$wavcheck" "$dir/loud.wav" --channel 1 --freq 440 --level -20 --freq 554 --level -26
has "loud" '^FAIL ch1 tone 440 Hz: level -19\.500 dBFS, expected -20\.000'
has "loud" '^PASS ch1 tone 554 Hz: level -26\.000'
expect 1 "a gap is a dropout whatever level a block may stray by" \
	"$wavcheck" "$dir/gap.wav" --channel 2 --freq 1000 --no-gaps --gap-threshold-db -6 --block-level-db 6
expect 1 "a click of 0.01 inside a bend is caught at -60 dB" \
	"$wavcheck" "$dir/bendclick.wav" --channel 1 --freq 997 --no-gaps --gap-threshold-db -60
expect 1 "a bend of 3000 ppm is more than a clock loop does" \
	"$wavcheck" "$dir/bendfar.wav" --channel 1 --freq 3000 --no-gaps
expect 1 "a tone 3 Hz off is caught" "$wavcheck" "$dir/wrongfreq.wav" --channel 2 --freq 1000 --level -20
has "wrong frequency" '^FAIL ch2 tone 1000 Hz: measured 1003\.0000 Hz'
expect 1 "a tone far off is not found" "$wavcheck" "$dir/clean.wav" --channel 2 --freq 1500 --level -20
has "far off" '^FAIL ch2 tone 1500 Hz: not found'
expect 1 "a tone where silence belongs is caught" "$wavcheck" "$dir/clean.wav" --channel 2 --silent
expect 1 "the wrong sample rate is caught" "$wavcheck" "$dir/clean.wav" --rate 44100

# ---- delay ----------------------------------------------------------------
expect 0 "a pulse train delayed 137 samples measures 137" \
	"$wavcheck" "$dir/pulses.wav" --delay 1,2 --expect-samples 137
has "pulses" '^delay ch1 -> ch2: 137 samples = 2\.854 ms \(correlation 1\.000\)'
expect 1 "136 samples is not 137" "$wavcheck" "$dir/pulses.wav" --delay 1,2 --expect-samples 136
expect 0 "the other way round it is -137" \
	"$wavcheck" "$dir/pulses.wav" --delay 2,1 --expect-ms -2.854 --tol-ms 0.01
expect 0 "noise delayed 4321 samples measures 4321" \
	"$wavcheck" "$dir/noise.wav" --delay 1,2 --expect-samples 4321
expect 1 "a tone gives no delay" "$wavcheck" "$dir/clean.wav" --delay 1,2
has "tone delay" '^FAIL delay ch1 -> ch2: no match'

# ---- usage and file errors --------------------------------------------------
expect 2 "a missing file is a file error" "$wavcheck" "$dir/none.wav" --channel 1 --silent
: >"$dir/empty.wav"
expect 2 "a file that is no WAV is a file error" "$wavcheck" "$dir/empty.wav" --print
expect 2 "a channel the file lacks" "$wavcheck" "$dir/clean.wav" --channel 4 --silent
expect 2 "an option needs its channel" "$wavcheck" "$dir/clean.wav" --freq 440
expect 2 "--no-gaps needs a frequency" "$wavcheck" "$dir/clean.wav" --channel 1 --no-gaps
expect 2 "skipping the whole file" "$wavcheck" "$dir/clean.wav" --skip-ms 5000 --channel 1 --silent
expect 0 "--help" "$wavcheck" --help
has "help" 'examples:'

# ---- aoip-noise ---------------------------------------------------------------
# Port 9 is discard: no test listens there, and unprivileged code cannot.
expect 0 "udp noise goes out" "$noise" udp 127.0.0.1:9 --count 200 --seed 3
has "udp" '^udp: 200 datagrams .* 0 failed'
expect 0 "rtp lies go out, every kind" "$noise" rtp 127.0.0.1:9 --count 300 --seed 3 --ssrc 0x1234
has "rtp" 'version [0-9]+ csrc [0-9]+ extension [0-9]+ padding [0-9]+ truncated [0-9]+ jump [0-9]+ huge [0-9]+ odd-length [0-9]+ wrong-pt [0-9]+'
expect 0 "rtp lies of one kind" "$noise" rtp '[::1]:9' --count 20 --only padding
has "rtp one kind" 'failed: padding 20$'
expect 2 "a host name is refused" "$noise" udp localhost:9
expect 2 "a name is refused for tcp too" "$noise" tcp localhost:9
expect 2 "a port must be a number" "$noise" rtp 127.0.0.1:nine
expect 2 "an unknown rtp kind" "$noise" rtp 127.0.0.1:9 --only nonsense
# A hang would end in timeout's 124, not 1.
expect 1 "lines to a socket that is not there fails" timeout 10 "$noise" lines "$dir/none.sock"

tool_test_finish "tool checks"
