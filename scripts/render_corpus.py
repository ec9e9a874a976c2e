#!/usr/bin/env python3
"""Renders the v3 training corpus: songs with exact beats and downbeats (issue 18, item 2).

Resumable: every item (one song x one variation) is written as NAME.flac + NAME.beats under
OUT_DIR/audio/ and then appended as one row to OUT_DIR/manifest.csv; an item whose .beats file
exists is skipped, so the job can be killed at any moment and started again with the same command.
Items are visited round-robin (every song's variant 0 first, then every song's variant 1, ...), so
a partial corpus is as broad as possible. Recipe, sources and licences: scripts/CORPUS_V3.md and
assets/CORPUS_LICENCES.md. Never write into the repository.

Sources (--sources, comma-separated):
  freedoom  Freedoom MIDI (/work/shared/data/freedoom-midi), kept if the drum hits sit on the grid
  gmd       Groove MIDI Dataset train+validation "beat" files (/work/shared/data/groove-midi) with
            generated MMA accompaniment at the file's tempo; beats = the click (tempo map)
  mma       songs generated from MMA's groove library (not the development set's grooves)
  tracker   tracker modules from Debian game-data packages, rendered with libopenmpt (row times)

Per item, seeded by its name: tempo x0.8-1.25 and transposition (-5..+6) at the MIDI level,
melodic sound font and drum kit drawn from the training sound fonts (the development set's
MuseScore General is never used here), drum gain (including none), and EQ, compression,
distortion, reverb and noise applied with numpy/scipy. Output: 16 kHz mono 16-bit FLAC.

Usage: render_corpus.py OUT_DIR [--sources freedoom,gmd,mma] [--variants-freedoom 6] ...
       render_corpus.py OUT_DIR --stats
"""
from __future__ import annotations

import argparse
import csv
import ctypes
import hashlib
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido
import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve, lfilter, resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devset import (DEVSET_GROOVE_FILES, TempoMap, flatten_tempo, groove_files,  # noqa: E402
                    meta_events, midi_notes, mma_script)

SR = 16000          # the network's rate
RENDER_SR = 22050   # fluidsynth's rate (then resampled to SR)
DRUM_CH = 9
DATA = Path(os.environ.get("ZERONS_DATA", "/work/shared/data"))
FREEDOOM_DIR = DATA / "freedoom-midi" / "musics"
GMD_DIR = DATA / "groove-midi" / "groove"
MMA_HOME = Path(os.environ.get("MMA_HOME", "/usr/share/mma"))
MMA_BIN = Path(os.environ.get("MMA_BIN", "/usr/bin/mma"))
SF2 = Path("/usr/share/sounds/sf2")
SF3 = Path("/usr/share/sounds/sf3")

# Training sound fonts (Debian package in brackets). MuseScore General (musescore-general-soundfont*)
# is reserved for the development set's renders and is never used here.
MELODIC_FONTS = [
    ("FluidR3_GM", SF2 / "FluidR3_GM.sf2", 4),          # fluid-soundfont-gm, MIT
    ("FluidR3Mono_GM", SF3 / "FluidR3Mono_GM.sf3", 2),  # fluidr3mono-gm-soundfont, MIT
    ("TimGM6mb", SF2 / "TimGM6mb.sf2", 2),              # timgm6mb-soundfont, GPL-2
    ("sf_GMbank", SF2 / "sf_GMbank.sf2", 2),            # csound-soundfont, public domain / LGPL (see licences)
    ("OPL-3_FM", SF2 / "OPL-3_FM_128M.sf2", 1),         # opl3-soundfont, CC BY-SA 4.0 (FM: chiptune-like)
]
# Drum kits: (name, sound font, bank, program, on the drum channel?)
DRUM_KITS = [
    ("FluidR3:Standard", SF2 / "FluidR3_GM.sf2", 128, 0, True),
    ("FluidR3:Room", SF2 / "FluidR3_GM.sf2", 128, 8, True),
    ("FluidR3:Power", SF2 / "FluidR3_GM.sf2", 128, 16, True),
    ("FluidR3:Electronic", SF2 / "FluidR3_GM.sf2", 128, 24, True),
    ("FluidR3:TR-808", SF2 / "FluidR3_GM.sf2", 128, 25, True),
    ("FluidR3:Jazz", SF2 / "FluidR3_GM.sf2", 128, 32, True),
    ("FluidR3:Brush", SF2 / "FluidR3_GM.sf2", 128, 40, True),
    ("TimGM6mb:Standard", SF2 / "TimGM6mb.sf2", 128, 0, True),
    ("TimGM6mb:Power", SF2 / "TimGM6mb.sf2", 128, 16, True),
    ("sf_GMbank:Standard", SF2 / "sf_GMbank.sf2", 128, 0, True),
    ("sf_GMbank:Room", SF2 / "sf_GMbank.sf2", 128, 8, True),
    ("sf_GMbank:Electronic", SF2 / "sf_GMbank.sf2", 128, 24, True),
    ("sf_GMbank:Jazz", SF2 / "sf_GMbank.sf2", 128, 32, True),
    ("OPL-3_FM:Standard", SF2 / "OPL-3_FM_128M.sf2", 128, 0, True),
    # avldrums.lv2-soundfont: real multi-velocity sampled kits (one preset, bank 0 program 0)
    ("AVL:BlackPearl", SF2 / "Black_Pearl_4_LV2.sf2", 0, 0, False),
    ("AVL:RedZeppelin", SF2 / "Red_Zeppelin_4_LV2.sf2", 0, 0, False),
]
DRUM_KIT_WEIGHTS = [2, 1, 1, 1, 1, 1, 0.5, 1, 0.5, 1, 0.5, 0.5, 0.5, 0.5, 3, 3]

LICENCES = {
    "freedoom": ("BSD-3-Clause-style (Freedoom project)", "Freedoom contributors, see freedoom-midi/CREDITS"),
    "gmd": ("CC-BY-4.0 (drums) + GPL-2+ (MMA accompaniment patterns)",
            "Groove MIDI Dataset: Gillick, Roberts, Engel, Eck, Bamman, ICML 2019; MMA: Bob van der Poel"),
    "mma": ("GPL-2+ (MMA groove library)", "MMA, Bob van der Poel"),
    "tracker": ("see the Debian package's copyright file", "per module, see CORPUS_LICENCES.md"),
}
FONT_LICENCES = {
    "FluidR3_GM": "MIT", "FluidR3Mono_GM": "MIT", "TimGM6mb": "GPL-2", "sf_GMbank": "csound-soundfont (see CORPUS_LICENCES.md)",
    "OPL-3_FM": "CC-BY-SA-4.0", "AVL": "GPL-2+ (avldrums)", "libopenmpt": "-",
}

MANIFEST_FIELDS = ["name", "source", "song", "variant", "audio", "beats", "duration_s", "n_beats",
                   "n_downbeats", "tempo_min_bpm", "tempo_max_bpm", "meters", "tempo_factor", "transpose",
                   "melodic_font", "drum_kit", "drum_gain_db", "effects", "licence", "attribution", "fonts_licence",
                   "render_s"]


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S "), msg, file=sys.stderr, flush=True)


