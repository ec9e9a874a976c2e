"""Regenerates tests/fixtures/downbeat_eval/cases.json (golden data for src/eval/downbeat.rs).

Run from the repository root with the baselines venv of ../shared/specs/baselines.md
(mir_eval 0.8.2, numpy), after make_downbeat_golden.py:

    ~/.cache/zerons/venv-baselines/bin/python scripts/golden/make_downbeat_eval_golden.py

Beat lists with positions (1 = downbeat) are taken from tests/fixtures/dbn_downbeat/cases.json
(madmom's downbeat tracker on the demo and the synthetic songs), plus hand-made variations
(a rotated bar phase everywhere or in the second half, jittered times, a shifted grid, an empty estimate). For each pair:
- `downbeat_f_measure`: mir_eval.beat.f_measure(trim_beats(reference downbeats),
  trim_beats(estimated downbeats)) with the default 70 ms window and 5 s trim;
- `position_accuracy`: both beat lists trimmed to >= 5 s, matched one to one within 70 ms by
  mir_eval.util.match_events; the fraction of estimated beats whose matched reference beat has
  the same position (0 without estimated beats);
- `beat_f_measure` (plain mir_eval.beat.f_measure on the trimmed beats) for context.
"""
import json
import os

import mir_eval
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures")


def downbeats(b):
    return np.array([t for t, p in b if p == 1], dtype=float)


def scores(ref, est):
    rt = np.array([t for t, _ in ref], dtype=float)
    et = np.array([t for t, _ in est], dtype=float)
    db_f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(downbeats(ref)),
                                   mir_eval.beat.trim_beats(downbeats(est)))
    rk = [i for i, (t, _) in enumerate(ref) if t >= 5.0]
    ek = [i for i, (t, _) in enumerate(est) if t >= 5.0]
    if ek and rk:
        pairs = mir_eval.util.match_events(rt[rk], et[ek], 0.07)
        good = sum(1 for i, j in pairs if ref[rk[i]][1] == est[ek[j]][1])
        acc = good / len(ek)
    else:
        acc = 0.0
    beat_f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(rt), mir_eval.beat.trim_beats(et))
    return float(db_f), float(acc), float(beat_f)


def main():
    src = json.load(open(os.path.join(ROOT, "dbn_downbeat", "cases.json")))["cases"]
    b = {k: [(t, int(p)) for t, p in v["beats_correct"]] for k, v in src.items()}
    rng = np.random.default_rng(21)
    demo = b["demo_fps100_bpb34"]
    pairs = {
        "demo_100_vs_62.5": (demo, b["demo_fps62.5_bpb34"]),
        "demo_vs_nocorrect": (demo, [(t, int(p)) for t, p in
                                     src["demo_fps100_bpb34"]["beats_nocorrect"]]),
        "demo_rotated_phase": (demo, [(t, p % 4 + 1) for t, p in demo]),
        "demo_as_three_four": (demo, [(t, i % 3 + 1) for i, (t, _) in enumerate(demo)]),
        "demo_jitter_50ms": (demo, [(t + rng.uniform(-0.05, 0.05), p) for t, p in demo]),
        "demo_jitter_90ms": (demo, [(t + rng.uniform(-0.09, 0.09), p) for t, p in demo]),
        "demo_second_half_rotated": (demo, [(t, p if t < 15 else p % 4 + 1) for t, p in demo]),
        "demo_shift_100ms": (demo, [(t + 0.1, p) for t, p in demo]),
        "demo_half_dropped": (demo, demo[::2]),
        "demo_empty_estimate": (demo, []),
        "waltz_100_vs_62.5": (b["waltz96_fps100_bpb34"], b["waltz96_fps62.5_bpb234"]),
        "rock_vs_rock_lambda30": (b["rock128_fps62.5_bpb34"],
                                  b["rock128_fps100_bpb34_lambda30_obs8_thr0"]),
    }
    out = {}
    for name, (ref, est) in pairs.items():
        db_f, acc, beat_f = scores(ref, est)
        out[name] = {"reference": [[t, p] for t, p in ref], "estimate": [[t, p] for t, p in est],
                     "downbeat_f_measure": db_f, "position_accuracy": acc,
                     "beat_f_measure": beat_f}
        print(name, round(db_f, 4), round(acc, 4), round(beat_f, 4))
    os.makedirs(os.path.join(ROOT, "downbeat_eval"), exist_ok=True)
    json.dump({"mir_eval": mir_eval.__version__, "numpy": np.__version__,
               "script": "scripts/golden/make_downbeat_eval_golden.py", "cases": out},
              open(os.path.join(ROOT, "downbeat_eval", "cases.json"), "w"), separators=(",", ":"))


if __name__ == "__main__":
    main()
