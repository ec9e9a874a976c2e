#!/usr/bin/env bash
# Fuzzes every beat-file importer with cargo-fuzz (libFuzzer), SECONDS per target.
#
#   scripts/fuzz.sh 600          # the issue's local run: 10 minutes per importer
#   scripts/fuzz.sh 20           # CI's short run (scripts/test.sh)
#
# Needs the nightly toolchain and cargo-fuzz (scripts/setup.sh installs both). Each target's
# corpus starts from the files in tests/fixtures/formats and the exporters' own output
# (examples/export_formats), and grows in fuzz/corpus/<target> between runs. A crash leaves
# its input in fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
SECONDS_PER_TARGET="${1:-20}"
TARGETS=(csv beats jams sv_csv svl audacity rekordbox traktor midi)
seed_dir=$(mktemp -d)
trap 'rm -rf "$seed_dir"' EXIT
# The exporters' output is the best seed: every format, with meter and tempo changes (the
# example is built by `cargo test` in the usual target dir).
cargo run --quiet --locked --example export_formats -- "$seed_dir" >/dev/null
cp tests/fixtures/formats/example* "$seed_dir"/
# Instrumented builds do not share artifacts with the normal ones: keep them apart.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/zerons/fuzz-target}"

# Seeds per target: the exporter's file for that format (NAME.<format>.<ext>) and the
# fixtures with the format's extension.
seeds_for() {
  local ext
  case "$1" in
    csv|sv_csv) ext=csv ;; beats) ext=beats ;; jams) ext=jams ;; svl) ext=svl ;;
    audacity) ext=txt ;; rekordbox) ext=xml ;; traktor) ext=nml ;; midi) ext=mid ;;
  esac
  ls "$seed_dir"/*."$1".* "$seed_dir"/example*."$ext" 2>/dev/null || true
}

cd fuzz
cargo +nightly fuzz build -O >/dev/null
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t"
  for f in $(seeds_for "$t"); do cp -n "$f" "corpus/$t/" 2>/dev/null || true; done
  log="$(mktemp)"
  if cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$SECONDS_PER_TARGET" \
    -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo "?")
    echo "fuzz $t: ${SECONDS_PER_TARGET} s, $runs inputs, coverage $cov, no crash"
  else
    echo "fuzz $t: FAILED (input saved under fuzz/artifacts/$t):"
    tail -40 "$log"
    status=1
  fi
  rm -f "$log"
done
exit $status
