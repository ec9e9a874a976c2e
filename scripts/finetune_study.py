#!/usr/bin/env python3
"""Issue 5's measurement: for every development song, the first N seconds of its reference beats
count as the user's corrections; `zerons finetune --annotated-until N` fine-tunes the base model
on them alone, and the rest of the song is scored before and after (as decoded freshly, and with
the decoder continuing the annotated beats, as the app's *Continue →* does).

Usage:
  scripts/finetune_study.py DEVSET_DIR OUT_DIR [--zerons BIN] [--base MODEL] [--until 30]
                            [--mode top] [--only PREFIX] [--names A,B,...] [--split dev|test|all]
                            [--extra "--max-epochs 50 ..."] [--keep-models]
The rest is scored as `zerons finetune` reports it: the reference beats from N s on, and the
estimates from the cut of `eval::estimates_cut_s` (each estimate near N s goes with its nearest reference
beat; DEVSET rule 29, 2026-12-07: before, both were cut at N s exactly).
Prints one line per song and the means (all, and per group); writes OUT_DIR/finetune.json. When the
beat files number the beats in the bar, the rest's downbeat F before and after is reported too
(issue 21: the bar classifier learns the numbered first N seconds).
Each song's `zerons finetune` output is kept in OUT_DIR/NAME.log (delete it to recompute).
"""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time

REST = re.compile(
    r"after [0-9.]+ s \(not annotated\): F ([0-9.]+) → ([0-9.]+), CMLt ([0-9.]+) → ([0-9.]+), "
    r"AMLt ([0-9.]+) → ([0-9.]+); continuing the annotated beats: F ([0-9.]+) → ([0-9.]+), "
    r"CMLt ([0-9.]+) → ([0-9.]+)")
