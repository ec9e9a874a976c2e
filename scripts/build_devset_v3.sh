#!/usr/bin/env bash
# Rebuilds the development benchmark v3 (issue 18, item 1): the v2 development set
# (scripts/build_devset.sh: planetblupi, MMA, Frets on Fire) plus held-out game MIDI (openttd-openmsx,
# simutrans-data) and Groove MIDI test-split songs rendered with MuseScore General (a sound font the
# training corpus never uses), and tracker modules of packages held out of training; then genre groups
# and the dev/test split (devset.csv). Recipe, split rule and licences: scripts/DEVSET.md, section
# "Development benchmark v3". Never commit the result.
#
# Usage: scripts/build_devset_v3.sh OUT_DIR        (default ~/.cache/zerons/devset-v3)
#   DEBS_DIR=/path/to/debs   reuse downloaded .debs (default ~/.cache/zerons/corpus-v3-src/debs)
#   VENV=/path/to/venv       mido, numpy, scipy, soundfile (default ~/.cache/zerons/venv-corpus)
# Resumable: the v2 part is skipped when OUT_DIR/.v2-done exists; every v3 song whose NAME.json exists
# is skipped. Needs: dpkg, ffmpeg, fluidsynth, mma, libopenmpt0, musescore-general-soundfont-small,
# /work/shared/data/groove-midi (ZERONS_DATA).
set -euo pipefail
out=${1:-$HOME/.cache/zerons/devset-v3}
here=$(cd "$(dirname "$0")" && pwd)
debs=${DEBS_DIR:-$HOME/.cache/zerons/corpus-v3-src/debs}
export VENV=${VENV:-$HOME/.cache/zerons/venv-corpus}
py="$VENV/bin/python"
pkgs=(openttd-openmsx simutrans-data heroes-sound-tracks pachi-data open-invaders-data)

# The Groove MIDI songs get their accompaniment from the installed MMA (scripts/render_corpus.py
# reads /usr/bin/mma and /usr/share/mma, as the training renders do): without it every one of
# them would be left out.
missing=()
for t in dpkg ffmpeg fluidsynth; do command -v "$t" >/dev/null || missing+=("$t"); done
[ -x /usr/bin/mma ] || missing+=(mma)
[ "$(dpkg-query -W -f='${Status}' libopenmpt0 2>/dev/null)" = "install ok installed" ] || missing+=(libopenmpt0)
[ -e /usr/share/sounds/sf3/MuseScore_General_Lite.sf3 ] ||
  missing+=(musescore-general-soundfont-small)
if [ ${#missing[@]} -gt 0 ]; then
  echo "build_devset_v3: missing ${missing[*]}; run: apt-get install ${missing[*]}" >&2
  exit 1
fi
mkdir -p "$out" "$debs"
out=$(cd "$out" && pwd)

# 1. the v2 development set (it clears OUT_DIR's *.json/*.flac/*.beats, so it runs first, once)
if [ ! -e "$out/.v2-done" ]; then
  DEBS_DIR="$debs" "$here/build_devset.sh" "$out"
  touch "$out/.v2-done"
fi

# 2. the held-out packages, extracted (no install)
src="$out/.src-v3"
mkdir -p "$src" "$out/licences"
for p in "${pkgs[@]}"; do
  if ! ls "$debs"/"${p}"_*.deb >/dev/null 2>&1; then
    (cd "$debs" && apt-get download "$p")
  fi
  if [ ! -d "$src/$p" ]; then
    deb=$(ls "$debs"/"${p}"_*.deb | sort -V | tail -1)
    mkdir -p "$src/$p" && dpkg -x "$deb" "$src/$p"
    echo "$p: $(basename "$deb")"
  fi
  cp "$src/$p/usr/share/doc/$p/copyright" "$out/licences/$p.copyright"
done

# 3. the v3 songs, then the manifest with genre groups and the dev/test split
nice -n 10 "$py" "$here/devset_v3.py" midi "$src" "$out"
nice -n 10 "$py" "$here/devset_v3.py" gmd "$out"
nice -n 10 "$py" "$here/devset_v3.py" tracker "$src" "$out"
"$py" "$here/devset_v3.py" manifest "$out"
