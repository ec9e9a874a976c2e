#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy (warnings are errors), all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo clippy --features playback (cpal output)"
cargo clippy -p zerons --all-targets --locked --features playback -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== cargo test --features playback (player on ALSA's null device)"
cargo test -p zerons --locked --features playback --test playback
echo "== cargo test --features wgpu (the GPU backend on Mesa's lavapipe, a software Vulkan device)"
# The Vulkan loader wants a runtime dir; lavapipe is accepted as a GPU only for this test.
XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}" ZERONS_ALLOW_SOFTWARE_GPU=1 \
  cargo test -p zerons --locked --features wgpu --test model_wgpu
echo "== fuzz: every importer for 20 s (scripts/fuzz.sh 600 is the 10-minute local run)"
./scripts/fuzz.sh 20
echo "== ui: npm ci, tsc, eslint, vitest"
if command -v npm >/dev/null; then
  (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent check)
  echo "== ui: build (embedded by the app) and headless Chromium with mocked IPC"
  (cd ui && npm run --silent build && npm run --silent test:browser)
  echo "== src-tauri (desktop shell): fmt, clippy, tests"
  # Same features as the e2e build (custom-protocol, which embeds ui/dist: built above), so
  # the two share compiled dependencies.
  (cd src-tauri && cargo fmt -- --check \
    && cargo clippy --all-targets --locked --features tauri/custom-protocol -- -D warnings \
    && cargo test --locked --features tauri/custom-protocol)
  echo "== e2e: the real app under Xvfb, driven through tauri-driver"
  ./scripts/e2e.sh
else
  echo "npm not found: UI and app checks skipped (install Node.js >= 20.19 to run them)"
fi
