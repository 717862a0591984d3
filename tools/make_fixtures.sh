#!/usr/bin/env bash
# Regenerate the committed media fixtures:
#   fixtures/video   small clips covering containers, codecs and stream layouts
#   fixtures/images  still images in every supported format and depth
#   fixtures/film    the small demo "archive" used by the README walkthrough
#   fixtures/bad     empty, truncated, corrupt and mislabelled inputs
#
# Usage (from anywhere; paths are resolved against the repository root):
#   tools/make_fixtures.sh
#
# Needs the ffmpeg/ffprobe CLI (written against Debian's ffmpeg 5.1 with
# libx264, libvpx, libopus) and a Python 3 with numpy, Pillow and
# scikit-image (.venv/bin/python is used when present; override with
# PYTHON=...). The four directories above are owned by this script and are
# deleted and rewritten; nothing else under fixtures/ is touched.
#
# The output is deterministic: fixed seeds, single-threaded encoders,
# bitexact muxers and encoders (no version strings, dates or random UIDs),
# no inherited metadata. Re-running on the same tool versions gives
# byte-identical files; a different ffmpeg/x264/libvpx/zlib version may
# legitimately produce different bytes with the same ffprobe facts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
command -v ffmpeg >/dev/null || { echo "make_fixtures: ffmpeg not found" >&2; exit 1; }

FX=fixtures
VID=$FX/video IMG=$FX/images FILM=$FX/film BAD=$FX/bad
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

rm -rf "$VID" "$IMG" "$FILM" "$BAD"
mkdir -p "$VID" "$IMG" "$FILM/stills" "$BAD"

# ---------------------------------------------------------------- sources
"$PYTHON" tools/make_fixture_images.py frames "$TMP/frames"
"$PYTHON" tools/make_fixture_images.py images "$IMG"
"$PYTHON" tools/make_fixture_images.py film "$FILM"
"$PYTHON" tools/make_fixture_images.py bad "$BAD"

FR=12 # frame rate of every clip

# ffmpeg with quiet, deterministic defaults; callers append inputs/outputs
ff() {
    ffmpeg -nostdin -hide_banner -loglevel error -y -filter_threads 1 "$@"
}
# swscale: exact rounding (a flat colour stays flat) and only code paths
# that give the same result on every CPU
SWS="bicubic+accurate_rnd+bitexact"
# options for every output file: no version strings, one encoder thread
# (x264/libvpx output depends on the thread count), bit-exact colour
# conversion in the scalers that ffmpeg inserts by itself ...
BITEXACT=(-fflags +bitexact -flags +bitexact -threads 1 -sws_flags "$SWS")
# ... and no inherited tags
OUT_OPTS=(-map_metadata -1 "${BITEXACT[@]}")
# a frame sequence written by make_fixture_images.py
seq_in() { echo "-framerate $FR -i $TMP/frames/$1/%03d.png"; }
# mono 440 Hz sine, $1 seconds, 48 kHz
sine_in() { echo "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=$1"; }
X264=(-c:v libx264 -preset medium -crf 23 -g 12 -pix_fmt yuv420p)

# ------------------------------------------------------ fixtures/video
# Subtitles for the two subtitle-bearing clips.
cat >"$TMP/reel1.srt" <<'EOF'
1
00:00:00,000 --> 00:00:00,600
Reel one begins.

2
00:00:00,700 --> 00:00:01,300
An astronaut, restored.

3
00:00:01,400 --> 00:00:01,950
End of the reel.
EOF
cat >"$TMP/coffee.srt" <<'EOF'
1
00:00:00,000 --> 00:00:00,450
Coffee, first light.

2
00:00:00,500 --> 00:00:00,950
Still warm.
EOF
# Container title and chapters, in ffmetadata form (milliseconds).
cat >"$TMP/reel1.ffmeta" <<'EOF'
;FFMETADATA1
title=Reel 1

[CHAPTER]
TIMEBASE=1/1000
START=0
END=1000
title=Opening

[CHAPTER]
TIMEBASE=1/1000
START=1000
END=2000
title=Second
EOF

