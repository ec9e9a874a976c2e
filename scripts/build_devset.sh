#!/usr/bin/env bash
# Rebuilds the ZeroNS development set (issue 4) from Debian package names: planetblupi game tracks
# (OGG + the MIDI files they were rendered from), songs generated with MMA's groove library,
# rendered with fluidsynth and FluidR3_GM, and real recordings from the Frets on Fire song packs
# (Muldjord, Sectoid) whose game charts carry the tempo map. Every song gets its beats from a MIDI
# tempo map (the FoF ones checked and offset-corrected against the recordings).
# Recipe, licences and checks: scripts/DEVSET.md. Never commit the result.
#
# Usage: scripts/build_devset.sh OUT_DIR
#   DEBS_DIR=/path/to/debs   reuse already downloaded .debs (default OUT_DIR/.debs, apt-get download)
#   VENV=/path/to/venv       Python venv with mido, numpy, scipy, soundfile (created if missing;
#                            default ~/.cache/zerons/venv-devset)
#   BLUPI_EXCERPT_S=120      seconds kept from the start of each planetblupi track (0: whole track)
#   MMA_SEED=4               seed of the MMA chord progressions and song lengths
# Needs: dpkg, ffmpeg, fluidsynth (apt-get install fluidsynth ffmpeg), python3 with venv.
set -euo pipefail
out=${1:?usage: build_devset.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
pkgs=(planetblupi-music-ogg planetblupi-music-midi mma fluid-soundfont-gm
      fretsonfire-songs-muldjord fretsonfire-songs-sectoid)
debs=${DEBS_DIR:-$out/.debs}
venv=${VENV:-$HOME/.cache/zerons/venv-devset}

for tool in dpkg ffmpeg fluidsynth python3; do
  command -v "$tool" >/dev/null || { echo "build_devset: $tool is missing (apt-get install fluidsynth ffmpeg)" >&2; exit 1; }
done
mkdir -p "$out" "$debs"
out=$(cd "$out" && pwd)

# 1. the packages, extracted (no install)
src="$out/.src"
rm -rf "$src"
mkdir -p "$src" "$out/licences"
for p in "${pkgs[@]}"; do
  if ! ls "$debs"/"${p}"_*.deb >/dev/null 2>&1; then
    (cd "$debs" && apt-get download "$p")
  fi
  deb=$(ls "$debs"/"${p}"_*.deb | sort -V | tail -1)
  dpkg -x "$deb" "$src"
  cp "$src/usr/share/doc/$p/copyright" "$out/licences/$p.copyright"
  echo "$p: $(basename "$deb")"
done

# 2. Python tools
if ! "$venv/bin/python" -c 'import mido, numpy, scipy, soundfile' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q mido==1.3.3 numpy==2.4.6 scipy==1.17.1 soundfile==0.14.0
fi
py="$venv/bin/python"

# 3. MMA's groove database (mma -G indexes lib/ in place) and the sound font
export MMA_HOME="$src/usr/share/mma"
python3 "$src/usr/bin/mma" -G >/dev/null
export SOUNDFONT="$src/usr/share/sounds/sf2/FluidR3_GM.sf2"

# 4. the songs, their beats and checks, then the manifest
rm -f "$out"/*.json "$out"/*.beats "$out"/*.flac "$out"/devset.csv
nice -n 10 "$py" "$here/devset.py" blupi "$src/usr/share/planetblupi/music" "$out" \
  --excerpt-s "${BLUPI_EXCERPT_S:-120}"
nice -n 10 "$py" "$here/devset.py" mma "$MMA_HOME" "$src/usr/bin/mma" "$out" --seed "${MMA_SEED:-4}"
nice -n 10 "$py" "$here/devset.py" fof "$src/usr/share/games/fretsonfire/data/songs" "$out"
"$py" "$here/devset.py" manifest "$out"
rm -rf "$src"
