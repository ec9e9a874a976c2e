#!/usr/bin/env bash
# The GPU check (issue 20): the shipped model on a machine with an NVIDIA GPU, CPU and GPU
# measured in the same run, in at most 10 minutes:
#   1. inference parity GPU vs CPU on the shipped model (largest activation difference, beat
#      F-measure of the GPU's beats against the CPU's) and model time of a 3-minute song;
#   2. fine-tuning steps/s on the GPU and the CPU for 1 and 10 songs × 30 s (the engine's
#      `finetune`, default `top` mode, fixed epochs): `zerons bench`;
#   3. the same through the path the app and `zerons finetune` take (decode, separate, VQT,
#      `select_device(Auto)`, held-out early stopping), whole processes timed, for 1 and 10
#      songs, with `--device auto` (the app's choice) and `--device cpu`;
#   4. the whole network (`--mode full`, the app's "Whole network"), 20 epochs exactly, for 1
#      and 10 songs, GPU and CPU: where a GPU matters most.
#
#   scripts/gpu_check.sh [ZERONS_BINARY]     # default: target/release/zerons
#
# The binary is a release build of the CLI (wgpu is in every build). A machine without the
# Vulkan loader gets it from .gl/*.deb (Debian's libvulkan1 and the GL dispatch libraries,
# downloaded beside the checkout with `apt-get download`): the NVIDIA driver brings the ICD.
# Results go to $OUT (or gpu-check/) as gpu_check.log and bench.json.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/zerons}
OUT_DIR=${OUT:-gpu-check}
mkdir -p "$OUT_DIR"
LOG=$OUT_DIR/gpu_check.log
exec > >(tee "$LOG") 2>&1
START=$(date +%s)
say() { echo "== [$(($(date +%s) - START)) s] $*"; }

if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
  if ls .gl/*.deb >/dev/null 2>&1; then
    say "no Vulkan loader here: unpacking .gl/*.deb"
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  else
    echo "no Vulkan loader (libvulkan.so.1) and no .gl/*.deb to bring one" >&2
  fi
fi
# The NVIDIA ICD, where the driver is mounted outside the loader's search path.
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] \
  && ! ls /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json >/dev/null 2>&1; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
export ZERONS_MODEL=${ZERONS_MODEL:-$PWD/assets/model}
DEMO=assets/demo/time_to_strike_excerpt.mp3

say "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: none"
nproc
"$BIN" --version

say "1+2. zerons bench: inference parity and speed, fine-tuning steps/s (CPU and GPU)"
timeout 240 "$BIN" -v bench --audio "$DEMO" --epochs 10 --songs 1,10 --json "$OUT_DIR/bench.json"
echo "exit $?"

say "3. the path of the app and of zerons finetune (whole processes)"
# The beats are the model's own analysis, so `--when-base-agrees train`: the default would see
# nothing to learn (DEVSET rule 31) and time no training.
WORK=$(mktemp -d)
"$BIN" analyze "$DEMO" --device cpu -o "$WORK/demo.csv" || echo "analyze failed"
for _ in $(seq 10); do echo "$PWD/$DEMO=$WORK/demo.csv"; done >"$WORK/ten.txt"
for dev in auto cpu; do
  for n in 1 10; do
    if [ "$n" = 1 ]; then songs=(--song "$PWD/$DEMO=$WORK/demo.csv"); else songs=(--song-list "$WORK/ten.txt"); fi
    t0=$(date +%s%N)
    timeout 75 "$BIN" -v finetune "${songs[@]}" --device "$dev" --annotated-until 24 --max-epochs 60 --when-base-agrees train -o "$WORK/ft-$dev-$n" 2>&1 \
      | grep -E -i "device|adapter|epoch [0-9]+/|held-out|stopp|best|saved|error" | tail -n 8
    rc=${PIPESTATUS[0]}
    echo "finetune --device $dev, $n song(s): exit $rc, $((($(date +%s%N) - t0) / 1000000)) ms wall"
    rm -rf "$WORK/ft-$dev-$n"
  done
done
say "4. --mode full (the whole network), 20 epochs, GPU and CPU"
for dev in auto cpu; do
  for n in 1 10; do
    if [ "$n" = 1 ]; then songs=(--song "$PWD/$DEMO=$WORK/demo.csv"); else songs=(--song-list "$WORK/ten.txt"); fi
    t0=$(date +%s%N)
    timeout 120 "$BIN" finetune "${songs[@]}" --device "$dev" --mode full --annotated-until 24 \
      --when-base-agrees train --max-epochs 20 --min-epochs 20 --patience 20 -o "$WORK/full-$dev-$n" 2>&1 | grep -E "^fine-tuned" | tail -n 1
    rc=${PIPESTATUS[0]}
    echo "finetune --mode full --device $dev, $n song(s): exit $rc, $((($(date +%s%N) - t0) / 1000000)) ms wall"
    rm -rf "$WORK/full-$dev-$n"
  done
done
say "done"
