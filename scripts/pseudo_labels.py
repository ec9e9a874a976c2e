#!/usr/bin/env python3
"""Self-training data (issue 18 §3, `scripts/DEVSET.md` rule 16): excerpts of real, unlabelled
music whose beats three different trackers agree on, labelled with the shipped model's beats.

Every audio file under CORPUS_DIR (e.g. `scripts/build_corpus.sh` output; none of it in the
development benchmark) is tracked by `zerons analyze` three times: with the shipped model (A),
with a second model (B, default lite v3: a shorter receptive field, other training) and with the
spectral flux (no network). The file is cut into consecutive excerpts of `--excerpt-s`
seconds; an excerpt is kept when A's beats inside it agree with B's and with the flux's
(mir_eval F-measure, 70 ms, each ≥ `--min-f`) and A's tempo there lies within
`--min-bpm`..`--max-bpm`. At most `--max-per-file` excerpts per file, spread over it. Each kept
excerpt is written as audio (mono FLAC) with A's beats as its labels, and listed in
OUT_DIR/manifest.csv in the columns `zerons train --manifest` reads.

No other tool's output becomes a target (model-v3.md §4): the labels are our own model's beats,
the other two trackers only filter.

Usage:
  scripts/pseudo_labels.py CORPUS_DIR OUT_DIR [--zerons BIN] [--model-a assets/model]
                           [--model-b assets/model-v3] [--excerpt-s 30] [--min-f 0.95]
                           [--max-per-file 4]
Needs ffmpeg and mir_eval (the baselines' venv). Resumes: trackers' outputs are kept.
"""
import argparse
import csv
import os
import re
import subprocess
import sys

import numpy as np
import mir_eval

AUDIO = re.compile(r"\.(flac|ogg|mp3|wav)$", re.I)


def read_times(path):
    out = []
    with open(path) as fh:
        for line in fh:
            parts = line.replace(",", " ").split()
            if not parts:
                continue
            try:
                out.append(float(parts[0]))
            except ValueError:
                continue  # a header
    return np.array(out)


def track(zerons, files, out_dir, extra):
    """Runs `zerons analyze` on the files not tracked yet, in batches (one model load each)."""
    os.makedirs(out_dir, exist_ok=True)
    todo = [f for f in files if not os.path.exists(beats_path(out_dir, f))]
    for i in range(0, len(todo), 40):
        batch = todo[i:i + 40]
        r = subprocess.run([zerons, "analyze", "--format", "beats", "-o", out_dir] + extra + batch,
                           capture_output=True, text=True)
        if r.returncode != 0:
            # one bad file must not lose the batch: retry one by one
            for f in batch:
                r1 = subprocess.run([zerons, "analyze", "--format", "beats", "-o",
                                     beats_path(out_dir, f)] + extra + [f],
                                    capture_output=True, text=True)
                if r1.returncode != 0:
                    print(f"skipped {f}: {r1.stderr.strip()[:200]}", file=sys.stderr)
                    open(beats_path(out_dir, f), "w").close()
        print(f"  {out_dir}: {min(i + 40, len(todo))} of {len(todo)}", file=sys.stderr)