def seeded(name: str) -> random.Random:
    return random.Random(int(hashlib.sha256(name.encode()).hexdigest()[:16], 16))


# ----------------------------------------------------------------------------- beats from MIDI


class MeterError(ValueError):
    pass


def time_signatures(mid: mido.MidiFile):
    sigs = [(0, 4, 4)]
    for t, msg in meta_events(mid, "time_signature"):
        if t == sigs[-1][0]:
            sigs[-1] = (t, msg.numerator, msg.denominator)
        elif (msg.numerator, msg.denominator) != sigs[-1][1:]:
            sigs.append((t, msg.numerator, msg.denominator))
    return sigs


def beat_unit(num: int, den: int, tpb: int) -> tuple[float, int]:
    """(ticks per beat, beats per bar) of a meter: x/4 -> quarter notes; x/2 -> quarters, 2 per
    half note; compound 6/8, 9/8, 12/8 (and 3/8) -> dotted quarters. Irregular x/8 and x/16 meters
    (5/8, 7/8, 7/16, ...) have no single beat length: MeterError."""
    if den == 4:
        return float(tpb), num
    if den == 2:
        return float(tpb), num * 2
    if den == 8 and num % 3 == 0:
        return 1.5 * tpb, max(1, num // 3)
    raise MeterError(f"{num}/{den}")


def midi_beats(mid: mido.MidiFile, start_tick: int, end_tick: int):
    """Beats (seconds, position in bar) of every beat of the time-signature grid from tick 0 whose
    tick lies in [start_tick, end_tick]. Each time signature event starts a bar."""
    tmap = TempoMap(mid)
    sigs = time_signatures(mid)
    out, meters = [], set()
    for i, (t0, num, den) in enumerate(sigs):
        t1 = sigs[i + 1][0] if i + 1 < len(sigs) else end_tick + 1
        if t1 <= start_tick or t0 > end_tick:
            if t0 <= end_tick:
                beat_unit(num, den, mid.ticks_per_beat)  # an irregular meter anywhere still fails
            continue
        unit, per_bar = beat_unit(num, den, mid.ticks_per_beat)
        meters.add(f"{num}/{den}")
        k = 0
        while True:
            tick = t0 + k * unit
            if tick >= t1 or tick > end_tick:
                break
            if tick >= start_tick - 1e-9:
                out.append((tmap.seconds(tick), k % per_bar + 1))
            k += 1
    return out, tmap, sorted(meters)


def scale_tempo(mid: mido.MidiFile, factor: float) -> mido.MidiFile:
    """A copy played `factor` times faster (every set_tempo divided by factor; a file with none gets
    one at tick 0)."""
    out = mido.MidiFile(type=mid.type, ticks_per_beat=mid.ticks_per_beat)
    has_tempo = False
    for tr in mid.tracks:
        new = mido.MidiTrack()
        for msg in tr:
            if msg.is_meta and msg.type == "set_tempo":
                has_tempo = True
                new.append(msg.copy(tempo=max(1, int(round(msg.tempo / factor)))))
            else:
                new.append(msg)
        out.tracks.append(new)
    if not has_tempo:
        out.tracks[0].insert(0, mido.MetaMessage("set_tempo", tempo=int(round(500000 / factor)), time=0))
    return out


def transpose(mid: mido.MidiFile, semis: int) -> mido.MidiFile:
    out = mido.MidiFile(type=mid.type, ticks_per_beat=mid.ticks_per_beat)
    for tr in mid.tracks:
        new = mido.MidiTrack()
        for msg in tr:
            if msg.type in ("note_on", "note_off") and msg.channel != DRUM_CH:
                n = msg.note + semis
                while n > 127:
                    n -= 12
                while n < 0:
                    n += 12
                msg = msg.copy(note=n)
            new.append(msg)
        out.tracks.append(new)
    return out


def split_channels(mid: mido.MidiFile, drums: bool, kit=None) -> mido.MidiFile:
    """Only the drum channel (drums=True) or only the others. For a drum kit on a melodic preset
    (AVL), drum notes move to channel 0 with that program and their note-offs are delayed so the
    one-shot samples ring out; for a GM kit, a program change selects the kit on channel 10."""
    out = mido.MidiFile(type=mid.type, ticks_per_beat=mid.ticks_per_beat)
    for i, tr in enumerate(mid.tracks):
        events = []
        t = 0
        for msg in tr:
            t += msg.time
            is_drum = (not msg.is_meta) and hasattr(msg, "channel") and msg.channel == DRUM_CH
            if not msg.is_meta and hasattr(msg, "channel") and is_drum != drums:
                continue
            if drums and kit is not None and is_drum:
                if msg.type == "program_change" or (msg.type == "control_change" and msg.control in (0, 32)):
                    continue
                if not kit[4]:
                    msg = msg.copy(channel=0)
                    if msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0):
                        t_off = t + 2 * mid.ticks_per_beat
                        events.append((t_off, msg))
                        continue
            events.append((t, msg))
        if drums and kit is not None and i == len(mid.tracks) - 1:
            ch = DRUM_CH if kit[4] else 0
            events.insert(0, (0, mido.Message("control_change", channel=ch, control=0, value=kit[2] if kit[2] < 128 else 0)))
            events.insert(1, (0, mido.Message("program_change", channel=ch, program=kit[3])))
        events.sort(key=lambda e: e[0])
        new = mido.MidiTrack()
        last = 0
        for tt, msg in events:
            new.append(msg.copy(time=tt - last))
            last = tt
        out.tracks.append(new)
    return out


def terminate_notes(mid: mido.MidiFile) -> mido.MidiFile:
    """A copy with "all notes off" and "all sound off" on every channel one beat after the last
    event: fluidsynth's player only finishes when no voice sounds, so a note left on over a looped
    sample (e.g. MuseScore General's pads) would render forever."""
    out = mido.MidiFile(type=mid.type, ticks_per_beat=mid.ticks_per_beat)
    end = max(sum(m.time for m in tr) for tr in mid.tracks) + mid.ticks_per_beat
    for i, tr in enumerate(mid.tracks):
        new = mido.MidiTrack(m for m in tr if m.type != "end_of_track")
        if i == len(mid.tracks) - 1:
            t = sum(m.time for m in new)
            for ch in range(16):
                new.append(mido.Message("control_change", channel=ch, control=123, value=0, time=max(0, end - t) if ch == 0 else 0))
                new.append(mido.Message("control_change", channel=ch, control=120, value=0, time=0))
        out.tracks.append(new)
    return out


def fluidsynth(mid: mido.MidiFile, font: Path, reverb: bool, chorus: bool) -> np.ndarray:
    """Renders a MIDI file (re-timed to one tempo first: fluidsynth drifts on tempo maps, see
    DEVSET.md) to mono float at RENDER_SR."""
    with tempfile.TemporaryDirectory() as tmp:
        m, w = Path(tmp) / "x.mid", Path(tmp) / "x.wav"
        terminate_notes(flatten_tempo(mid)).save(str(m))
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(RENDER_SR), "-O", "float", "-T", "wav",
                        "-R", "1" if reverb else "0", "-C", "1" if chorus else "0", "-F", str(w), str(font), str(m)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=max(300.0, 3 * mid.length))
        y, sr = sf.read(str(w), dtype="float32", always_2d=True)
    return y.mean(axis=1)