# H.264 (BT.709 matrix and tags) + AAC mono (fra) + SRT (eng, "English"),
# container title, two chapters; 24 frames. Global metadata and chapters
# (with their titles) come from the ffmetadata input; no other input has tags.
# shellcheck disable=SC2046
ff $(seq_in astronaut_push) $(sine_in 2) -i "$TMP/reel1.srt" -i "$TMP/reel1.ffmeta" \
    -map 0:v -map 1:a -map 2:s -map_metadata 3 -map_chapters 3 "${BITEXACT[@]}" \
    -vf "scale=out_color_matrix=bt709:out_range=tv:flags=$SWS,format=yuv420p" \
    "${X264[@]}" -colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv \
    -c:a aac -b:a 64k -ac 1 -c:s srt \
    -metadata:s:a:0 language=fra \
    -metadata:s:s:0 language=eng -metadata:s:s:0 title=English \
    "$VID/h264_aac_subs_chapters.mkv"

# H.264 coded 96x64 with SAR 4:3 (128x64 once stretched) and a display
# matrix of 90 degrees counter-clockwise (shown 64x128, upright: the frames
# are stored turned clockwise, as a phone stores a portrait clip), AAC,
# mov_text subtitles (eng); 12 frames. ffmpeg 5.1 turns the "rotate" tag
# into a display matrix only when stream-copying, hence the second pass.
# shellcheck disable=SC2046
ff $(seq_in coffee_portrait) $(sine_in 1) -i "$TMP/coffee.srt" \
    -map 0:v -map 1:a -map 2:s "${OUT_OPTS[@]}" \
    -vf "setsar=4/3" "${X264[@]}" -c:a aac -b:a 64k -ac 1 -c:s mov_text \
    "$TMP/rotated_unrotated.mp4"
ff -i "$TMP/rotated_unrotated.mp4" -map 0 -c copy "${OUT_OPTS[@]}" \
    -metadata:s:v:0 rotate=90 -metadata:s:s:0 language=eng \
    "$VID/h264_rotated_sar.mp4"

# MPEG-2 interlaced (top field first) + MP2 in MPEG-PS; 12 frames.
# 12 fps is coded as 24 * 1/2 through MPEG-2's frame_rate_extension.
# shellcheck disable=SC2046
ff $(seq_in rocket_zoom) $(sine_in 1) -map 0:v -map 1:a "${OUT_OPTS[@]}" \
    -c:v mpeg2video -q:v 4 -g 12 -pix_fmt yuv420p -flags +bitexact+ilme+ildct -top 1 \
    -c:a mp2 -b:a 64k -ac 1 \
    "$VID/mpeg2.mpg"

# PAL DV as a camcorder tape capture writes it: raw DV stream, 720x576 4:2:0, SAR 16:15
# (4:3), bottom field first, PCM s16le stereo 48 kHz; 3 frames (DV is 144 000 bytes
# a frame whatever the picture).
ff -framerate 25 -i "$TMP/frames/rocket_pan/%03d.png" \
    -f lavfi -i sine=frequency=440:sample_rate=48000:duration=0.5 -map 0:v -map 1:a \
    "${OUT_OPTS[@]}" -t 0.12 -vf "scale=720:576:flags=$SWS,setfield=bff" -aspect 4:3 \
    -c:v dvvideo -pix_fmt yuv420p -c:a pcm_s16le -ac 2 -f dv \
    "$VID/dv_pal.dv"

# H.264 with CEA-608 closed captions in A/53 SEI, as a broadcast capture has them: a
# pop-on caption "HELLO WORLD" from 0.33 s to 1.50 s; 60 frames at 29.97 fps, one slice
# per picture and no B-frames so each picture's SEI sits right before its slice.
ff -f lavfi -i "testsrc2=size=96x64:rate=30000/1001:duration=2" "${BITEXACT[@]}" \
    -c:v libx264 -preset medium -crf 23 -g 30 -bf 0 -pix_fmt yuv420p \
    -bsf:v h264_mp4toannexb -f h264 "$TMP/plain.h264"
"$PYTHON" tools/insert_a53_captions.py "$TMP/plain.h264" "$TMP/captioned.h264" "HELLO WORLD"
ff -r 30000/1001 -i "$TMP/captioned.h264" -map_metadata -1 -fflags +bitexact -c copy \
    "$VID/h264_cc608.mkv"

