#!/usr/bin/env python3
"""Metrical-level study (issue 18): can the tracked beats' tempo level be fixed after decoding?

Most of lite v3's errors on the development benchmark are tempo octaves (beats at double or half
the annotated tempo). This study takes the beats the shipped DBN decodes (`net` in the dumps of
`examples/activation_study.rs`) and four candidates per song: keep, double (midpoints added), and
the two halves (every other beat, from beat 0 or 1). It reports, on a TRAIN dump (renders the
network never saw) and on the DEV dump (the development benchmark's dev split):
  1. which candidate is right (the one with the highest F, when it reaches 0.8) per band of the
     tracked tempo;
  2. a chooser trained on TRAIN (conditional logit over the four candidates: log tempo and its
     square, the network and the normalised flux at the candidate's beats and midpoints, a bias
     per kind), 5-fold cross-validated on TRAIN and scored on DEV;
  3. for the songs tracked at >= 170 BPM whose right candidate is a half: how often each curve
     (its mean at one half's beats against the other's) picks the right half; with --bands, the
     low/mid/high-band spectral flux of the full and the percussive (HPSS) signal (librosa), and
     with --bars DIR, the parity of the beats `zerons analyze` numbered 1 (its CSVs in DIR as
     NAME.csv; the bar classifier's downbeats).
Scores are mir_eval F after the 5 s trim. Run with the baselines venv (mir_eval, librosa).

Usage: scripts/level_study.py TRAIN_DUMP DEV_DUMP [--audio-train DIR --audio-dev DIR --bands]
       [--bars-dev DIR]
"""
import argparse
import glob
import json
import os

import mir_eval
import numpy as np

KINDS = ("keep", "double", "half0", "half1")


def sample(curve, fps, times, win=2):
    idx = np.round(np.asarray(times) * fps).astype(int)
    return np.array([curve[max(0, i - win):min(len(curve), i + win + 1)].max(initial=0.0) for i in idx])


def candidates(est):
    mids = (est[:-1] + est[1:]) / 2
    return {"keep": est, "double": np.sort(np.concatenate([est, mids])), "half0": est[0::2], "half1": est[1::2]}


def f_measure(ref, est):
    ref, est = mir_eval.beat.trim_beats(np.asarray(ref)), mir_eval.beat.trim_beats(np.asarray(est))
    return mir_eval.beat.f_measure(ref, est) if len(est) > 1 else 0.0


def features(d, kind, cand):
    fps, net = d["fps"], np.asarray(d["curve_net"])
    flux = np.asarray(d["curve_flux"])
    flux = flux / (np.quantile(flux, 0.99) + 1e-9)
    lb = np.log2(60 / np.median(np.diff(cand)) / 120)
    mids = (cand[:-1] + cand[1:]) / 2
    f = [lb, lb * lb]
    for c in (net, flux):
        on, mid = sample(c, fps, cand).mean(), sample(c, fps, mids).mean()
        f += [on, mid, on - mid]
    return np.array(f + [kind == "keep", kind == "double", kind.startswith("half")], float)


def load(dump):
    songs = []
    for p in sorted(glob.glob(os.path.join(dump, "*.json"))):
        d = json.load(open(p))
        est = np.asarray(d["net"])
        if len(est) < 8:
            continue
        cs = candidates(est)
        songs.append({"name": os.path.basename(p)[:-5], "d": d, "bpm": 60 / np.median(np.diff(est)),
                      "F": np.array([f_measure(d["reference"], cs[k]) for k in KINDS]),
                      "X": np.stack([features(d, k, cs[k]) for k in KINDS])})
    return songs