def to_sr(y: np.ndarray) -> np.ndarray:
    return resample_poly(y, 320, 441).astype(np.float32)  # 22050 -> 16000


# ----------------------------------------------------------------------------- effects (label-exact)


def biquad(kind: str, f0: float, gain_db: float, q: float = 0.707):
    """RBJ cookbook biquad coefficients at SR."""
    a_ = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * min(f0, SR * 0.45) / SR
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / (2 * q)
    if kind == "peak":
        b = [1 + alpha * a_, -2 * cw, 1 - alpha * a_]
        a = [1 + alpha / a_, -2 * cw, 1 - alpha / a_]
    elif kind in ("lowshelf", "highshelf"):
        s = 2 * math.sqrt(a_) * alpha
        if kind == "lowshelf":
            b = [a_ * ((a_ + 1) - (a_ - 1) * cw + s), 2 * a_ * ((a_ - 1) - (a_ + 1) * cw), a_ * ((a_ + 1) - (a_ - 1) * cw - s)]
            a = [(a_ + 1) + (a_ - 1) * cw + s, -2 * ((a_ - 1) + (a_ + 1) * cw), (a_ + 1) + (a_ - 1) * cw - s]
        else:
            b = [a_ * ((a_ + 1) + (a_ - 1) * cw + s), -2 * a_ * ((a_ - 1) + (a_ + 1) * cw), a_ * ((a_ + 1) + (a_ - 1) * cw - s)]
            a = [(a_ + 1) - (a_ - 1) * cw + s, 2 * ((a_ - 1) - (a_ + 1) * cw), (a_ + 1) - (a_ - 1) * cw - s]
    elif kind == "lowpass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "highpass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    else:
        raise ValueError(kind)
    return np.array(b) / a[0], np.array(a) / a[0]


def eq(y, rng, fx):
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["peak", "peak", "lowshelf", "highshelf"])
        f0 = math.exp(rng.uniform(math.log(60), math.log(6000)))
        g = rng.uniform(-10, 8)
        b, a = biquad(kind, f0, g, q=rng.uniform(0.5, 2.0))
        y = lfilter(b, a, y)
        fx.append(f"eq:{kind}@{f0:.0f}Hz{g:+.1f}dB")
    if rng.random() < 0.15:
        f0 = rng.uniform(2500, 6000)
        b, a = biquad("lowpass", f0, 0)
        y = lfilter(b, a, y)
        fx.append(f"lowpass@{f0:.0f}Hz")
    if rng.random() < 0.15:
        f0 = rng.uniform(80, 400)
        b, a = biquad("highpass", f0, 0)
        y = lfilter(b, a, y)
        fx.append(f"highpass@{f0:.0f}Hz")
    return y


def compress(y, rng, fx):
    """Feed-forward RMS compressor (one-pole level detector, 10-60 ms), no look-ahead."""
    tau = rng.uniform(0.01, 0.06)
    alpha = math.exp(-1 / (tau * SR))
    env = np.sqrt(np.maximum(lfilter([1 - alpha], [1, -alpha], y * y), 1e-12))
    level = 20 * np.log10(env)
    thr = float(np.percentile(level, 90)) - rng.uniform(3, 15)
    ratio = rng.uniform(2, 10)
    over = np.maximum(level - thr, 0)
    gain = 10 ** (-over * (1 - 1 / ratio) / 20)
    fx.append(f"comp:thr{thr:.0f}dB,ratio{ratio:.1f},tau{1000 * tau:.0f}ms")
    return y * gain


def distort(y, rng, fx):
    drive = rng.uniform(6, 30)
    peak = np.max(np.abs(y)) + 1e-9
    g = 10 ** (drive / 20) / peak
    y = np.tanh(y * g) if rng.random() < 0.7 else np.clip(y * g, -1, 1)
    b, a = biquad("lowpass", rng.uniform(3000, 6500), 0)
    fx.append(f"dist:{drive:.0f}dB")
    return lfilter(b, a, y) * peak


def reverb(y, rng, fx):
    rt60 = rng.uniform(0.3, 2.5)
    n = int(rt60 * SR)
    t = np.arange(n) / SR
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    ir = nrng.standard_normal(n) * np.exp(-6.91 * t / rt60)
    ir[: int(0.005 * SR)] = 0  # pre-delay: the direct sound stays first
    b, a = biquad("lowpass", rng.uniform(2000, 7000), 0)
    ir = lfilter(b, a, ir)
    ir /= np.sqrt(np.sum(ir ** 2)) + 1e-9
    wet = rng.uniform(0.1, 0.6)
    r = fftconvolve(y, ir)[: len(y)]
    r *= (np.sqrt(np.mean(y ** 2)) + 1e-9) / (np.sqrt(np.mean(r ** 2)) + 1e-9)
    fx.append(f"reverb:rt{rt60:.1f}s,wet{wet:.2f}")
    return y * (1 - wet) + r * wet


def add_noise(y, rng, fx):
    snr = rng.uniform(12, 45)
    kind = rng.choice(["white", "pink", "brown"])
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    w = nrng.standard_normal(len(y))
    if kind == "pink":
        w = lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786], [1, -2.494956002, 2.017265875, -0.522189400], w)
    elif kind == "brown":
        w = lfilter([1], [1, -0.995], w)
    p = np.mean(y ** 2) + 1e-12
    w *= math.sqrt(p / (np.mean(w ** 2) + 1e-12) / 10 ** (snr / 10))
    fx.append(f"noise:{kind},snr{snr:.0f}dB")
    return y + w


def mix_and_master(drums, rest, rng, fx):
    """drums/rest at SR, mono. Returns the mix (float32, peak at -1..-6 dBFS) and the drum gain."""
    n = max(len(drums) if drums is not None else 0, len(rest) if rest is not None else 0)

    def pad(x):
        return np.zeros(n) if x is None else np.pad(x.astype(np.float64), (0, n - len(x)))

    d, r = pad(drums), pad(rest)
    rd, rr = np.sqrt(np.mean(d ** 2)) + 1e-9, np.sqrt(np.mean(r ** 2)) + 1e-9
    if np.max(np.abs(r)) > 1e-5 and rng.random() < 0.25:
        r = distort(r, rng, fx)
    u = rng.random()
    if drums is None or np.max(np.abs(d)) < 1e-5:
        gdb = None
    elif u < 0.10 and np.max(np.abs(r)) > 1e-4:
        gdb = None  # no drums at all
    else:
        gdb = rng.uniform(-14, 6) if u < 0.35 else rng.uniform(-4, 4)
    if np.max(np.abs(r)) > 1e-5:
        r = r / rr
        d = d / rd * (10 ** (gdb / 20) if gdb is not None else 0.0)
    else:
        d = d / rd
        gdb = 0.0 if gdb is None else gdb
    y = d + r
    if rng.random() < 0.6:
        y = eq(y, rng, fx)
    if rng.random() < 0.4:
        y = compress(y, rng, fx)
    if rng.random() < 0.08:
        y = distort(y, rng, fx)
    if rng.random() < 0.4:
        y = reverb(y, rng, fx)
    if rng.random() < 0.3:
        y = add_noise(y, rng, fx)
    peak = np.max(np.abs(y)) + 1e-9
    y = y / peak * 10 ** (-rng.uniform(1, 6) / 20)
    return y.astype(np.float32), gdb


