#!/usr/bin/env bash
# Builds the installable packages of ZeroNS Studio (.deb and .rpm): the desktop app, the
# `zerons` command-line tool, the shipped models (lite v3, and v2 and v1 kept loadable), the demo
# song, the model card, a desktop entry with categories and the `.zerons` project type
# (double-click opens the project). Both binaries are stripped and built with the GPU path
# (wgpu); they find the models at /usr/share/zerons/ relative to /usr/bin, never through a
# path fixed at build time.
#
#   scripts/package.sh           # release build: what users install
#   scripts/package.sh --debug   # debug build (CI: reuses the build of the end-to-end test)
#
# Prints the paths of the packages. Needs what scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
PROFILE=release
TAURI_FLAGS=()
CARGO_FLAGS=(--release)
if [ "${1:-}" = "--debug" ]; then
  PROFILE=debug
  TAURI_FLAGS=(--debug)
  CARGO_FLAGS=()
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/$PROFILE

echo "== ui: npm ci"
(cd ui && npm ci --no-audit --no-fund --loglevel=error)
echo "== the zerons CLI ($PROFILE)"
if [ "$PROFILE" = debug ]; then
  # The binary `cargo test` builds for the CLI's integration tests (scripts/test.sh): the same
  # unit graph, so nothing is compiled again. `cargo build -p zerons-cli` unifies features
  # without the workspace's dev-dependencies and recompiled burn, cubecl and sqlx (20+ min).
  cargo test --locked --no-run
else
  cargo build --locked "${CARGO_FLAGS[@]}" -p zerons-cli
fi
echo "== the app ($PROFILE, UI embedded)"
(cd ui && npm run --silent tauri -- build "${TAURI_FLAGS[@]}" --no-bundle)

echo "== strip both binaries"
mkdir -p "$OUT/package"
strip --strip-unneeded -o "$OUT/package/zerons" "$OUT/zerons"
strip --strip-unneeded "$OUT/zerons-studio"

echo "== bundle .deb and .rpm"
# The CLI's path depends on the target directory: added to the packages' files here.
OVERLAY=$OUT/package/tauri.package.json
python3 - "$OUT/package/zerons" "$OVERLAY" <<'PY'
import json, sys
cli, out = sys.argv[1], sys.argv[2]
files = {"/usr/bin/zerons": cli}
json.dump({"bundle": {"linux": {"deb": {"files": files}, "rpm": {"files": files}}}}, open(out, "w"))
PY
rm -rf "$OUT/bundle/deb" "$OUT/bundle/rpm"
(cd ui && npm run --silent tauri -- bundle "${TAURI_FLAGS[@]}" --bundles deb,rpm --config "$OVERLAY")
ls -1 "$OUT"/bundle/deb/*.deb "$OUT"/bundle/rpm/*.rpm