# MJPEG (yuvj420p) + PCM s16le in AVI; 12 frames.
# shellcheck disable=SC2046
ff $(seq_in chelsea_pan) $(sine_in 1) -map 0:v -map 1:a "${OUT_OPTS[@]}" \
    -c:v mjpeg -q:v 4 -pix_fmt yuvj420p -c:a pcm_s16le -ac 1 \
    "$VID/mjpeg.avi"

# VP9 + Opus in WebM; 12 frames.
# shellcheck disable=SC2046
ff $(seq_in astronaut_pull) $(sine_in 1) -map 0:v -map 1:a "${OUT_OPTS[@]}" \
    -c:v libvpx-vp9 -b:v 0 -crf 32 -deadline good -cpu-used 4 -row-mt 0 \
    -tile-columns 0 -g 12 -pix_fmt yuv420p \
    -c:a libopus -b:a 32k -ac 1 \
    "$VID/vp9.webm"

# FFV1 lossless, no audio; 12 frames.
# shellcheck disable=SC2046
ff $(seq_in coffee_zoom) -map 0:v "${OUT_OPTS[@]}" \
    -c:v ffv1 -level 3 -g 1 -slicecrc 1 -pix_fmt yuv420p \
    "$VID/ffv1.mkv"

# FFV1 at an odd size (241x135, 4:2:0 so the chroma planes are 121x68); 4 frames.
# shellcheck disable=SC2046
ff $(seq_in chelsea_odd) -map 0:v "${OUT_OPTS[@]}" \
    -c:v ffv1 -level 3 -g 1 -slicecrc 1 -pix_fmt yuv420p \
    "$VID/odd_241x135.mkv"

