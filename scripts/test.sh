#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy (warnings are errors), all tests. Cheap checks
# and every compile come first, so that a mistake shows within minutes, not after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
# Every section header says how long the run has taken so far (CI's time budget).
T0=$(date +%s)
section() { echo "== [$(( ($(date +%s) - T0) / 60 ))m$(( ($(date +%s) - T0) % 60 ))s] $*"; }
section "cargo fmt --check"
cargo fmt --all -- --check
HAVE_NPM=""; command -v npm >/dev/null && HAVE_NPM=1
if [ -n "$HAVE_NPM" ]; then
  section "ui: npm ci, tsc, eslint, vitest; build (embedded by the app)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent check && npm run --silent build)
fi
# One feature set for every build (the CLI and the app turn on `wgpu`; the app adds
# `playback`), so the engine, CLI and app share their compiled dependencies.
section "cargo clippy --all-targets -- -D warnings (engine with wgpu, CLI)"
cargo clippy --all-targets --locked -- -D warnings
# `--features zerons/playback` on the whole default workspace, not `-p zerons`: a build of
# one package unifies its dependencies' features without the other members' dev-dependencies
# and recompiled burn and cubecl (measured: 10+ min per CI run).
section "cargo clippy --features zerons/playback (cpal output; the app's feature set)"
cargo clippy --all-targets --locked --features zerons/playback -- -D warnings
if [ -n "$HAVE_NPM" ]; then
  section "src-tauri (desktop shell): clippy (formatted by cargo fmt --all above)"
  # Same features as the e2e build (custom-protocol, which embeds ui/dist: built above), so
  # the two share compiled dependencies.
  cargo clippy -p zerons-studio --all-targets --locked --features tauri/custom-protocol -- -D warnings
fi
section "cargo test (engine and CLI; tests/model_wgpu.rs runs the GPU path on Mesa's lavapipe)"
# The Vulkan loader wants a runtime dir; model_wgpu accepts lavapipe as a GPU for itself only.
XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}" cargo test --locked
section "cargo test --features zerons/playback (player on ALSA's null device)"
cargo test --locked --features zerons/playback --test playback
if [ -n "$HAVE_NPM" ]; then
  # The workspace-hack crate (cargo-hakari) gives this selection the same features for every
  # shared dependency as the engine's `cargo test` above (checked with `cargo build
  # --unit-graph`: only our own engine crate differs, by `playback`); without it 16 of them
  # differed and a cold run compiled everything above them twice (~35 min).
  section "src-tauri (desktop shell): tests"
  cargo test -p zerons-studio --locked --features tauri/custom-protocol
  section "ui: headless Chromium with mocked IPC"
  (cd ui && npm run --silent test:browser)
fi
section "fuzz: every importer for 20 s (scripts/fuzz.sh 600 is the 10-minute local run)"
./scripts/fuzz.sh 20
if [ -n "$HAVE_NPM" ]; then
  section "e2e: the real app under Xvfb, driven through tauri-driver"
  ./scripts/e2e.sh
  section "package: build the .deb, install it, run the installed CLI and app, remove it"
  ./scripts/package_test.sh
else
  echo "npm not found: UI and app checks skipped (install Node.js >= 20.19 to run them)"
fi
section "all checks passed"
