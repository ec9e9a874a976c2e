#!/usr/bin/env bash
# Rebuilds assets/demo/time_to_strike_excerpt.mp3 from the Debian package asc-music (GPL-2+).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download asc-music && dpkg -x asc-music_*.deb x)
ffmpeg -hide_banner -loglevel error -y -ss 60 -t 30 \
  -i "$tmp/x/usr/share/games/asc/music/time_to_strike.mp3" -c copy assets/demo/time_to_strike_excerpt.mp3
sha256sum assets/demo/time_to_strike_excerpt.mp3