# Variable frame rate: testsrc2 frames 0..9 (the counter in the picture is
# the frame index) placed at 0,1,2,3,6,7,8,11,12,13 twelfths of a second,
# so the gaps are 1/12 s with two 1/4 s holes; AAC audio over the same
# 14/12 s. No B-frames, so decode order is presentation order.
VFR_IN=(-f lavfi -i "testsrc2=size=96x64:rate=$FR:duration=0.8"
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=1.1666667")
VFR_VF="setpts=(N+2*gte(N\,4)+2*gte(N\,7))/($FR*TB)"
# Matroska (1 ms time base: the 1/12 s gaps are 83 or 84 ms). The frame
# rate handed to the muxer is set to 1000 so that it writes no
# DefaultDuration: the timestamps are the only timing information, and
# ffprobe reports avg_frame_rate 0/0 and no packet durations.
ff "${VFR_IN[@]}" -map 0:v -map 1:a "${OUT_OPTS[@]}" \
    -vf "$VFR_VF" -fps_mode:v passthrough -r:v 1000 \
    "${X264[@]}" -bf 0 -c:a aac -b:a 64k -ac 1 \
    "$VID/vfr.mkv"
# MP4 (time base 1/12288): every sample carries its own duration, so
# ffprobe's packet durations are 1/12 s or 1/4 s.
ff "${VFR_IN[@]}" -map 0:v -map 1:a "${OUT_OPTS[@]}" \
    -vf "$VFR_VF" -fps_mode:v passthrough \
    "${X264[@]}" -bf 0 -c:a aac -b:a 64k -ac 1 \
    "$VID/vfr.mp4"

# H.264 + AAC whose timestamps start at 10 s; 12 frames.
# shellcheck disable=SC2046
ff $(seq_in rocket_pan) $(sine_in 1) -map 0:v -map 1:a "${OUT_OPTS[@]}" \
    "${X264[@]}" -c:a aac -b:a 64k -ac 1 -output_ts_offset 10 \
    "$VID/start_offset.mp4"

# One flat colour, RGB (200, 120, 40), lossless H.264 (qp 0, 4:2:0) with
# the RGB->YUV conversion and the tags matching each other; 6 frames each.
FLAT_IN=(-f lavfi -i "color=c=0xC87828:size=96x64:rate=$FR,format=rgb24")
FLAT_ENC=(-frames:v 6 -c:v libx264 -qp 0 -preset medium -pix_fmt yuv420p)
ff "${FLAT_IN[@]}" "${OUT_OPTS[@]}" \
    -vf "scale=out_color_matrix=bt709:out_range=tv:flags=$SWS,format=yuv420p" "${FLAT_ENC[@]}" \
    -colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv \
    "$VID/flat_bt709.mkv"
ff "${FLAT_IN[@]}" "${OUT_OPTS[@]}" \
    -vf "scale=out_color_matrix=bt601:out_range=tv:flags=$SWS,format=yuv420p" "${FLAT_ENC[@]}" \
    -colorspace smpte170m -color_primaries smpte170m -color_trc smpte170m -color_range tv \
    "$VID/flat_bt601.mkv"
ff "${FLAT_IN[@]}" "${OUT_OPTS[@]}" \
    -vf "scale=out_color_matrix=bt709:out_range=pc:flags=$SWS,format=yuv420p" "${FLAT_ENC[@]}" \
    -colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range pc \
    "$VID/flat_bt709_full.mkv"

# ------------------------------------------------------- fixtures/film
# The demo archive: reel 1 is the subtitled, chaptered clip; reel 2 is a
# longer interlaced MPEG-2 reel; stills/ came from make_fixture_images.py.
cp "$VID/h264_aac_subs_chapters.mkv" "$FILM/reel1.mkv"
# shellcheck disable=SC2046
ff $(seq_in rocket_reel) $(sine_in 2) -map 0:v -map 1:a "${OUT_OPTS[@]}" \
    -c:v mpeg2video -q:v 4 -g 12 -pix_fmt yuv420p -flags +bitexact+ilme+ildct -top 1 \
    -c:a mp2 -b:a 64k -ac 1 \
    "$FILM/reel2.mpg"

# -------------------------------------------------------- fixtures/bad
: >"$BAD/empty.mp4"

# A 24-frame H.264 mp4 with the moov atom first (+faststart), cut at 60%:
# it opens and probes, but the sample data ends early.
# shellcheck disable=SC2046
ff $(seq_in astronaut_push) -map 0:v "${OUT_OPTS[@]}" "${X264[@]}" \
    -movflags +faststart "$TMP/faststart.mp4"
head -c $(($(stat -c %s "$TMP/faststart.mp4") * 60 / 100)) "$TMP/faststart.mp4" >"$BAD/truncated.mp4"

# The same clip with the moov atom last, cut in half: no moov, will not open.
# shellcheck disable=SC2046
ff $(seq_in astronaut_push) -map 0:v "${OUT_OPTS[@]}" "${X264[@]}" "$TMP/moovlast.mp4"
head -c $(($(stat -c %s "$TMP/moovlast.mp4") / 2)) "$TMP/moovlast.mp4" >"$BAD/truncated_nomoov.mp4"

# Matroska cut after its header: the streams are declared, but not one frame is
# there, so its pixel format is unknown.
head -c 3000 "$VID/h264_aac_subs_chapters.mkv" >"$BAD/header_only.mkv"

# A text file with a video extension.
cat >"$BAD/notes.mp4" <<'EOF'
Reel 3 notes
============
This is not a video. It is a plain text file that happens to be named
like one, kept here to check that such inputs are reported, not decoded.
EOF

# garbage.mkv and broken.png were written by make_fixture_images.py.

# -------------------------------------------------------- fixtures/damaged
# mjpeg.avi with the 7th frame's JPEG data overwritten by seeded noise: the file
# opens and 11 of its 12 frames decode; the decoder fails on the 7th (for the
# on_decode_error policies).
mkdir -p "$FX/damaged"
"$PYTHON" - "$VID/mjpeg.avi" "$FX/damaged/decode_error_mid.avi" <<'PY'
import random, subprocess, sys
src, dst = sys.argv[1:]
packets = subprocess.run(
    ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pos,size",
     "-of", "csv=p=0", src], check=True, capture_output=True, text=True).stdout.split()
size, pos = map(int, packets[6].split(","))
data = bytearray(open(src, "rb").read())
rng = random.Random(7)
data[pos:pos + size] = bytes(rng.randrange(256) for _ in range(size))
open(dst, "wb").write(data)
PY

echo "make_fixtures: wrote $(find "$VID" "$IMG" "$FILM" "$BAD" -type f | wc -l) files under $FX/"