# ----------------------------------------------------------------------------- sources


def freedoom_grid_check(mid: mido.MidiFile) -> dict:
    """Fraction of drum hits within 10 % (of the grid step) of a sixteenth or sextuplet position of
    the MIDI's own beat grid, and the same for the eighth grid. Files that ignore their tempo map
    (notes on a grid that is not the file's, e.g. all hits on a 32nd grid = twice the written tempo)
    score low."""
    tpb = mid.ticks_per_beat
    dr = np.array([n[0] for n in midi_notes(mid) if n[1] == DRUM_CH], float)
    if len(dr) < 20:
        return {"drum_hits": int(len(dr)), "on_grid": None}

    def near(div):
        r = (dr / (tpb / div)) % 1
        return np.minimum(r, 1 - r) <= 0.1

    return {"drum_hits": int(len(dr)), "on_grid": round(float((near(4) | near(6)).mean()), 3)}


FREEDOOM_MIN_ON_GRID = 0.80


def song_span(mid: mido.MidiFile):
    notes = midi_notes(mid)
    if not notes:
        return None
    return notes[0][0], notes[-1][0]


def freedoom_songs(excluded: dict):
    out = []
    for f in sorted(FREEDOOM_DIR.glob("*.mid")):
        sid = f.stem
        try:
            mid = mido.MidiFile(str(f))
        except Exception as e:  # noqa: BLE001
            excluded[f"freedoom/{sid}"] = f"unreadable: {e}"
            continue
        chk = freedoom_grid_check(mid)
        if mid.length < 20:
            excluded[f"freedoom/{sid}"] = f"shorter than 20 s ({mid.length:.0f} s)"
            continue
        if chk["on_grid"] is not None and chk["on_grid"] < FREEDOOM_MIN_ON_GRID:
            excluded[f"freedoom/{sid}"] = f"drum hits on the grid {chk['on_grid']:.2f} < {FREEDOOM_MIN_ON_GRID}"
            continue
        try:
            span = song_span(mid)
            midi_beats(mid, span[0], span[1])
        except MeterError as e:
            excluded[f"freedoom/{sid}"] = f"irregular meter {e}"
            continue
        out.append({"source": "freedoom", "song": sid, "load": (lambda f=f: mido.MidiFile(str(f))),
                    "check": chk, "minutes": mid.length / 60})
    return out


# Groove MIDI style -> keywords of MMA groove files for the accompaniment
GMD_STYLE_GROOVES = {
    "rock": ["rock", "pop", "beat", "shuffle"], "punk": ["rock", "metal", "punk"],
    "funk": ["funk", "soul", "rnb", "rb"], "soul": ["soul", "rnb", "rb", "motown", "funk"],
    "hiphop": ["hiphop", "rap", "rnb", "rb", "funk", "soul"], "pop": ["pop", "8beat", "16beat", "beat"],
    "jazz": ["swing", "jazz", "bebop", "bigband", "fox"], "neworleans": ["dixie", "boogie", "blues", "shuffle", "swing"],
    "blues": ["blues", "shuffle", "boogie"], "gospel": ["gospel", "blues", "soul", "ballad"],
    "country": ["country", "bluegrass", "western", "folk"], "reggae": ["reggae", "ska", "calypso"],
    "latin": ["bossa", "salsa", "samba", "rhumba", "mambo", "chacha", "latin", "merengue", "beguine", "bolero"],
    "afrocuban": ["salsa", "mambo", "rhumba", "son", "conga", "latin", "chacha"],
    "afrobeat": ["afro", "funk", "latin", "soca"], "highlife": ["calypso", "soca", "afro", "reggae", "latin"],
    "dance": ["disco", "house", "dance", "techno", "trance", "pop"], "middleeastern": ["latin", "rhumba"],
}


def gmd_rows(splits):
    rows = list(csv.DictReader(open(GMD_DIR / "info.csv")))
    return [r for r in rows if r["split"] in splits and r["beat_type"] == "beat"
            and r["time_signature"] in ("4-4", "3-4") and float(r["duration"]) >= 15]


def gmd_songs(excluded: dict):
    out = []
    for r in gmd_rows({"train", "validation"}):
        sid = r["midi_filename"].replace("/", "_").removesuffix(".mid")
        out.append({"source": "gmd", "song": sid, "row": r, "minutes": float(r["duration"]) / 60})
    return out


_GROOVES = None


def mma_grooves():
    global _GROOVES
    if _GROOVES is None:
        _GROOVES = groove_files(MMA_HOME)  # excludes the development set's groove files
    return _GROOVES


_ACC = None


def accompaniment_grooves():
    """Groove files that define pitched parts (Bass/Chord/Walk/Arpeggio/... sequences): the zoom
    library, for one, is drum-machine patterns only."""
    global _ACC
    if _ACC is None:
        rx = re.compile(r"^\s*(Bass|Chord|Walk|Arpeggio|Scale|Plectrum|Solo|Melody|Aria)[-\w]*\s+Sequence", re.I | re.M)
        _ACC = [g for g in mma_grooves() if rx.search((MMA_HOME / "lib" / f"{g[0]}.mma").read_text(errors="replace"))]
    return _ACC


def run_mma(text: str, tmp: Path) -> mido.MidiFile:
    (tmp / "s.mma").write_text(text)
    r = subprocess.run([sys.executable, str(MMA_BIN), str(tmp / "s.mma"), "-m", "4000", "-f", str(tmp / "s.mid")],
                       env=dict(os.environ, MMA_HOME=str(MMA_HOME)), capture_output=True, text=True)
    if r.returncode != 0 or not (tmp / "s.mid").exists():
        raise RuntimeError(f"mma failed: {r.stdout[-300:]} {r.stderr[-300:]}")
    return mido.MidiFile(str(tmp / "s.mid"))


def to_seconds_events(mid: mido.MidiFile, keep):
    """(seconds, msg) of the channel messages `keep` accepts."""
    tmap = TempoMap(mid)
    ev = []
    for tr in mid.tracks:
        t = 0
        for msg in tr:
            t += msg.time
            if not msg.is_meta and keep(msg):
                ev.append((tmap.seconds(t), msg))
    return ev


