#!/usr/bin/env bash
# End-to-end test of the desktop app: installs what it needs, builds the app with the
# custom-protocol feature (the UI embedded, as shipped), runs it under Xvfb and drives it
# through tauri-driver + WebKitWebDriver (ui/e2e/app.test.mjs). Screenshots and redraw
# timings go to target/e2e-screenshots/. Exits non-zero on failure.
#
#   scripts/e2e.sh            # install, build, test
#   E2E_SKIP_BUILD=1 scripts/e2e.sh   # reuse the last build
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

# 1. System packages (Debian/Ubuntu; see specs in README "Desktop app").
PKGS=(libwebkit2gtk-4.1-dev libasound2-dev build-essential pkg-config xvfb xauth webkit2gtk-driver)
MISSING=()
for p in "${PKGS[@]}"; do [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || MISSING+=("$p"); done
if [ ${#MISSING[@]} -gt 0 ]; then
  echo "== apt-get install ${MISSING[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${MISSING[@]}"
fi
command -v python3 >/dev/null || { echo "python3 is needed to read the project file" >&2; exit 1; }

# 2. tauri-driver (WebDriver bridge for Tauri apps).
if ! command -v tauri-driver >/dev/null; then
  echo "== cargo install tauri-driver"
  cargo install tauri-driver --locked --version "^2.1"
fi

# 3. UI dependencies and the app (debug, custom-protocol: `tauri build` passes it).
echo "== npm ci"
(cd ui && npm ci --no-audit --no-fund --loglevel=error)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
APP=$TARGET/debug/zerons-studio
if [ -z "${E2E_SKIP_BUILD:-}" ] || [ ! -x "$APP" ]; then
  echo "== tauri build --debug --no-bundle"
  (cd ui && nice -n 5 npm run tauri -- build --debug --no-bundle)
fi

# 4. A private display, data dir and project dir; everything is removed on exit.
WORK=$(mktemp -d)
DISPLAY_NUM=${E2E_DISPLAY:-97}
PIDS=()
cleanup() {
  # tauri-driver gets SIGTERM (not SIGKILL) so that it stops WebKitWebDriver too.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  cp "$WORK"/*.log "$SCREENSHOT_DIR/" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
Xvfb ":$DISPLAY_NUM" -screen 0 1440x900x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
PIDS+=($!)
export DISPLAY=":$DISPLAY_NUM"
export XDG_DATA_HOME=$WORK/data XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache
mkdir -p "$WORK/export" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"
export E2E_WORK=$WORK ZERONS_APP=$APP SCREENSHOT_DIR=$ROOT/target/e2e-screenshots
export RUST_BACKTRACE=${RUST_BACKTRACE:-0}
# No sound card here: play into ALSA's null device (unpaced, but the transport runs).
export ZERONS_AUDIO_DEVICE=${ZERONS_AUDIO_DEVICE:-alsa:null}
export ZERONS_TEST_PICK_NEW_PROJECT=$WORK/e2e.zerons
# The demo song, a second song (a copy of it: a song the learning loop must leave alone
# until the user accepts a model's beats for it) and a file that is not audio (the app must
# say so and keep going).
echo "these are not the samples you are looking for" >"$WORK/notes.txt"
cp "$ROOT/assets/demo/time_to_strike_excerpt.mp3" "$WORK/second_take.mp3"
export ZERONS_TEST_PICK_AUDIO=$ROOT/assets/demo/time_to_strike_excerpt.mp3:$WORK/second_take.mp3:$WORK/notes.txt
export ZERONS_TEST_PICK_EXPORT_DIR=$WORK/export
rm -rf "$SCREENSHOT_DIR"; mkdir -p "$SCREENSHOT_DIR"
sleep 1

# E2E_PORT: another port when two runs share a machine (the WebKit driver gets the next one).
export E2E_PORT=${E2E_PORT:-4444}
tauri-driver --port "$E2E_PORT" --native-port "$((E2E_PORT + 1))" >"$WORK/tauri-driver.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$E2E_PORT) 2>/dev/null && break; sleep 0.2; done

# 5. The test.
echo "== e2e (node --test ui/e2e)"
status=0
(cd ui && node --test --test-reporter=spec e2e/) || status=$?
if [ $status -ne 0 ]; then
  echo "-- tauri-driver log (app stderr included)"; grep -v '^ ' "$WORK/tauri-driver.log" | tail -n 40 || true
fi
echo "screenshots: $SCREENSHOT_DIR"
exit $status