def beats_path(out_dir, f):
    return os.path.join(out_dir, os.path.splitext(os.path.basename(f))[0] + ".beats")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--zerons", default="target/release/zerons")
    ap.add_argument("--model-a", default="assets/model")
    ap.add_argument("--model-b", default="assets/model-v3")
    ap.add_argument("--excerpt-s", type=float, default=30.0)
    ap.add_argument("--min-f", type=float, default=0.95)
    ap.add_argument("--min-bpm", type=float, default=60.0)
    ap.add_argument("--max-bpm", type=float, default=200.0)
    ap.add_argument("--max-per-file", type=int, default=4)
    a = ap.parse_args()

    # Unique flat names: PACKAGE__path_inside.ext (symlinks), so outputs never collide.
    links = os.path.join(a.out, "links")
    os.makedirs(links, exist_ok=True)
    files = []
    for root, _, names in os.walk(a.corpus):
        for n in sorted(names):
            src = os.path.join(root, n)
            rel = os.path.relpath(src, a.corpus)
            if not AUDIO.search(n) or any(p.startswith(".") for p in rel.split(os.sep)):
                continue  # hidden folders hold downloads, not the corpus
            flat = re.sub(r"[^A-Za-z0-9._-]+", "_", rel.replace(os.sep, "__"))
            dst = os.path.join(links, flat)
            if not os.path.exists(dst):
                os.symlink(os.path.abspath(src), dst)
            files.append(dst)
    files.sort()
    print(f"{len(files)} audio files", file=sys.stderr)
    systems = {
        "a": ["--model", a.model_a],
        "b": ["--model", a.model_b],
        "flux": ["--activation", "flux"],
    }
    for name, extra in systems.items():
        track(a.zerons, files, os.path.join(a.out, "beats", name), extra)

    audio_out = os.path.join(a.out, "audio")
    os.makedirs(audio_out, exist_ok=True)
    rows, seen_s, kept_s = [], 0.0, 0.0
    for f in files:
        b = {k: read_times(beats_path(os.path.join(a.out, "beats", k), f)) for k in systems}
        if len(b["a"]) < 8:
            continue
        end = b["a"][-1]
        seen_s += end
        ok = []
        for k in range(int(end // a.excerpt_s)):
            t0, t1 = k * a.excerpt_s, (k + 1) * a.excerpt_s
            inside = {s: v[(v >= t0) & (v < t1)] - t0 for s, v in b.items()}
            ref = inside["a"]
            if len(ref) < 8:
                continue
            bpm = 60.0 / float(np.median(np.diff(ref)))
            if not a.min_bpm <= bpm <= a.max_bpm:
                continue
            fb = mir_eval.beat.f_measure(ref, inside["b"])
            ff = mir_eval.beat.f_measure(ref, inside["flux"])
            if fb >= a.min_f and ff >= a.min_f:
                ok.append((k, t0, ref, bpm))
        if len(ok) > a.max_per_file:
            idx = np.linspace(0, len(ok) - 1, a.max_per_file).round().astype(int)
            ok = [ok[i] for i in sorted(set(idx))]
        stem = os.path.splitext(os.path.basename(f))[0]
        for k, t0, ref, bpm in ok:
            name = f"ssl-{stem}-{k:03d}"
            wav = os.path.join(audio_out, name + ".flac")
            lab = os.path.join(audio_out, name + ".beats")
            if not os.path.exists(wav):
                r = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss",
                                    str(t0), "-t", str(a.excerpt_s), "-i", f, "-ac", "1", "-ar",
                                    "22050", wav + ".tmp.flac"], capture_output=True, text=True)
                if r.returncode != 0:
                    # e.g. an Ogg stream ffmpeg cannot parse that the engine's decoder reads
                    print(f"skipped {f} at {t0:.0f} s: ffmpeg: {r.stderr.strip()[-200:]}",
                          file=sys.stderr)
                    continue
                os.replace(wav + ".tmp.flac", wav)
            with open(lab, "w") as fh:
                fh.writelines(f"{t:.4f}\n" for t in ref)
            kept_s += a.excerpt_s
            rows.append({"name": name, "source": "ssl", "song": stem,
                         "audio": os.path.relpath(wav, a.out), "beats": os.path.relpath(lab, a.out),
                         "duration_s": f"{a.excerpt_s:.3f}", "n_beats": len(ref),
                         "tempo_min_bpm": f"{bpm:.2f}", "tempo_max_bpm": f"{bpm:.2f}",
                         "package": os.path.basename(f).split("__")[0]})
    with open(os.path.join(a.out, "manifest.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["name"])
        w.writeheader()
        w.writerows(rows)
    songs = len({r["song"] for r in rows})
    print(f"kept {len(rows)} excerpts of {songs} files: {kept_s / 3600:.2f} h of "
          f"{seen_s / 3600:.2f} h tracked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
