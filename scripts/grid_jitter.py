#!/usr/bin/env python3
"""Beat timing and grid jitter on the development benchmark's constant-tempo songs (issue 19).

For every song of the split whose reference beats have one tempo (reference inter-beat intervals
within --steady-ms of each other), runs `zerons analyze` three ways:
  frames      --no-refine: beats on the activation's 16-ms frames (before issue 19)
  refined     the default: each beat refined to the activation's peak between frames
  straight    the refined beats moved onto the straight grid the DJ exports write (`zerons export
              --straighten` of the refined estimate, the same as `analyze --straighten`; constant
              tempo per section; --grid-tolerance-ms, default 25)
and reports, per variant, means over the songs:
  F           mir_eval F-measure (`zerons eval`, 5 s trim, ±70 ms)
  |err| ms    mean absolute distance from each reference beat (after the 5 s trim) to the nearest
              estimated beat, over the reference beats that have one within 70 ms
  err sd ms   the spread of those signed errors (a constant offset removed)
  jitter ms   standard deviation of the estimate's inter-beat intervals, over the intervals within
              ±20 % of the song's median interval (skipped or doubled beats are not jitter); the
              reference's is ~0 on these songs
  sections    tempo sections of the straight grid (from the interval changes)

The songs whose reference tempo changes are the guard: their refined and straight beats' F,
timing error and number of sections are reported too (a grid rule must not cost them).

Estimates are cached in OUT_DIR (delete a file to recompute it).

Usage: scripts/grid_jitter.py DEVSET_DIR OUT_DIR [--split dev] [--zerons BIN] [--steady-ms 0.5]
       [--grid-tolerance-ms 25] [--per-song]
"""
import argparse
import csv
import json
import os
import subprocess
import sys

import numpy as np

VARIANTS = (("frames", ["--no-refine"]), ("refined", []), ("straight", ["--straighten"]))
WINDOW_S = 0.07
TRIM_S = 5.0


def load_times(path):
    out = []
    with open(path) as fh:
        for line in fh:
            f = line.replace(",", " ").split()
            if f:
                try:
                    out.append(float(f[0]))
                except ValueError:
                    pass  # a header
    return np.array(out)


def interval_jitter_ms(times):
    ibi = np.diff(times)
    if len(ibi) < 4:
        return float("nan")
    med = np.median(ibi)
    keep = ibi[np.abs(ibi - med) <= 0.2 * med]
    return float(np.std(keep) * 1e3) if len(keep) >= 4 else float("nan")


def timing_errors_ms(ref, est):
    ref = ref[ref >= TRIM_S]
    est = est[est >= TRIM_S]
    if len(ref) == 0 or len(est) == 0:
        return np.zeros(0)
    idx = np.clip(np.searchsorted(est, ref), 1, len(est) - 1) if len(est) > 1 else np.zeros(len(ref), int)
    cand = np.stack([est[idx - 1], est[idx]]) if len(est) > 1 else est[idx][None, :]
    nearest = cand[np.argmin(np.abs(cand - ref), axis=0), np.arange(len(ref))]
    err = nearest - ref
    return err[np.abs(err) <= WINDOW_S] * 1e3