TRAINED = re.compile(r"fine-tuned .* ([0-9.]+) s$", re.M)
DOWNBEAT = re.compile(r"; downbeat F ([0-9.]+) → ([0-9.]+)")
BARS = re.compile(r"^bar classifier: (.*)$", re.M)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("devset")
    ap.add_argument("out")
    ap.add_argument("--zerons", default="target/release/zerons")
    ap.add_argument("--base", default="assets/model")
    ap.add_argument("--until", type=float, default=30.0)
    ap.add_argument("--mode", default="top")
    ap.add_argument("--only", default="", help="only songs whose name starts with this")
    ap.add_argument("--names", default="", help="only these songs (comma-separated names)")
    ap.add_argument("--split", default="all", choices=["dev", "test", "all"],
                    help="development benchmark v3: only its dev or test part (scripts/DEVSET.md)")
    ap.add_argument("--extra", default="", help="more `zerons finetune` arguments, space-separated")
    ap.add_argument("--keep-models", action="store_true",
                    help="keep each fine-tuned model as OUT_DIR/NAME.model (for "
                         "examples/finetune_blend_study.rs)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.devset, "devset.csv")) as fh:
        songs = [r for r in csv.DictReader(fh) if r["name"].startswith(a.only)
                 and (a.split == "all" or (r.get("split") or "dev") == a.split)]
    if a.names:
        wanted = set(a.names.split(","))
        songs = [r for r in songs if r["name"] in wanted]
    rows = {}
    for s in songs:
        log = os.path.join(a.out, f"{s['name']}.log")
        if not os.path.exists(log):
            model_dir = os.path.join(a.out, f"{s['name']}.model")
            shutil.rmtree(model_dir, ignore_errors=True)
            audio = os.path.join(a.devset, s["audio"])
            beats = os.path.join(a.devset, s["beats"])
            t0 = time.time()
            r = subprocess.run([a.zerons, "finetune", "--base", a.base, "--song", f"{audio}={beats}",
                                "--annotated-until", str(a.until), "--mode", a.mode, "-o", model_dir]
                               + a.extra.split(),
                               capture_output=True, text=True)
            if not a.keep_models:
                shutil.rmtree(model_dir, ignore_errors=True)
            if r.returncode != 0:
                print(f"{s['name']}: zerons finetune failed:\n{r.stderr}", file=sys.stderr)
                continue
            with open(log, "w") as fh:
                fh.write(r.stdout + f"\nwall_s {time.time() - t0:.1f}\n")
        text = open(log).read()
        m = REST.search(text)
        if not m:
            print(f"{s['name']}: no rest-of-song scores in {log}", file=sys.stderr)
            continue
        v = [float(x) for x in m.groups()]
        t = TRAINED.search(text)
        rows[s["name"]] = {
            "f_before": v[0], "f_after": v[1], "cmlt_before": v[2], "cmlt_after": v[3],
            "amlt_before": v[4], "amlt_after": v[5], "f_continued_before": v[6],
            "f_continued_after": v[7], "cmlt_continued_before": v[8], "cmlt_continued_after": v[9],
            "train_s": float(t.group(1)) if t else None,
            # the app keeps the base active when the held-out beats say the new model is not better
            "kept_base": "NOT better on the held-out beats" in text,
        }
        d = DOWNBEAT.search(text)
        if d:
            # Issue 21: the bars on the rest, when the beat file numbers the beats.
            rows[s["name"]]["downbeat_f_before"] = float(d.group(1))
            rows[s["name"]]["downbeat_f_after"] = float(d.group(2))
        b = BARS.search(text)
        if b:
            rows[s["name"]]["bars_report"] = b.group(1)
        r = rows[s["name"]]
        print(f"{s['name']:40s} F {r['f_before']:.3f} → {r['f_after']:.3f}   continued "
              f"{r['f_continued_before']:.3f} → {r['f_continued_after']:.3f}"
              + (f"   downbeat F {r['downbeat_f_before']:.3f} → {r['downbeat_f_after']:.3f}" if d else ""))
    with open(os.path.join(a.out, "finetune.json"), "w") as fh:
        json.dump(rows, fh, indent=1)
    group_of = {s["name"]: s.get("genre_group") or "" for s in songs}
    if any(group_of.values()):
        groups = [(g, [k for k in rows if group_of.get(k) == g]) for g in sorted(set(group_of.values()))]
    else:
        groups = [(label, [k for k in rows if k.startswith(prefix)])
                  for label, prefix in (("planetblupi", "blupi"), ("MMA", "mma"), ("Frets on Fire", "fof"))]
    groups.append(("all", list(rows)))
    for label, keys in groups:
        if not keys:
            continue
        mean = {f: sum(rows[k][f] for k in keys) / len(keys) for f in rows[keys[0]]
                if f not in ("train_s", "kept_base", "bars_report", "downbeat_f_before", "downbeat_f_after")}
        guarded = [rows[k]["f_continued_before" if rows[k]["kept_base"] else "f_continued_after"] for k in keys]
        n_kept = sum(rows[k]["kept_base"] for k in keys)
        good = sum(rows[k]["f_continued_after"] >= 0.95 for k in keys)
        worse = [k for k in keys if rows[k]["f_continued_after"] < rows[k]["f_continued_before"] - 1e-9]
        print(f"mean {label} ({len(keys)}): F {mean['f_before']:.3f} → {mean['f_after']:.3f}, "
              f"CMLt {mean['cmlt_before']:.3f} → {mean['cmlt_after']:.3f}; continued F "
              f"{mean['f_continued_before']:.3f} → {mean['f_continued_after']:.3f}, CMLt "
              f"{mean['cmlt_continued_before']:.3f} → {mean['cmlt_continued_after']:.3f}; "
              f"{good} of {len(keys)} at F ≥ 0.95 (continued, fine-tuned); "
              f"{len(worse)} worse than before (continued){': ' + ', '.join(worse) if worse else ''}; "
              f"with the guard (base kept for {n_kept}): continued F {sum(guarded) / len(guarded):.3f}")
        db = [k for k in keys if "downbeat_f_after" in rows[k]]
        if db:
            worse_db = [k for k in db if rows[k]["downbeat_f_after"] < rows[k]["downbeat_f_before"] - 1e-9]
            print(f"  downbeats ({len(db)} numbered): F {sum(rows[k]['downbeat_f_before'] for k in db) / len(db):.3f} → "
                  f"{sum(rows[k]['downbeat_f_after'] for k in db) / len(db):.3f}; {len(worse_db)} worse"
                  f"{': ' + ', '.join(worse_db) if worse_db else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
