#!/usr/bin/env bash
# The installable package, checked as a user's machine sees it (run by scripts/test.sh after
# the end-to-end test, whose debug build it packages):
#   1. scripts/package.sh builds the .deb (and .rpm);
#   2. the .deb's metadata: Depends, stripped binaries, models, demo, CLI, desktop entry
#      with categories and the .zerons MIME type;
#   3. it is installed with apt (dpkg underneath), and the installed CLI tracks the demo
#      song with the shipped network from a folder outside the source tree, which is hidden
#      (an empty folder mounted over it) while the installed programs run;
#   4. the installed app, under Xvfb through tauri-driver, tracks the demo song with the
#      network and starts a fine-tuning run (ui/e2e-installed/), with screenshots;
#   5. the package is removed.
#
#   scripts/package_test.sh            # package the debug build, install, test, remove
#   scripts/package_test.sh --release  # the release packages (scripts/package.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
PROFILE=debug; PKG_FLAGS=(--debug)
if [ "${1:-}" = "--release" ]; then PROFILE=release; PKG_FLAGS=(); fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
fail() { echo "package test: $*" >&2; exit 1; }

./scripts/package.sh "${PKG_FLAGS[@]}"
DEB=$(ls -t "$TARGET/$PROFILE"/bundle/deb/*.deb | head -n 1)
RPM=$(ls -t "$TARGET/$PROFILE"/bundle/rpm/*.rpm 2>/dev/null | head -n 1 || true)
echo "== package: $DEB ($(du -h "$DEB" | cut -f1)); rpm: ${RPM:-none}"

echo "== metadata and contents"
PKG=$(dpkg-deb -f "$DEB" Package)
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
echo "Package: $PKG; Depends: $DEPENDS; Installed-Size: $(dpkg-deb -f "$DEB" Installed-Size) KiB"
grep -q libasound2 <<<"$DEPENDS" || fail "Depends lacks libasound2"
grep -q libwebkit2gtk-4.1 <<<"$DEPENDS" || fail "Depends lacks WebKitGTK"
CONTENTS=$(dpkg-deb -c "$DEB")
for f in ./usr/bin/zerons ./usr/bin/zerons-studio ./usr/share/zerons/model/MODEL.json \
  ./usr/share/zerons/model/model.bpk ./usr/share/zerons/model/model.bars.bpk ./usr/share/zerons/model-v1/MODEL.json \
  ./usr/share/zerons/model-v2/MODEL.json ./usr/share/zerons/model-v3/MODEL.json \
  ./usr/share/zerons/model-v4/MODEL.json ./usr/share/zerons/model-v4/model.bpk \
  ./usr/share/zerons/demo/time_to_strike_excerpt.mp3 ./usr/share/zerons/MODEL_CARD.md \
  ./usr/share/mime/packages/zerons-studio.xml; do
  # Entries are listed with or without a leading "./" depending on the tool that built the archive.
  grep -qE " (\./)?${f#./}\$" <<<"$CONTENTS" || fail "$f is not in the package"
done
UNPACK=$(mktemp -d)
dpkg-deb -x "$DEB" "$UNPACK"
DESKTOP=$(ls "$UNPACK"/usr/share/applications/*.desktop)
grep -q '^Categories=.*Audio' "$DESKTOP" || fail "desktop entry without Audio category"
grep -q '^MimeType=application/x-zerons-project;' "$DESKTOP" || fail "desktop entry without the .zerons type"
grep -q '^Exec=zerons-studio %f' "$DESKTOP" || fail "desktop entry does not pass the file"
for b in zerons zerons-studio; do
  file "$UNPACK/usr/bin/$b" | grep -q ', stripped' || fail "/usr/bin/$b is not stripped"
done
rm -rf "$UNPACK"

echo "== install"
cleanup() {
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "== remove $PKG"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$PKG" >/dev/null || true
  [ -n "${WORK:-}" ] && { cp "$WORK"/*.log "$SHOTS/" 2>/dev/null || true; rm -rf "$WORK"; }
}
PIDS=()
trap cleanup EXIT
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$DEB" >/dev/null
command -v zerons zerons-studio
grep -q 'zerons' /usr/share/mime/globs2 || fail "the .zerons type is not registered"
echo "MIME: $(grep zerons /usr/share/mime/globs2)"

# Runs a command with the source tree hidden: an empty folder is mounted over it in a private
# mount namespace, so nothing from the checkout can be found.
WORK=$(mktemp -d)
SHOTS=$ROOT/target/e2e-screenshots
mkdir -p "$SHOTS"
HIDE=$WORK/hidden-run
cat >"$HIDE" <<SH
#!/bin/sh
exec unshare -m sh -c 'mount -t tmpfs -o ro,size=1k none "$ROOT" && cd /tmp && exec "\$0" "\$@"' "\$@"
SH
chmod +x "$HIDE"
"$HIDE" test ! -e "$ROOT/Cargo.toml" || fail "the source tree is not hidden"

echo "== the installed CLI, source tree hidden"
env -u ZERONS_MODEL "$HIDE" zerons -v analyze /usr/share/zerons/demo/time_to_strike_excerpt.mp3 \
  >"$WORK/beats.txt" 2>"$WORK/cli.log" || { cat "$WORK/cli.log"; fail "the installed CLI failed"; }
N=$(wc -l <"$WORK/beats.txt")
grep -q 'model loaded' "$WORK/cli.log" || { cat "$WORK/cli.log"; fail "the CLI did not load the network"; }
echo "zerons analyze: $N beats; $(grep -o 'id=[^ ]*' "$WORK/cli.log" | head -n 1)"
[ "$N" -gt 40 ] || fail "too few beats ($N)"

echo "== the installed app under Xvfb, source tree hidden"
command -v tauri-driver >/dev/null || cargo install tauri-driver --locked --version "^2.1"
APP=$WORK/zerons-studio-hidden
printf '#!/bin/sh\nexec %s /usr/bin/zerons-studio "$@"\n' "$HIDE" >"$APP"
chmod +x "$APP"
DISPLAY_NUM=${E2E_DISPLAY:-98}
Xvfb ":$DISPLAY_NUM" -screen 0 1440x900x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
PIDS+=($!)
export DISPLAY=":$DISPLAY_NUM"
export XDG_DATA_HOME=$WORK/data XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"
export E2E_WORK=$WORK ZERONS_APP=$APP SCREENSHOT_DIR=$SHOTS
export ZERONS_AUDIO_DEVICE=${ZERONS_AUDIO_DEVICE:-alsa:null}
export ZERONS_TEST_PICK_NEW_PROJECT=$WORK/installed.zerons
export ZERONS_TEST_PICK_AUDIO=/usr/share/zerons/demo/time_to_strike_excerpt.mp3
unset ZERONS_MODEL
sleep 1
# E2E_PORT: another port when two runs share a machine (the WebKit driver gets the next one).
export E2E_PORT=${E2E_PORT:-4444}
tauri-driver --port "$E2E_PORT" --native-port "$((E2E_PORT + 1))" >"$WORK/tauri-driver-installed.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$E2E_PORT) 2>/dev/null && break; sleep 0.2; done
status=0
(cd ui && node --test --test-reporter=spec e2e-installed/) || status=$?
if [ $status -ne 0 ]; then
  echo "-- tauri-driver log (app stderr included)"; grep -v '^ ' "$WORK/tauri-driver-installed.log" | tail -n 40 || true
fi
echo "screenshots: $SHOTS/installed-*.png"
exit $status