def gmd_with_accompaniment(row, rng: random.Random, tmp: Path):
    """The GMD drums plus MMA accompaniment (its drum channel removed) at the file's tempo, as one
    MIDI file whose tempo map is the GMD file's (the click): beats stay exact."""
    gmd = mido.MidiFile(str(GMD_DIR / row["midi_filename"]))
    meter = int(row["time_signature"][0])
    tm = TempoMap(gmd)
    if len(tm.tempos) != 1:
        raise RuntimeError("GMD file with more than one tempo")
    bpm = 60e6 / tm.tempos[0]
    style = row["style"].split("/")[0]
    keys = GMD_STYLE_GROOVES.get(style, [])
    pool = [g for g in accompaniment_grooves() if g[2] == meter and any(k in g[0].split("/")[1].lower() for k in keys)]
    if not pool:
        pool = [g for g in accompaniment_grooves() if g[2] == meter]
    lib, groove, _ = pool[rng.randrange(len(pool))]
    last = max(n[0] for n in midi_notes(gmd))
    bars = int(math.ceil((last / gmd.ticks_per_beat + 1) / meter)) + 1
    song = ("gmd", lib, groove, "jazz" if "swing" in lib or style == "jazz" else "train", meter, ("const", bpm))
    text, _, _ = mma_script(song, rng)
    # mma_script sizes the song by a random duration: replace the bar count by ours
    lines = [ln for ln in text.splitlines() if not ln[:1].isdigit()]
    from devset import progression
    chords = progression(rng, bars, "swing" in lib or style == "jazz")
    text = "\n".join(lines + [f"{i + 1} {c}" for i, c in enumerate(chords)]) + "\n"
    acc = run_mma(text.replace(f"Tempo {bpm}", f"Tempo {bpm:.4f}"), tmp)
    # one file on GMD's timeline (ticks of the GMD file): MMA events converted via seconds
    tpb = gmd.ticks_per_beat
    sec_per_tick = tm.tempos[0] / 1e6 / tpb
    acc_ev = to_seconds_events(acc, lambda m: hasattr(m, "channel") and m.channel != DRUM_CH)
    acc_ev = [(s, m) for s, m in acc_ev
              if s / sec_per_tick <= last + 2 * tpb * meter or m.type != "note_on" or m.velocity == 0]
    merged = mido.MidiFile(type=1, ticks_per_beat=tpb)
    t0 = mido.MidiTrack()
    t0.append(mido.MetaMessage("set_tempo", tempo=int(tm.tempos[0]), time=0))
    t0.append(mido.MetaMessage("time_signature", numerator=meter, denominator=4, time=0))
    merged.tracks.append(t0)
    drum_ev = []
    for tr in gmd.tracks:
        t = 0
        for msg in tr:
            t += msg.time
            if not msg.is_meta:
                drum_ev.append((t, msg.copy(channel=DRUM_CH) if hasattr(msg, "channel") else msg))
    tr = mido.MidiTrack()
    ev = drum_ev + [(int(round(s / sec_per_tick)), m) for s, m in acc_ev]
    ev.sort(key=lambda e: e[0])
    lt = 0
    for t, m in ev:
        tr.append(m.copy(time=t - lt))
        lt = t
    merged.tracks.append(tr)
    return merged, {"groove": f"{lib}:{groove}", "style": style, "bpm": round(bpm, 3), "end_tick": last}


def mma_songs(count: int):
    return [{"source": "mma", "song": f"{i:05d}", "minutes": 1.2} for i in range(count)]


def mma_song_midi(idx: int, tmp: Path):
    rng = seeded(f"mma-song-{idx}")
    files = mma_grooves()
    lib, groove, meter = files[rng.randrange(len(files))]
    bpm = round(70 * (180 / 70) ** rng.random())
    plan = ("const", bpm)
    u = rng.random()
    if u < 0.15:
        plan = ("ramp", bpm, round(bpm * rng.choice([0.8, 0.87, 1.15, 1.25])))
    elif u < 0.25:
        plan = ("mid", bpm, round(bpm * rng.choice([0.8, 1.2])), rng.choice([2, 4, 8]))
    song = (f"mma-{idx}", lib, groove, "jazz" if any(k in lib for k in ("swing", "jazz", "bossa")) else "train", meter, plan)
    text, bars, _ = mma_script(song, rng)
    mid = run_mma(text, tmp)
    sigs = {(m.numerator, m.denominator) for _, m in meta_events(mid, "time_signature")}
    if sigs and sigs != {(meter, 4)}:
        raise MeterError(f"groove {lib} writes {sigs}, planned {meter}/4")
    return mid, {"groove": f"{lib}:{groove}", "plan": list(plan), "end_tick": bars * meter * mid.ticks_per_beat - 1}


# ----------------------------------------------------------------------------- tracker modules (libopenmpt)

MODULE_EXT = (".mod", ".xm", ".s3m", ".it", ".mptm")
# Held out of training for the development benchmark v3 (scripts/devset_v3.py)
TRACKER_DEVSET_PACKAGES = {"heroes-sound-tracks", "pachi-data", "open-invaders-data"}
TRACKER_TRAIN_PACKAGES = {
    "ironseed-data": ("GPL-3+", "Ironseed (c) 1994 Channel 7, Jeremy D. Stanton, Robert W. Morgan; Debian ironseed-data"),
    "tecnoballz-data": ("GPL-3+", "TecnoballZ (c) 1991-2015 TLK Games; Debian tecnoballz-data"),
    "pekka-kana-2-data": ("BSD-2-Clause", "Pekka Kana 2 (c) 2003 Janne Kivilahti (Piste Gamez); Debian pekka-kana-2-data"),
    "pingus-data": ("GPL-2+", "Pingus (c) 1999-2007 Ingo Ruhnke and others; Debian pingus-data"),
    "freedroid-data": ("GPL-2+", "Freedroid (c) 1994-2003 Johannes Prix, Reinhard Prix and others; Debian freedroid-data"),
    "rafkill-data": ("LGPL-2", "Rafkill (c) 2002-2006 Jon Rafkind; Debian rafkill-data"),
    "biniax2-data": ("Zlib", "Biniax-2 (c) 2005-2008 Jordan Tuzsuzov; Debian biniax2-data"),
}


def module_rows_per_beat(path: Path) -> tuple[int, int, str]:
    """(rows per beat, rows per bar, where from): the IT/MPTM header's highlight (PHiligt at 0x1E)
    when set, else 4 and 16."""
    data = path.read_bytes()[:64]
    if data[:4] == b"IMPM" and len(data) > 0x20 and data[0x1E] and data[0x1F] and data[0x1F] % data[0x1E] == 0:
        return data[0x1E], data[0x1F], "IT highlight"
    return 4, 16, "default 4 rows"