def sections(times):
    """Constant-interval runs (interval changes above 20 µs: the CSV's µs rounding is not one)."""
    ibi = np.diff(times)
    return 1 + int(np.sum(np.abs(np.diff(ibi)) > 2e-5)) if len(ibi) > 1 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("devset")
    ap.add_argument("out")
    ap.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    ap.add_argument("--zerons", default="target/release/zerons")
    ap.add_argument("--steady-ms", type=float, default=0.5,
                    help="a song is constant-tempo when its reference intervals lie within this of each other")
    ap.add_argument("--grid-tolerance-ms", type=float, default=25.0)
    ap.add_argument("--per-song", action="store_true")
    ap.add_argument("--good-f", type=float, default=0.95,
                    help="also report the songs whose refined beats reach this F (tracked right)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.split != "dev":
        # The straight grid's slip rule was settled on dev; test scores it once (scripts/DEVSET.md).
        import time
        with open(os.path.join(a.out, "test_runs.log"), "a") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}\tgrid_jitter split={a.split}\n")
    with open(os.path.join(a.devset, "devset.csv")) as fh:
        rows = [r for r in csv.DictReader(fh) if a.split == "all" or (r.get("split") or "dev") == a.split]
    songs, varying = [], []
    for r in rows:
        ref = load_times(os.path.join(a.devset, r["beats"]))
        ibi = np.diff(ref[ref >= TRIM_S])
        if len(ibi) >= 8 and (ibi.max() - ibi.min()) * 1e3 <= a.steady_ms:
            songs.append((r, ref))
        elif len(ibi) >= 8:
            varying.append((r, ref))
    if not songs:
        sys.exit("grid_jitter: no constant-tempo song in the split")
    table, vtable = {}, {}
    for r, ref in songs + varying:
        steady = any(r is x for x, _ in songs)
        for name, extra in VARIANTS if steady else VARIANTS[1:]:
            dst = os.path.join(a.out, f"{r['name']}.{name}.csv")
            if not os.path.exists(dst):
                if name == "straight":
                    # The refined beats put on the straight grid: what `analyze --straighten`
                    # writes, without analysing the song again.
                    src = os.path.join(a.out, f"{r['name']}.refined.csv")
                    cmd = [a.zerons, "export", src, "--straighten", "-o", dst + ".tmp.csv",
                           "--grid-tolerance-ms", str(a.grid_tolerance_ms)]
                else:
                    cmd = [a.zerons, "analyze", os.path.join(a.devset, r["audio"]), "-o", dst + ".tmp.csv",
                           "--grid-tolerance-ms", str(a.grid_tolerance_ms)] + extra
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode != 0:
                    sys.exit(f"grid_jitter: {' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
                os.replace(dst + ".tmp.csv", dst)
            est = load_times(dst)
            ev = subprocess.run([a.zerons, "eval", os.path.join(a.devset, r["beats"]), dst, "--json"],
                                capture_output=True, text=True, check=True)
            err = timing_errors_ms(ref, est)
            (table if steady else vtable).setdefault(r["name"], {})[name] = {
                "f": json.loads(ev.stdout)["f_measure"],
                "abs_err_ms": float(np.mean(np.abs(err))) if len(err) else float("nan"),
                "err_sd_ms": float(np.std(err)) if len(err) > 1 else float("nan"),
                "jitter_ms": interval_jitter_ms(est),
                "sections": sections(est),
                "matched": len(err),
            }
        (table if steady else vtable)[r["name"]]["reference"] = {
            "jitter_ms": interval_jitter_ms(ref), "group": r.get("genre_group", "")}
    json.dump(table, open(os.path.join(a.out, f"grid-jitter-{a.split}.json"), "w"), indent=1)
    json.dump(vtable, open(os.path.join(a.out, f"grid-jitter-{a.split}-varying.json"), "w"), indent=1)

    minutes = sum(float(r.get("duration_s") or 0) for r, _ in songs) / 60
    print(f"split {a.split}: {len(songs)} constant-tempo songs of {len(rows)} ({minutes:.0f} min); "
          f"grid tolerance {a.grid_tolerance_ms:g} ms; means over songs (median in brackets)")
    print()
    print("| beats | F | abs timing error (ms) | error sd (ms) | interval jitter (ms) | songs with jitter < 2 ms |")
    print("|---|---|---|---|---|---|")
    for name, _ in VARIANTS:
        col = [table[k][name] for k in table]

        def stat(key):
            v = np.array([c[key] for c in col], float)
            v = v[np.isfinite(v)]
            return f"{v.mean():.2f} ({np.median(v):.2f})" if len(v) else "—"

        f = np.mean([c["f"] for c in col])
        low = sum(1 for c in col if np.isfinite(c["jitter_ms"]) and c["jitter_ms"] < 2.0)
        print(f"| {name} | {f:.3f} | {stat('abs_err_ms')} | {stat('err_sd_ms')} | {stat('jitter_ms')} | "
              f"{low} of {len(col)} |")
    ref_j = np.array([table[k]["reference"]["jitter_ms"] for k in table])
    print(f"| reference | 1 | 0 | 0 | {np.nanmean(ref_j):.2f} | |")
    good = [k for k in table if table[k]["refined"]["f"] >= a.good_f]
    print()
    print(f"songs tracked right (refined F >= {a.good_f}): {len(good)} of {len(table)}")
    print()
    print("| beats | F | abs timing error (ms) | error sd (ms) | interval jitter (ms) | songs with jitter < 2 ms |")
    print("|---|---|---|---|---|---|")
    for name, _ in VARIANTS:
        col = [table[k][name] for k in good]
        if not col:
            break
        j = np.array([c["jitter_ms"] for c in col], float)
        e = np.array([c["abs_err_ms"] for c in col], float)
        s = np.array([c["err_sd_ms"] for c in col], float)
        print(f"| {name} | {np.mean([c['f'] for c in col]):.3f} | {np.nanmean(e):.2f} ({np.nanmedian(e):.2f}) | "
              f"{np.nanmean(s):.2f} ({np.nanmedian(s):.2f}) | {np.nanmean(j):.2f} ({np.nanmedian(j):.2f}) | "
              f"{int(np.sum(j < 2.0))} of {len(col)} |")
    if vtable:
        # The guard: straightening must not cost the songs whose tempo really changes.
        print()
        print(f"songs whose reference tempo changes (not constant): {len(vtable)}")
        print()
        print("| beats | F | abs timing error (ms) | sections |")
        print("|---|---|---|---|")
        for name, _ in VARIANTS[1:]:
            col = [vtable[k][name] for k in vtable]
            e = np.array([c["abs_err_ms"] for c in col], float)
            print(f"| {name} | {np.mean([c['f'] for c in col]):.3f} | {np.nanmean(e):.2f} ({np.nanmedian(e):.2f}) | "
                  f"{np.mean([c['sections'] for c in col]):.1f} |")
    if a.per_song:
        print()
        print("| song | group | " + " | ".join(f"{n}: F / abs err / jitter" for n, _ in VARIANTS) + " | sections |")
        print("|---|---|" + "---|" * (len(VARIANTS) + 1))
        for k, v in table.items():
            cells = [f"{v[n]['f']:.3f} / {v[n]['abs_err_ms']:.1f} / {v[n]['jitter_ms']:.2f}" for n, _ in VARIANTS]
            print(f"| {k} | {v['reference']['group']} | " + " | ".join(cells) + f" | {v['straight']['sections']} |")


if __name__ == "__main__":
    sys.exit(main())