def train(songs, l2=1e-2, iters=3000, lr=0.1):
    ok = [s for s in songs if s["F"].max() >= 0.8]
    X = np.stack([s["X"] for s in ok])
    y = np.array([s["F"].argmax() for s in ok])
    flat = X.reshape(-1, X.shape[2])
    mu, sd = flat.mean(0), flat.std(0) + 1e-9
    mu[-3:], sd[-3:] = 0, 1
    Z, w = (X - mu) / sd, np.zeros(X.shape[2])
    for _ in range(iters):
        s = Z @ w
        p = np.exp(s - s.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        w -= lr * (np.einsum("nc,ncf->f", p - np.eye(4)[y], Z) / len(Z) + l2 * w)
    return lambda song: int((((song["X"] - mu) / sd) @ w).argmax())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train_dump")
    ap.add_argument("dev_dump")
    ap.add_argument("--bands", action="store_true")
    ap.add_argument("--audio-train")
    ap.add_argument("--audio-dev")
    ap.add_argument("--bars-dev")
    a = ap.parse_args()
    sets = {"train": load(a.train_dump), "dev": load(a.dev_dump)}
    print("1. right candidate by tracked tempo (songs whose best F >= 0.8)")
    for name, songs in sets.items():
        row = []
        for lo, hi in [(0, 90), (90, 130), (130, 170), (170, 190), (190, 999)]:
            sel = [s for s in songs if lo <= s["bpm"] < hi and s["F"].max() >= 0.8]
            c = np.bincount([min(int(s["F"].argmax()), 2) for s in sel], minlength=3)
            row.append(f"{lo}-{hi}: keep {c[0]} double {c[1]} half {c[2]}")
        print(f"  {name} ({len(songs)}): " + "; ".join(row))
    print("2. chooser (mean F: keep -> chosen)")
    tr = sets["train"]
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(tr))
    picks = np.zeros(len(tr), int)
    for fold in np.array_split(idx, 5):
        choose = train([tr[i] for i in np.setdiff1d(idx, fold)])
        for i in fold:
            picks[i] = choose(tr[i])
    print(f"  train, 5-fold: {np.mean([s['F'][0] for s in tr]):.3f} -> "
          f"{np.mean([s['F'][p] for s, p in zip(tr, picks)]):.3f}")
    choose = train(tr)
    dv = sets["dev"]
    print(f"  dev: {np.mean([s['F'][0] for s in dv]):.3f} -> {np.mean([s['F'][choose(s)] for s in dv]):.3f}")
    print("3. which half, for songs tracked >= 170 BPM whose right candidate is a half")
    for name, songs in sets.items():
        sel = [s for s in songs if s["bpm"] >= 170 and max(s["F"][2:]) >= 0.8]
        hits = {}
        for s in sel:
            d, est, truth = s["d"], np.asarray(s["d"]["net"]), int(s["F"][3] > s["F"][2])
            for key in ("curve_net", "curve_flux", "curve_anchor", "curve_postve"):
                if key in d:
                    c = np.asarray(d[key])
                    pick = int(sample(c, d["fps"], est[1::2]).mean() > sample(c, d["fps"], est[0::2]).mean())
                    hits.setdefault(key, []).append(pick == truth)
            audio = a.audio_train if name == "train" else a.audio_dev
            if a.bands and audio:
                import librosa
                y, sr = librosa.load(os.path.join(audio, s["name"] + ".flac"), sr=22050, mono=True)
                spec = np.abs(librosa.stft(y, n_fft=2048, hop_length=256))
                freqs = librosa.fft_frequencies(sr=sr, n_fft=2048)
                for src, m in (("full", spec), ("percussive", librosa.decompose.hpss(spec)[1])):
                    flux = np.maximum(0, np.diff(np.log1p(100 * m), axis=1))
                    for band, (lo, hi) in {"low": (0, 200), "mid": (200, 2000), "high": (2000, 12000)}.items():
                        f = flux[(freqs >= lo) & (freqs < hi)].sum(0)
                        pick = int(sample(f, sr / 256, est[1::2]).mean() > sample(f, sr / 256, est[0::2]).mean())
                        hits.setdefault(f"{src} {band}", []).append(pick == truth)
            if name == "dev" and a.bars_dev:
                t = np.loadtxt(os.path.join(a.bars_dev, s["name"] + ".csv"), delimiter=",", skiprows=1)
                times, pos = t[:, 0], t[:, 1].astype(int)
                # the analysed beats are the refined `net` beats: the parity of its downbeats
                par = np.bincount(np.where(pos == 1)[0] % 2, minlength=2)
                hits.setdefault("bar classifier", []).append(int(par[1] > par[0]) == truth)
        print(f"  {name} ({len(sel)} songs): " + ", ".join(f"{k} {np.mean(v):.2f}" for k, v in hits.items()))


if __name__ == "__main__":
    main()
