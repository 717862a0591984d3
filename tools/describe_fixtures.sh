#!/usr/bin/env bash
# Print, as Markdown tables, what ffprobe says about the media fixtures:
# the facts that tests rely on. After regenerating the fixtures
# (tools/make_fixtures.sh), paste the output into fixtures/README.md.
#
# Usage: tools/describe_fixtures.sh
# Needs ffprobe and jq. Frame counts come from decoding every frame
# (ffprobe -count_frames), not from the container's index.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
for tool in ffprobe jq; do
    command -v "$tool" >/dev/null || { echo "describe_fixtures: $tool not found" >&2; exit 1; }
done
ERR="$(mktemp)"
trap 'rm -f "$ERR"' EXIT

files_in() { find "$@" -type f 2>/dev/null | LC_ALL=C sort; }
is_image() { [[ "$1" =~ \.(png|jpe?g|webp|tiff?)$ ]]; }

# ffprobe as JSON on stdout, or return 1 with its last error line in $ERR
probe() {
    ffprobe -v error -count_frames -show_format -show_streams -show_chapters -of json "$1" 2>"$ERR"
}

# shellcheck disable=SC2016
JQ_COMMON='
def n: if . == null then "–" else tostring end;
def t(k): (.tags // {})[k];
def rot: ([.side_data_list[]? | select(.rotation != null) | .rotation][0]) // 0;
def colour: [.color_range, .color_space, .color_primaries, .color_transfer]
            | map(. // "–") | join(" / ");
def stream_desc:
  if .codec_type == "video" then
    "v:\(.codec_name)" + (if .profile then " (\(.profile))" else "" end)
  elif .codec_type == "audio" then
    "a:\(.codec_name) \(.channels)ch \(.sample_rate)Hz"
  else "\(.codec_type | .[0:1]):\(.codec_name // "?")" end
  + (if t("language") and t("language") != "und" then " [\(t("language"))]" else "" end)
  + (if t("title") then " \"\(t("title"))\"" else "" end)
  + " @\(.start_time | n)";
def video: .streams | map(select(.codec_type == "video")) | .[0];
def row: "| " + (map(tostring) | join(" | ")) + " |";
'
# shellcheck disable=SC2016
JQ_VIDEO="$JQ_COMMON"'
video as $v
| [ "`\($file)`", $size, .format.format_name,
    (.streams | map(stream_desc) | join("<br>")),
    (.format.start_time | n), (.format.duration | n),
    "\($v.width)×\($v.height)", ($v.nb_read_frames | n),
    "\($v.r_frame_rate) / \($v.avg_frame_rate)",
    "\($v.sample_aspect_ratio // "–") → \($v.display_aspect_ratio // "–")",
    ($v | rot), $v.pix_fmt, ($v.field_order // "–"), ($v | colour),
    ( [ (.format.tags.title // empty | "title \"\(.)\""),
        (if (.chapters | length) > 0
         then "chapters: " + (.chapters | map("\"\(.tags.title // "?")\" \(.start_time)–\(.end_time)") | join(", "))
         else empty end) ] | join("; ") | if . == "" then "–" else . end )
  ] | row'
# shellcheck disable=SC2016
JQ_IMAGE="$JQ_COMMON"'
video as $v
| [ "`\($file)`", $size, .format.format_name, $v.codec_name,
    "\($v.width)×\($v.height)", $v.pix_fmt, ($v | colour) ] | row'
# shellcheck disable=SC2016
JQ_BAD="$JQ_COMMON"'
video as $v
| [ "`\($file)`", $size, "opens: \(.format.format_name)",
    (.streams | map(stream_desc) | join("<br>")),
    (.format.duration | n),
    (if $v then "\($v.nb_frames // "–") / \($v.nb_read_frames // "0")" else "–" end) ] | row'

echo "### Video"
echo
echo "| file | bytes | container | streams (type:codec [lang] \"title\" @start_time) | start_time | duration | size | frames | r / avg fps | SAR → DAR | rotation | pix_fmt | field order | range / matrix / primaries / trc | title, chapters |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
while read -r f; do
    is_image "$f" && continue
    json=$(probe "$f")
    jq -r --arg file "$f" --argjson size "$(stat -c %s "$f")" "$JQ_VIDEO" <<<"$json"
done < <(files_in fixtures/video fixtures/film)

echo
echo "### Images"
echo
echo "| file | bytes | ffprobe format | codec | size | pix_fmt | range / matrix / primaries / trc |"
echo "|---|---|---|---|---|---|---|"
while read -r f; do
    is_image "$f" || continue
    json=$(probe "$f")
    jq -r --arg file "$f" --argjson size "$(stat -c %s "$f")" "$JQ_IMAGE" <<<"$json"
done < <(files_in fixtures/images fixtures/film)

echo
echo "### Bad inputs"
echo
echo "| file | bytes | ffprobe | streams | duration | frames indexed / decoded |"
echo "|---|---|---|---|---|---|"
while read -r f; do
    size=$(stat -c %s "$f")
    if json=$(probe "$f"); then
        jq -r --arg file "$f" --argjson size "$size" "$JQ_BAD" <<<"$json"
    else
        msg=$(tail -n 1 "$ERR" | sed -e "s|^$f: ||" -e 's/|/\\|/g')
        echo "| \`$f\` | $size | does not open: ${msg:-ffprobe failed} | – | – | – |"
    fi
done < <(files_in fixtures/bad)
