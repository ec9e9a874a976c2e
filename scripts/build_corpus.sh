#!/usr/bin/env bash
# Rebuilds the pretraining corpus (issue 4) from openly licensed Debian music packages:
# apt-get download + dpkg -x (no install, no root needed), then keeps only the audio files.
# Music inside archives (0ad-data: .zip, nexuiz-music: .pk3) is unpacked with unzip.
# Never commit the result.
#
# Usage: scripts/build_corpus.sh OUT_DIR [PACKAGE...]
#   DEBS_DIR=/path/to/debs reuses already downloaded .debs.
set -euo pipefail
out=${1:?usage: build_corpus.sh OUT_DIR [PACKAGE...]}
shift || true
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
  pkgs=(warzone2100-music ufoai-music 0ad-data wesnoth-1.16-music widelands-data supertux-data
        hedgewars-data nexuiz-music supertuxkart-data colobot-common-sounds singularity-music
        freedroidrpg-data megaglest-data flare-game pushover-data hyperrogue-music)
fi
debs=${DEBS_DIR:-$out/.debs}
mkdir -p "$out" "$debs"
for p in "${pkgs[@]}"; do
  if ! ls "$debs"/"${p}"_*.deb >/dev/null 2>&1; then
    (cd "$debs" && apt-get download "$p")
  fi
  for deb in "$debs"/"${p}"_*.deb; do
    tmp=$(mktemp -d)
    dpkg -x "$deb" "$tmp"
    find "$tmp" \( -name '*.zip' -o -name '*.pk3' \) -print0 | while IFS= read -r -d '' z; do
      unzip -q -o "$z" '*.ogg' '*.opus' '*.flac' '*.wav' '*.mp3' -d "${z}.d" 2>/dev/null || true
    done
    dest="$out/$p"
    mkdir -p "$dest"
    # Game data packages also hold sound effects, ambiences and speech: keep only files under a
    # folder named like "music" (the *-music packages are all music).
    pathfilter=(-ipath '*music*')
    case "$p" in
      *-music) pathfilter=(-true) ;;
      pushover-data) pathfilter=(-ipath '*/themes/*') ;;  # its music lives in themes/
    esac
    find "$tmp" -type f \( -iname '*.ogg' -o -iname '*.opus' -o -iname '*.flac' -o -iname '*.mp3' -o -iname '*.wav' \) \
      "${pathfilter[@]}" -size +200k -print0 | while IFS= read -r -d '' f; do
        rel=${f#"$tmp"/}
        mkdir -p "$dest/$(dirname "$rel")"
        mv "$f" "$dest/$rel"
      done
    rm -rf "$tmp"
  done
  # The engine decodes with symphonia, which has no Opus decoder (warzone2100-music is all
  # Opus): transcode those files to FLAC (lossless from the decoded Opus) when ffmpeg exists.
  find "$dest" -type f -iname '*.opus' -print0 | while IFS= read -r -d '' f; do
    if command -v ffmpeg >/dev/null 2>&1; then
      ffmpeg -nostdin -loglevel error -y -i "$f" -c:a flac "${f%.*}.flac" && rm -f "$f"
    else
      echo "warning: $f is Opus, which zerons cannot decode; install ffmpeg to transcode it" >&2
    fi
  done
  echo "$p: $(find "$out/$p" -type f | wc -l) audio files"
done