def module_beats(rows, rpb: int, rpbar: int):
    """Beats at every row whose index in its pattern is a multiple of rpb; bar position from the
    row index (rows per bar)."""
    return [(t, (row % rpbar) // rpb + 1) for (t, _o, _p, row, _s, _t) in rows if row % rpb == 0]


def fold_level(rpb: int, rpbar: int, rows):
    """The rule's beat level folded into 60-200 BPM by factors of two (median inter-beat interval).
    Returns (beats, rows per beat used, factor)."""
    factor = 1.0
    while True:
        b = module_beats(rows, rpb, rpbar)
        if len(b) < 4:
            return b, rpb, factor
        bpm = 60 / float(np.median(np.diff([t for t, _ in b])))
        if bpm > 200 and rpbar % (rpb * 2) == 0:
            rpb *= 2
            factor *= 2
        elif bpm < 60 and rpb % 2 == 0:
            rpb //= 2
            factor /= 2
        else:
            return b, rpb, factor


def index_modules(src: Path) -> None:
    """Writes TRACKER_DIR/modules.csv: the unique modules (SHA-256) of the training packages found
    under SRC/<package>/ (dpkg -x trees)."""
    TRACKER_DIR.mkdir(parents=True, exist_ok=True)
    seen, rows = set(), []
    for pkg, (lic, attr) in sorted(TRACKER_TRAIN_PACKAGES.items()):
        for path in sorted(p for p in (src / pkg).rglob("*") if p.suffix.lower() in MODULE_EXT):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            rpb, rpbar, how = module_rows_per_beat(path)
            rows.append({"name": f"{pkg.split('-')[0]}_{path.stem.lower()}", "path": str(path), "package": pkg,
                         "sha256": digest, "rows_per_beat": rpb, "rows_per_bar": rpbar, "rows_from": how,
                         "licence": lic, "attribution": attr, "use": "train", "minutes": 2})
    with open(TRACKER_DIR / "modules.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    log(f"{len(rows)} unique modules from {len(TRACKER_TRAIN_PACKAGES)} packages -> {TRACKER_DIR / 'modules.csv'}")


TRACKER_DIR = Path(os.environ.get("TRACKER_DIR", os.path.expanduser("~/.cache/zerons/corpus-v3-src/modules")))


def tracker_songs(excluded: dict):
    """Modules listed in TRACKER_DIR/modules.csv (written by scripts/fetch_modules.sh)."""
    idx = TRACKER_DIR / "modules.csv"
    if not idx.exists():
        return []
    out = []
    for r in csv.DictReader(open(idx)):
        if r.get("use", "train") != "train":
            continue
        out.append({"source": "tracker", "song": r["name"], "row": r, "minutes": float(r.get("minutes") or 2)})
    return out


class OpenMPT:
    """Minimal ctypes binding of libopenmpt's C API (Debian libopenmpt0)."""

    def __init__(self):
        self.lib = ctypes.CDLL("libopenmpt.so.0")
        L = self.lib
        L.openmpt_module_create_from_memory2.restype = ctypes.c_void_p
        L.openmpt_module_create_from_memory2.argtypes = [ctypes.c_void_p, ctypes.c_size_t] + [ctypes.c_void_p] * 7
        for fn in ("openmpt_module_get_current_order", "openmpt_module_get_current_pattern",
                   "openmpt_module_get_current_row", "openmpt_module_get_current_speed",
                   "openmpt_module_get_current_tempo", "openmpt_module_get_num_channels",
                   "openmpt_module_get_num_instruments", "openmpt_module_get_num_samples"):
            getattr(L, fn).restype = ctypes.c_int32
            getattr(L, fn).argtypes = [ctypes.c_void_p]
        L.openmpt_module_read_float_mono.restype = ctypes.c_size_t
        L.openmpt_module_read_float_mono.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_size_t, ctypes.c_void_p]
        L.openmpt_module_get_duration_seconds.restype = ctypes.c_double
        L.openmpt_module_get_duration_seconds.argtypes = [ctypes.c_void_p]
        L.openmpt_module_get_position_seconds.restype = ctypes.c_double
        L.openmpt_module_get_position_seconds.argtypes = [ctypes.c_void_p]
        L.openmpt_module_destroy.argtypes = [ctypes.c_void_p]
        L.openmpt_module_ctl_set_floatingpoint.restype = ctypes.c_int
        L.openmpt_module_ctl_set_floatingpoint.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_double]
        L.openmpt_module_set_repeat_count.argtypes = [ctypes.c_void_p, ctypes.c_int32]
        L.openmpt_module_get_metadata.restype = ctypes.c_void_p
        L.openmpt_module_get_metadata.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        L.openmpt_free_string.argtypes = [ctypes.c_void_p]
        L.openmpt_module_get_pattern_num_rows.restype = ctypes.c_int32
        L.openmpt_module_get_pattern_num_rows.argtypes = [ctypes.c_void_p, ctypes.c_int32]

    def render(self, data: bytes, tempo_factor: float = 1.0, pitch_factor: float = 1.0, block: int = 32,
               sr: int = SR):
        """Mono audio at `sr` and (time_s, order, pattern, row, speed, tempo) of every row start.
        The current row is read before each block of `block` samples (2 ms at 16 kHz): a row first
        seen at sample `pos` started within the block before it, so its time is pos - block/2
        (error within +-1 ms at 16 kHz, +-0.4 ms at 44.1 kHz)."""
        L = self.lib
        buf = ctypes.create_string_buffer(data, len(data))
        mod = L.openmpt_module_create_from_memory2(buf, len(data), None, None, None, None, None, None, None)
        if not mod:
            raise RuntimeError("libopenmpt could not open the module")
        try:
            L.openmpt_module_set_repeat_count(mod, 0)
            # (ctl_set_text accepts these but has no effect in libopenmpt 0.6.9)
            L.openmpt_module_ctl_set_floatingpoint(mod, b"play.tempo_factor", float(tempo_factor))
            L.openmpt_module_ctl_set_floatingpoint(mod, b"play.pitch_factor", float(pitch_factor))
            out, rows = [], []
            arr = (ctypes.c_float * block)()
            pos = 0
            last = None
            while True:
                key = (L.openmpt_module_get_current_order(mod), L.openmpt_module_get_current_row(mod))
                if key != last:
                    rows.append((max(0.0, pos - block / 2) / sr if pos else 0.0, key[0], L.openmpt_module_get_current_pattern(mod), key[1],
                                 L.openmpt_module_get_current_speed(mod), L.openmpt_module_get_current_tempo(mod)))
                    last = key
                n = L.openmpt_module_read_float_mono(mod, sr, block, arr)
                if n == 0:
                    break
                out.append(np.frombuffer(arr, dtype=np.float32, count=n).copy())
                pos += n
                if pos > sr * 900:
                    break
            y = np.concatenate(out) if out else np.zeros(0, np.float32)
            meta = {}
            for k in (b"type", b"title", b"artist", b"tracker"):
                p = L.openmpt_module_get_metadata(mod, k)
                if p:
                    meta[k.decode()] = ctypes.string_at(p).decode("utf-8", "replace")
                    L.openmpt_free_string(p)
            meta["channels"] = L.openmpt_module_get_num_channels(mod)
            return y, rows, meta
        finally:
            L.openmpt_module_destroy(mod)


_OPENMPT = None


def render_tracker(song, name: str, rng: random.Random, fx: list):
    global _OPENMPT
    if _OPENMPT is None:
        _OPENMPT = OpenMPT()
    r = song["row"]
    rows_per_beat = int(r["rows_per_beat"])
    rows_per_bar = int(r["rows_per_bar"])
    tf = math.exp(rng.uniform(math.log(0.8), math.log(1.25)))
    semis = rng.randint(-5, 6)
    data = Path(r["path"]).read_bytes()
    y, rows, meta = _OPENMPT.render(data, tf, 2 ** (semis / 12))
    # a beat at every row that starts a beat (the first row of each pattern restarts the count),
    # the level folded into 60-200 BPM
    beats, rpb, factor = fold_level(rows_per_beat, rows_per_bar, rows)
    fx.append(f"rows_per_beat:{rpb}({r['rows_from']},x{factor:g})")
    return y, beats, {"tempo_factor": tf, "transpose": semis, "melodic_font": "libopenmpt", "drum_kit": "",
                      "meta": meta, "rows_per_beat": rpb, "rows_per_bar": rows_per_bar}


# ----------------------------------------------------------------------------- one item


def render_midi_item(mid: mido.MidiFile, start_tick: int, end_tick: int, rng: random.Random, fx: list,
                     tempo_range=(0.8, 1.25), allow_transpose=True):
    tf = math.exp(rng.uniform(math.log(tempo_range[0]), math.log(tempo_range[1])))
    semis = rng.randint(-5, 6) if allow_transpose and rng.random() < 0.8 else 0
    m = scale_tempo(mid, tf)
    if semis:
        m = transpose(m, semis)
    beats, tmap, meters = midi_beats(m, start_tick, end_tick)
    font = rng.choices(MELODIC_FONTS, weights=[w for *_, w in MELODIC_FONTS])[0]
    kit = rng.choices(DRUM_KITS, weights=DRUM_KIT_WEIGHTS)[0]
    reverb_on, chorus_on = rng.random() < 0.5, rng.random() < 0.3
    has_drums = any(n[1] == DRUM_CH for n in midi_notes(m))
    has_rest = any(n[1] != DRUM_CH for n in midi_notes(m))
    drums = to_sr(fluidsynth(split_channels(m, True, kit), kit[1], reverb_on, chorus_on)) if has_drums else None
    rest = to_sr(fluidsynth(split_channels(m, False), font[1], reverb_on, chorus_on)) if has_rest else None
    fx.append(f"fluidsynth:reverb{int(reverb_on)},chorus{int(chorus_on)}")
    y, gdb = mix_and_master(drums, rest, rng, fx)
    lo, hi = tmap.bpm_range(start_tick, end_tick)
    return y, beats, {"tempo_factor": tf, "transpose": semis, "melodic_font": font[0] if has_rest else "",
                      "drum_kit": kit[0] if has_drums else "", "drum_gain_db": gdb, "meters": meters,
                      "tempo_min_bpm": lo, "tempo_max_bpm": hi}


def render_item(song, variant: int, out: Path, manifest: Path) -> str:
    name = f"{song['source']}-{song['song']}-v{variant}"
    audio = out / "audio" / f"{name}.flac"
    beats_path = out / "audio" / f"{name}.beats"
    if beats_path.exists() or beats_path.with_suffix(".failed").exists():
        return "skip"
    rng = seeded(name)
    fx: list[str] = []
    t_start = time.time()
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        if song["source"] == "freedoom":
            mid = song["load"]()
            s0, s1 = song_span(mid)
            y, beats, info = render_midi_item(mid, s0, s1, rng, fx)
        elif song["source"] == "gmd":
            mid, extra = gmd_with_accompaniment(song["row"], seeded(f"gmd-acc-{song['song']}-{variant % 2}"), tmp)
            y, beats, info = render_midi_item(mid, 0, extra["end_tick"], rng, fx)
            fx.insert(0, f"acc:{extra['groove']}")
        elif song["source"] == "mma":
            mid, extra = mma_song_midi(int(song["song"]), tmp)
            y, beats, info = render_midi_item(mid, 0, extra["end_tick"], rng, fx, tempo_range=(1.0, 1.0))
            fx.insert(0, f"groove:{extra['groove']}")
        elif song["source"] == "tracker":
            y, beats, info = render_tracker(song, name, rng, fx)
            y, gdb = mix_and_master(None, y, rng, fx)
            info.update(drum_gain_db="", meters=[f"{info['rows_per_bar'] // info['rows_per_beat']}/4"])
            ibi = np.diff([b[0] for b in beats])
            bpm = 60 / ibi[ibi > 0] if len(ibi) else np.array([0.0])
            info.update(tempo_min_bpm=float(np.percentile(bpm, 5)), tempo_max_bpm=float(np.percentile(bpm, 95)))
        else:
            raise ValueError(song["source"])
    dur = len(y) / SR
    beats = [(t, p) for t, p in beats if t <= dur]
    if beats and dur > beats[-1][0] + 6:  # a long release or a stuck note: keep 6 s after the last beat
        y = y[: int((beats[-1][0] + 6) * SR)].copy()
        y[-int(0.05 * SR):] *= np.linspace(1, 0, int(0.05 * SR), dtype=np.float32)
        dur = len(y) / SR
    if len(beats) < 8:
        raise RuntimeError(f"only {len(beats)} beats")
    # Three MMA songs once rendered to pure silence (84 s of labelled nothing, trained on by
    # lite v3); `zerons train` now skips silent audio, and it is not rendered at all.
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if not np.isfinite(peak) or peak < 1e-3:
        raise RuntimeError(f"silent render (peak {20 * np.log10(max(peak, 1e-12)):.1f} dBFS)")
    audio.parent.mkdir(parents=True, exist_ok=True)
    tmp_audio = audio.with_suffix(".tmp.flac")
    sf.write(str(tmp_audio), y, SR, subtype="PCM_16")
    os.replace(tmp_audio, audio)
    with open(beats_path.with_suffix(".tmp"), "w") as fh:
        fh.writelines(f"{t:.6f}\t{p}\n" for t, p in beats)
    lic, attr = LICENCES[song["source"]]
    if song["source"] == "tracker":
        lic, attr = song["row"]["licence"], song["row"]["attribution"]
    fonts = sorted({FONT_LICENCES.get(info["melodic_font"], ""), FONT_LICENCES.get(info["drum_kit"].split(":")[0], "")} - {""})
    row = {"name": name, "source": song["source"], "song": song["song"], "variant": variant,
           "audio": f"audio/{audio.name}", "beats": f"audio/{beats_path.name}", "duration_s": round(dur, 3),
           "n_beats": len(beats), "n_downbeats": sum(1 for _, p in beats if p == 1),
           "tempo_min_bpm": round(info["tempo_min_bpm"], 2), "tempo_max_bpm": round(info["tempo_max_bpm"], 2),
           "meters": " ".join(info["meters"]), "tempo_factor": round(info["tempo_factor"], 4),
           "transpose": info["transpose"], "melodic_font": info["melodic_font"], "drum_kit": info["drum_kit"],
           "drum_gain_db": "none" if info.get("drum_gain_db", "") is None else (
               "" if info.get("drum_gain_db", "") == "" else round(info["drum_gain_db"], 1)),
           "effects": ";".join(fx), "licence": lic, "attribution": attr, "fonts_licence": "; ".join(fonts),
           "render_s": round(time.time() - t_start, 1)}
    new = not manifest.exists()
    with open(manifest, "a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)
    os.replace(beats_path.with_suffix(".tmp"), beats_path)  # last: marks the item done
    return f"{dur:.0f} s, {row['tempo_min_bpm']:.0f}-{row['tempo_max_bpm']:.0f} BPM, {row['melodic_font']}/{row['drum_kit']}"


def stats(out: Path) -> None:
    man = out / "manifest.csv"
    if not man.exists():
        print("no manifest yet")
        return
    rows = list(csv.DictReader(open(man)))
    by = {}
    for r in rows:
        s = by.setdefault(r["source"], {"items": 0, "hours": 0.0, "songs": {}})
        s["items"] += 1
        d = float(r["duration_s"])
        s["hours"] += d / 3600
        s["songs"][r["song"]] = d / 3600 / float(r["tempo_factor"] or 1) if r["source"] != "mma" else d / 3600
    tot_h = sum(s["hours"] for s in by.values())
    tot_d = sum(sum(s["songs"].values()) for s in by.values())
    for k, s in sorted(by.items()):
        print(f"{k:9s} {s['items']:6d} items {s['hours']:7.2f} h rendered, {len(s['songs']):5d} songs, "
              f"~{sum(s['songs'].values()):.2f} h distinct music")
    print(f"total     {len(rows):6d} items {tot_h:7.2f} h rendered, ~{tot_d:.2f} h distinct music")
    ex = out / "excluded.json"
    if ex.exists():
        print(f"excluded songs: {len(json.loads(ex.read_text()))} (see {ex})")


def check(out: Path, n: int, seed: int = 0) -> None:
    """Label sanity check of n random items: onsets of the rendered mix (devset.py's detector)
    against the beats, and against the beats shifted by half a beat. Exact labels show a median
    onset - beat of a few ms with a small MAD; a wrong phase or tempo shows a larger matched fraction
    for the shifted grid or a wide MAD."""
    from devset import load_mono, match_onsets, onset_envelope, pick_onsets
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    rng = random.Random(seed)
    print("| item | kit | drums dB | onset - beat ms (MAD, matched) | matched, half-beat shift |")
    print("|---|---|---|---|---|")
    for r in rng.sample(rows, min(n, len(rows))):
        x = load_mono(out / r["audio"])
        on = pick_onsets(onset_envelope(x))
        b = np.loadtxt(out / r["beats"], ndmin=2)[:, 0]
        m = match_onsets(b, on)
        half = match_onsets(b[:-1] + np.diff(b) / 2, on)
        print(f"| {r['name']} | {r['drum_kit']} | {r['drum_gain_db']} | {m['median_ms']} ({m['mad_ms']}, {m['matched']}) "
              f"| {half['matched']} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--sources", default="freedoom,gmd,mma,tracker")
    ap.add_argument("--variants-freedoom", type=int, default=8)
    ap.add_argument("--variants-gmd", type=int, default=4)
    ap.add_argument("--variants-tracker", type=int, default=5)
    ap.add_argument("--mma-songs", type=int, default=1500, help="distinct MMA songs (one variant each)")
    ap.add_argument("--max-gb", type=float, default=40.0, help="stop when OUT_DIR holds this much")
    ap.add_argument("--max-items", type=int, default=0)
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--check", type=int, metavar="N", help="label sanity check of N random items and exit")
    ap.add_argument("--index-modules", type=Path, metavar="SRC_X",
                    help="write the tracker module list from dpkg -x trees SRC_X/<package>/ and exit")
    a = ap.parse_args()
    out = a.out.expanduser().resolve()
    if a.stats:
        stats(out)
        return 0
    if a.check:
        check(out, a.check)
        return 0
    if a.index_modules:
        index_modules(a.index_modules)
        return 0
    repo = Path(__file__).resolve().parent.parent
    if out == repo or repo in out.parents:
        sys.exit("render_corpus: OUT_DIR must be outside the repository")
    out.mkdir(parents=True, exist_ok=True)
    excluded: dict = {}
    sources = a.sources.split(",")
    lists = []
    if "freedoom" in sources:
        lists.append((freedoom_songs(excluded), a.variants_freedoom))
    if "gmd" in sources:
        lists.append((gmd_songs(excluded), a.variants_gmd))
    if "tracker" in sources:
        lists.append((tracker_songs(excluded), a.variants_tracker))
    if "mma" in sources:
        lists.append((mma_songs(a.mma_songs), 1))
    (out / "excluded.json").write_text(json.dumps(excluded, indent=1))
    for songs, v in lists:
        if songs:
            log(f"{songs[0]['source']}: {len(songs)} songs x {v} variants, ~{sum(s['minutes'] for s in songs) / 60:.1f} h of music")
    for k, why in excluded.items():
        log(f"excluded {k}: {why}")
    # round robin: variant 0 of every song of every source (interleaved), then variant 1, ...
    queue = []
    max_v = max((v for _, v in lists), default=0)
    for v in range(max_v):
        per = [[(s, v) for s in songs] for songs, nv in lists if v < nv]
        if v == 0:  # MMA songs are spread over all rounds
            pass
        per_len = max((len(p) for p in per), default=0)
        for i in range(per_len):
            for p in per:
                if i < len(p):
                    queue.append(p[i])
    # MMA (one variant per song) spread evenly through the queue
    mma = [q for q in queue if q[0]["source"] == "mma"]
    rest = [q for q in queue if q[0]["source"] != "mma"]
    if mma and rest:
        step = len(rest) / len(mma)
        merged, j = [], 0
        for i, q in enumerate(rest):
            merged.append(q)
            while j < len(mma) and (j + 1) * step <= i + 1:
                merged.append(mma[j])
                j += 1
        queue = merged + mma[j:]
    manifest = out / "manifest.csv"
    failures = out / "failures.csv"
    done = 0
    for song, v in queue:
        if a.max_items and done >= a.max_items:
            break
        if done % 20 == 0:
            used = sum(f.stat().st_size for f in (out / "audio").glob("*.flac")) / 1e9 if (out / "audio").exists() else 0
            if used > a.max_gb:
                log(f"stopping: {used:.1f} GB in {out}")
                break
        name = f"{song['source']}-{song['song']}-v{v}"
        try:
            msg = render_item(song, v, out, manifest)
        except Exception as e:  # noqa: BLE001  (one bad item must not stop the job)
            log(f"{name}: FAILED {type(e).__name__}: {e}")
            with open(failures, "a") as fh:
                fh.write(f"{name}\t{type(e).__name__}: {str(e)[:300]}\n")
            (out / "audio").mkdir(exist_ok=True)
            # a failing item is marked so a restart does not retry it forever (delete to retry)
            (out / "audio" / f"{name}.failed").write_text(f"{type(e).__name__}: {e}\n")
            continue
        if msg != "skip":
            done += 1
            log(f"{name}: {msg}")
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
