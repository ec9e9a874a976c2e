"""Regenerates tests/fixtures/hpss/ and tests/fixtures/vqt/noise_* (run from the repo root).

Needs librosa 0.11 (with soxr) and numpy:  python3 scripts/golden/make_dsp_fixtures.py

hpss/: librosa.effects.hpss with its defaults (kernel 31, power 2, margin 1, n_fft 2048,
       hop 512, Hann, centred) on a 1.5 s synthetic 16 kHz signal: two steady tones plus a
       click every 0.25 s. Saves the input and both outputs as float32 .npy.
vqt/noise_*: librosa.vqt with the ZeroNS parameters on 2.3 s of seeded white noise with an
       impulse, 36803 samples (not a multiple of the hop), to check edges and frame count.
"""
import json
import os

import librosa
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures")


def hpss_fixture():
    out = os.path.join(ROOT, "hpss")
    os.makedirs(out, exist_ok=True)
    sr = 16000
    n = int(1.5 * sr)
    t = np.arange(n) / sr
    y = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.2 * np.sin(2 * np.pi * 1234.5 * t)
    clicks = np.zeros(n)
    clicks[(np.arange(0.1, 1.5, 0.25) * sr).astype(int)] = 1.0
    y += np.convolve(clicks, np.hanning(32), mode="same")
    y = y.astype(np.float32)
    harm, perc = librosa.effects.hpss(y)
    np.save(os.path.join(out, "input.npy"), y)
    np.save(os.path.join(out, "harmonic.npy"), harm.astype(np.float32))
    np.save(os.path.join(out, "percussive.npy"), perc.astype(np.float32))
    json.dump({"librosa": librosa.__version__, "sr": sr, "call": "librosa.effects.hpss(y)",
               "defaults": {"kernel_size": 31, "power": 2.0, "margin": 1.0, "n_fft": 2048,
                            "hop_length": 512, "window": "hann", "center": True}},
              open(os.path.join(out, "meta.json"), "w"), indent=1)


def vqt_noise_fixture():
    out = os.path.join(ROOT, "vqt")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2024)
    y = (0.1 * rng.standard_normal(36803)).astype(np.float32)
    y[20000] += 1.0
    V = librosa.vqt(y=y, sr=16000, hop_length=256, fmin=librosa.note_to_hz("C0"),
                    n_bins=96, bins_per_octave=12)
    L = np.log(np.abs(V) + 1e-9).astype(np.float32)
    np.save(os.path.join(out, "noise_signal_16k.npy"), y)
    np.save(os.path.join(out, "noise_log_vqt.npy"), np.ascontiguousarray(L))


if __name__ == "__main__":
    hpss_fixture()
    vqt_noise_fixture()
