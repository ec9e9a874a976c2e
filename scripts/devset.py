#!/usr/bin/env python3
"""Builds the ZeroNS development set with exact beat references (issue 4).

Called by scripts/build_devset.sh, which extracts the Debian packages and sets up a venv with
mido, numpy, scipy and soundfile. See scripts/DEVSET.md for the recipe and the checks.

Subcommands:
  blupi SRC_DIR OUT_DIR   planetblupi OGG tracks with beats from the MIDI files they were rendered from
  mma MMA_HOME OUT_DIR    songs generated from MMA's groove library, rendered with fluidsynth
  fof SONGS_DIR OUT_DIR   Frets on Fire song packs (real recordings) with beats from the game charts
  manifest OUT_DIR        writes OUT_DIR/devset.csv from the per-song JSON sidecars

Beat files follow the mir_eval/madmom convention: one line per beat, `time_s<TAB>beat_in_bar`.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile as sf
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.signal import fftconvolve

ANALYSIS_SR = 22050
HOP = 110  # ~5 ms analysis hop
FPS = ANALYSIS_SR / HOP
SOUNDFONT = os.environ.get("SOUNDFONT", "/usr/share/sounds/sf2/FluidR3_GM.sf2")
MATCH_WINDOW_S = 0.05  # a beat "has an onset" when one lies within +-50 ms
DRUM_CHANNEL = 9  # MIDI channel 10


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- MIDI tempo maps


def midi_notes(mid: mido.MidiFile):
    """All note-on events as (tick, channel, note, velocity), sorted by tick."""
    notes = []
    for tr in mid.tracks:
        t = 0
        for msg in tr:
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                notes.append((t, msg.channel, msg.note, msg.velocity))
    notes.sort()
    return notes


def meta_events(mid: mido.MidiFile, kind: str):
    out = []
    for tr in mid.tracks:
        t = 0
        for msg in tr:
            t += msg.time
            if msg.is_meta and msg.type == kind:
                out.append((t, msg))
    out.sort(key=lambda e: e[0])
    return out


class TempoMap:
    """Tick -> seconds conversion from the set_tempo meta events (default 120 BPM)."""

    def __init__(self, mid: mido.MidiFile):
        self.tpb = mid.ticks_per_beat
        ticks, tempos = [0], [500000]
        for t, msg in meta_events(mid, "set_tempo"):
            if t == ticks[-1]:
                tempos[-1] = msg.tempo
            else:
                ticks.append(t)
                tempos.append(msg.tempo)
        self.ticks = np.array(ticks, dtype=np.int64)
        self.tempos = np.array(tempos, dtype=np.float64)  # us per quarter note
        seg_s = np.diff(self.ticks) * self.tempos[:-1] / 1e6 / self.tpb
        self.start_s = np.concatenate([[0.0], np.cumsum(seg_s)])

    def seconds(self, tick: float) -> float:
        i = int(np.searchsorted(self.ticks, tick, side="right") - 1)
        return float(self.start_s[i] + (tick - self.ticks[i]) * self.tempos[i] / 1e6 / self.tpb)

    def bpm_range(self, t0: int, t1: int) -> tuple[float, float]:
        """Min and max tempo (BPM) in force between ticks t0 and t1."""
        i0 = int(np.searchsorted(self.ticks, t0, side="right") - 1)
        i1 = int(np.searchsorted(self.ticks, t1, side="left"))
        bpm = 60e6 / self.tempos[i0:max(i1, i0 + 1)]
        return float(bpm.min()), float(bpm.max())


def beats_from_midi(mid: mido.MidiFile, phase_ticks: float, end_tick: int, start_tick: int = 0):
    """Beats (tick, seconds, beat_in_bar) at every quarter note phase_ticks + k*tpb.

    Bars start at each time_signature event (shifted by phase_ticks); only x/4 meters are accepted
    since the beat is the quarter note here.
    """
    tmap = TempoMap(mid)
    tpb = mid.ticks_per_beat
    sigs = [(0, 4)]
    for t, msg in meta_events(mid, "time_signature"):
        if msg.denominator != 4:
            raise ValueError(f"meter {msg.numerator}/{msg.denominator} is not x/4")
        if t == sigs[-1][0]:
            sigs[-1] = (t, msg.numerator)
        else:
            sigs.append((t, msg.numerator))
    out = []
    tick = phase_ticks
    while tick <= end_tick:
        if tick >= start_tick:
            sig_tick, num = [s for s in sigs if s[0] <= tick - phase_ticks][-1]
            beat_in_bar = ((tick - phase_ticks - sig_tick) // tpb) % num + 1
            out.append((tick, tmap.seconds(tick), int(beat_in_bar)))
        tick += tpb
    return out, tmap


def grid_phase(notes, tpb: int) -> float:
    """The offset (ticks) of the note grid from the MIDI's own beat grid.

    Some files place every note a constant number of ticks after the sixteenth grid (a lead-in
    left by the sequencer). Returns the most common residue of the onsets modulo a sixteenth,
    from the drums when there are any (pitched parts can be humanised), with a +-2 tick window,
    refined to a fractional tick by averaging the residues next to it.
    """
    six = tpb // 4
    drums = [n[0] for n in notes if n[1] == DRUM_CHANNEL]
    ticks = np.array(drums if len(drums) > 100 else [n[0] for n in notes])
    res = ticks % six
    hist = np.bincount(res, minlength=six).astype(float)
    smooth = sum(np.roll(hist, k) for k in range(-2, 3))
    mode = int(np.argmax(smooth))
    # refine: mean of the residues within +-3 ticks of the mode (circular over a sixteenth)
    d = (res - mode + six // 2) % six - six // 2
    near = d[np.abs(d) <= 3]
    return float((mode + near.mean()) % six) if len(near) else float(mode)


def write_beats(path: Path, beats) -> None:
    with open(path, "w") as f:
        for _, t, b in beats:
            f.write(f"{t:.6f}\t{b}\n")


def write_song(out: Path, name: str, flac: Path, beats, info: dict) -> None:
    """A kept song's NAME.beats and NAME.json (with its audio file name and duration)."""
    write_beats(out / f"{name}.beats", beats)
    info["audio"] = flac.name
    info["duration_s"] = round(duration_s(flac), 3)
    (out / f"{name}.json").write_text(json.dumps(info, indent=1))


# ----------------------------------------------------------------------------- audio analysis


def load_mono(path: Path, sr: int = ANALYSIS_SR) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(sr), "-f", "f32le", "-"],
        capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.float32)


def onset_envelope(x: np.ndarray, n_fft: int = 512) -> np.ndarray:
    """Log-magnitude spectral flux at FPS frames/s; frame i is centred on sample i*HOP."""
    x = np.concatenate([np.zeros(n_fft // 2, np.float32), x, np.zeros(n_fft // 2, np.float32)])
    n = max(0, (len(x) - n_fft) // HOP + 1)
    win = np.hanning(n_fft).astype(np.float32)
    prev = None
    flux = np.zeros(n, np.float32)
    block = 4096
    for s in range(0, n, block):
        idx = (np.arange(s, min(n, s + block)) * HOP)[:, None] + np.arange(n_fft)[None, :]
        mag = np.log1p(100.0 * np.abs(np.fft.rfft(x[idx] * win, axis=1))).astype(np.float32)
        if prev is None:
            prev = np.zeros(mag.shape[1], np.float32)
        mag_all = np.vstack([prev[None, :], mag])
        flux[s:s + len(mag)] = np.maximum(np.diff(mag_all, axis=0), 0).sum(1)
        prev = mag[-1]
    return flux


def pick_onsets(env: np.ndarray) -> np.ndarray:
    """Onset times (s): local maxima (+-30 ms) above a moving mean (+-100 ms) plus a threshold."""
    if len(env) < 3:
        return np.zeros(0)
    local_max = maximum_filter1d(env, size=2 * int(0.03 * FPS) + 1)
    local_mean = uniform_filter1d(env, size=2 * int(0.1 * FPS) + 1)
    thr = local_mean + 0.1 * np.percentile(env, 99)
    peaks = np.flatnonzero((env == local_max) & (env > thr))
    # sub-frame refinement by parabolic interpolation
    pk = peaks[(peaks > 0) & (peaks < len(env) - 1)].astype(float)
    i = pk.astype(int)
    a, b, c = env[i - 1], env[i], env[i + 1]
    den = a - 2 * b + c
    delta = np.where(np.abs(den) > 1e-9, 0.5 * (a - c) / np.where(den == 0, 1, den), 0.0)
    return (pk + np.clip(delta, -0.5, 0.5)) / FPS


def click_track(times_s, n_samples: int, sr: int = ANALYSIS_SR) -> np.ndarray:
    """Short decaying 2 kHz clicks at the given times."""
    y = np.zeros(n_samples, np.float32)
    n = int(0.02 * sr)
    tt = np.arange(n) / sr
    click = (np.sin(2 * np.pi * 2000 * tt) * np.exp(-tt / 0.004)).astype(np.float32)
    for t in times_s:
        i = int(round(t * sr))
        if 0 <= i < n_samples:
            seg = click[: n_samples - i]
            y[i:i + len(seg)] += seg
    return y


def click_check(beat_times_s, audio_onsets_s, n_samples: int) -> dict:
    """Renders a click track at the beats, detects its onsets with the same detector as the audio,
    and matches each click to the nearest audio onset within +-50 ms.

    Returns the median signed offset audio-minus-click (ms), the median absolute deviation around
    it, the fraction of beats that have an audio onset within the window, and the detector's latency
    on the clicks themselves (detected click minus beat time)."""
    clicks = pick_onsets(onset_envelope(click_track(beat_times_s, n_samples)))
    # the detector's own latency on the clicks (reported, not subtracted)
    bias = match_onsets(np.asarray(beat_times_s), clicks)["median_ms"]
    return {**match_onsets(clicks, audio_onsets_s), "click_latency_ms": bias, "n_beats": len(beat_times_s)}


def match_onsets(ref_s: np.ndarray, onsets_s: np.ndarray) -> dict:
    """Median signed offset (ms) from each reference time to its nearest onset within +-50 ms,
    the median absolute deviation around it, and the fraction of references matched."""
    ref_s, onsets_s = np.asarray(ref_s, float), np.asarray(onsets_s, float)
    if len(ref_s) == 0 or len(onsets_s) < 2:
        return {"median_ms": None, "mad_ms": None, "matched": 0.0}
    j = np.clip(np.searchsorted(onsets_s, ref_s), 1, len(onsets_s) - 1)
    left, right = onsets_s[j - 1], onsets_s[j]
    nearest = np.where(np.abs(left - ref_s) <= np.abs(right - ref_s), left, right)
    d = nearest - ref_s
    d = d[np.abs(d) <= MATCH_WINDOW_S]
    if len(d) == 0:
        return {"median_ms": None, "mad_ms": None, "matched": 0.0}
    med = float(np.median(d))
    return {
        "median_ms": round(1000 * med, 2),
        "mad_ms": round(1000 * float(np.median(np.abs(d - med))), 2),
        "matched": round(len(d) / len(ref_s), 3),
    }


def xcorr_lag(ref: np.ndarray, other: np.ndarray, max_lag: int, center: int = 0) -> tuple[float, float]:
    """Lag L (frames, sub-frame) in [center - max_lag, center + max_lag] maximising
    corr(ref[t], other[t + L]), and the normalised peak."""
    a = (ref - ref.mean()) / (ref.std() + 1e-9)
    b = (other - other.mean()) / (other.std() + 1e-9)
    n = min(len(a), len(b))
    c = fftconvolve(b, a[::-1], mode="full")
    zero = len(a) - 1
    lo, hi = max(0, zero + center - max_lag), min(len(c), zero + center + max_lag + 1)
    seg = c[lo:hi]
    i = int(np.argmax(seg))
    frac = 0.0
    if 0 < i < len(seg) - 1:
        y0, y1, y2 = seg[i - 1], seg[i], seg[i + 1]
        den = y0 - 2 * y1 + y2
        if den != 0:
            frac = float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5))
    return lo + i - zero + frac, float(seg[i] / n)


def fluidsynth_render(mid_path: Path, wav_path: Path, sr: int, gain: float = 0.5,
                      soundfont: str = SOUNDFONT) -> None:
    subprocess.run(
        ["nice", "-n", "10", "fluidsynth", "-ni", "-q", "-g", str(gain), "-r", str(sr), "-O", "float",
         "-T", "wav", "-F", str(wav_path), soundfont, str(mid_path)],
        check=True, stdout=subprocess.DEVNULL)


def duration_s(path: Path) -> float:
    return float(sf.info(str(path)).duration)


# ----------------------------------------------------------------------------- planetblupi

BLUPI_PKG = "planetblupi-music-ogg + planetblupi-music-midi"
BLUPI_LICENCE = "GPL-3+"


def cmd_blupi(src: Path, out: Path, excerpt_s: float) -> int:
    """For each musicNNN.ogg with a musicNNN.mid beside it: find the constant offset between the
    MIDI's fluidsynth render and the OGG in 60 s windows across the whole track (it must be
    constant: no drift), derive beats from the MIDI tempo map on the note grid, shift them by the
    offset, cut the first `excerpt_s` seconds of the OGG to FLAC and check beats vs OGG onsets."""
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for ogg in sorted(src.glob("music*.ogg")):
        mid_path = ogg.with_suffix(".mid")
        name = "blupi-" + ogg.stem
        if not mid_path.exists():
            log(f"{name}: no MIDI file, skipped")
            continue
        mid = mido.MidiFile(str(mid_path))
        notes = midi_notes(mid)
        tpb = mid.ticks_per_beat
        phase = grid_phase(notes, tpb)
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "render.wav"
            fluidsynth_render(mid_path, wav, ANALYSIS_SR)
            render = load_mono(wav)
        audio = load_mono(ogg)
        env_r, env_o = onset_envelope(render), onset_envelope(audio)
        # coarse offset from the first 60 s (searched within +-10 s), then the offset in windows
        # searched within +-0.5 s of the coarse one: 30 s windows every 15 s over the excerpt (these
        # decide: the offset must be constant there) and, for information, 60 s windows every 90 s
        # over the whole track. The music loops, so a wide search can lock onto a repeat.
        search, fine = int(10 * FPS), int(0.5 * FPS)
        lag0, _ = xcorr_lag(env_r[:int(60 * FPS)], env_o[:int(70 * FPS)], search)
        coarse = int(round(lag0))
        seg_end = min(excerpt_s, len(audio) / ANALYSIS_SR) if excerpt_s > 0 else len(audio) / ANALYSIS_SR

        def windows(win_s: float, step_s: float, end_s: float):
            win, step = int(win_s * FPS), int(step_s * FPS)
            lags, scores = [], []
            for s in range(0, max(1, min(len(env_r), int(end_s * FPS)) - win + 1), step):
                o0 = max(0, s + coarse - fine)
                lag, score = xcorr_lag(env_r[s:s + win], env_o[o0:s + coarse + win + fine], fine,
                                       center=s + coarse - o0)
                lags.append((lag + o0 - s) / FPS)
                scores.append(score)
            return np.array(lags), scores

        lags_a, scores = windows(30, 15, seg_end)
        full_lags, full_scores = windows(60, 90, len(env_r) / FPS)
        offset_s = float(np.median(lags_a))
        spread_ms = float(1000 * (lags_a.max() - lags_a.min()))
        min_score = float(min(scores))
        lags = list(lags_a)
        # independent anchor: first audible sample (-40 dB re peak) of the OGG vs of the render
        def first_sound(x: np.ndarray) -> float:
            loud = np.flatnonzero(np.abs(x) > np.abs(x).max() * 0.01)
            return float(loud[0]) / ANALYSIS_SR if len(loud) else 0.0
        first_diff_s = first_sound(audio) - first_sound(render)
        info = {
            "name": name, "source_package": BLUPI_PKG, "licence": BLUPI_LICENCE, "kind": "real-render",
            "style": "game music (OGG rendered from MIDI)", "midi": mid_path.name, "ogg": ogg.name,
            "ticks_per_beat": tpb, "grid_phase_ticks": round(phase, 2), "offset_s": round(offset_s, 4),
            "offset_windows": len(lags), "offset_spread_ms": round(spread_ms, 1),
            "window_offsets_ms": [round(1000 * x, 1) for x in lags],
            "window_xcorr": [round(x, 3) for x in scores],
            "first_sound_offset_ms": round(1000 * first_diff_s, 1),
            "full_track_window_offsets_ms": [round(1000 * x, 1) for x in full_lags],
            "full_track_window_xcorr": [round(x, 3) for x in full_scores],
            "xcorr_min": round(min_score, 3), "xcorr_median": round(float(np.median(scores)), 3),
            "full_ogg_s": round(len(audio) / ANALYSIS_SR, 2),
            "full_midi_s": round(mid.length, 2),
        }
        reasons = []
        if spread_ms > 8:
            reasons.append(f"offset varies by {spread_ms:.0f} ms across the excerpt")
        if abs(first_diff_s - offset_s) > 0.02:
            reasons.append(f"first-sound offset {1000 * first_diff_s:.0f} ms disagrees with xcorr {1000 * offset_s:.0f} ms")
        if min_score < 0.5:
            reasons.append(f"render/OGG envelope correlation only {min_score:.2f} in some window")
        # beats in OGG time: MIDI time + offset, within the excerpt, from the first note on
        first_tick = notes[0][0] if notes else 0
        last_tick = notes[-1][0] if notes else 0
        beats_all, tmap = beats_from_midi(mid, phase, last_tick + tpb, start_tick=first_tick - tpb // 2)
        beats = [(k, t + offset_s, b) for k, t, b in beats_all if 0 <= t + offset_s < seg_end - 0.05]
        ex = audio[: int(seg_end * ANALYSIS_SR)]
        onsets = pick_onsets(onset_envelope(ex))
        check = click_check([t for _, t, _ in beats], onsets, len(ex))
        # same check against the fluidsynth render of the MIDI with unshifted beats
        rbeats = [t - offset_s for _, t, _ in beats]
        rex = render[: int(seg_end * ANALYSIS_SR)]
        check_r = click_check(rbeats, pick_onsets(onset_envelope(rex)), len(rex))
        info.update({
            "duration_s": round(seg_end, 3), "n_beats": len(beats), "meter": "4/4",
            "tempo_min_bpm": round(tmap.bpm_range(0, beats[-1][0])[0], 2) if beats else None,
            "tempo_max_bpm": round(tmap.bpm_range(0, beats[-1][0])[1], 2) if beats else None,
            "check_audio": check, "check_fluidsynth_render": check_r,
        })
        # The detector places a click's onset earlier than an instrument's (attack time), so the
        # absolute median is a bias of ~10-15 ms; what matters is that the OGG agrees with the
        # MIDI's own render, where the beats are exact by construction.
        if (check["median_ms"] is None or check_r["median_ms"] is None or abs(check["median_ms"]) > 25
                or abs(check["median_ms"] - check_r["median_ms"]) > 5 or check["matched"] < 0.5):
            reasons.append(f"click check failed: OGG {check}, render {check_r}")
        sigs = {(m.numerator, m.denominator) for _, m in meta_events(mid, "time_signature")}
        if sigs and sigs != {(4, 4)}:
            info["meter"] = ",".join(f"{n}/{d}" for n, d in sorted(sigs))
        if reasons:
            info["excluded"] = "; ".join(reasons)
            log(f"{name}: EXCLUDED ({info['excluded']})")
            failures += 1
            (out / f"{name}.excluded.json").write_text(json.dumps(info, indent=1))
            continue
        # lossless excerpt at the original rate and channels, starting at the OGG's first sample
        flac = out / f"{name}.flac"
        cmd = ["nice", "-n", "10", "ffmpeg", "-v", "error", "-y", "-i", str(ogg)]
        if excerpt_s > 0:
            cmd += ["-t", f"{seg_end:.3f}"]
        subprocess.run(cmd + ["-c:a", "flac", str(flac)], check=True)
        write_song(out, name, flac, beats, info)
        log(f"{name}: offset {1000 * offset_s:+.1f} ms (spread {spread_ms:.1f} ms over {len(lags)} windows, "
            f"first sound {1000 * first_diff_s:+.1f} ms, whole track {np.round(1000 * full_lags).tolist()} ms, "
            f"xcorr>={min_score:.2f}), phase {phase:.2f} ticks, {len(beats)} beats, "
            f"click vs OGG onsets {check['median_ms']} ms (MAD {check['mad_ms']}, matched {check['matched']}), "
            f"vs render {check_r['median_ms']} ms")
    return failures


# ----------------------------------------------------------------------------- MMA

MMA_PKG = "mma (grooves) + fluid-soundfont-gm (FluidR3_GM.sf2)"
MMA_LICENCE = "GPL-2+ (MMA groove library); FluidR3_GM sound font MIT"

# name, groove file (lib-relative, for `Use`), groove, style, meter, tempo plan
# tempo plan: ("const", bpm) | ("ramp", start, end) over the whole song |
#             ("mid", start, end, ramp_bars) steady, ramp in the middle, steady
SONGS = [
    ("mma-rock", "casio/rock1", "Rock1", "rock", 4, ("const", 118)),
    ("mma-50srock", "stdlib/50srock", "50sRock", "50s rock", 4, ("const", 164)),
    ("mma-poprock", "casio/poprock1", "PopRock1", "pop rock", 4, ("const", 104)),
    ("mma-8beatpop-accel", "casio/8beatpop1", "8BeatPop1", "pop", 4, ("ramp", 96, 132)),
    ("mma-popballad", "stdlib/popballad", "PopBallad", "pop ballad", 4, ("const", 72)),
    ("mma-pianoballad", "stdlib/pianoballad", "PianoBallad", "ballad", 4, ("const", 80)),
    ("mma-bvfunk", "stdlib/bvfunk", "BVFunk", "funk", 4, ("const", 96)),
    ("mma-funk", "casio/funk1", "Funk1", "funk", 4, ("const", 110)),
    ("mma-swing-rit", "stdlib/swing", "Swing", "jazz swing", 4, ("mid", 150, 120, 8)),
    ("mma-jazzwaltz", "stdlib/jazzwaltz", "JazzWaltz", "jazz waltz", 3, ("const", 138)),
    ("mma-waltz-accel", "stdlib/waltz", "Waltz", "waltz", 3, ("ramp", 84, 116)),
    ("mma-countrywaltz", "stdlib/countrywaltz", "CountryWaltz", "country waltz", 3, ("const", 108)),
    ("mma-bossanova", "stdlib/bossanova", "BossaNova", "latin (bossa nova)", 4, ("const", 128)),
    ("mma-salsa", "stdlib/salsa", "Salsa", "latin (salsa)", 4, ("const", 176)),
    ("mma-mambo", "stdlib/mambo", "Mambo", "latin (mambo)", 4, ("const", 140)),
    ("mma-countryswing", "stdlib/countryswing", "CountrySwing", "country", 4, ("const", 146)),
    ("mma-bluegrass", "stdlib/bluegrass", "BlueGrass", "country (bluegrass)", 4, ("const", 170)),
    ("mma-disco", "casio/discosoul", "DiscoSoul", "disco", 4, ("const", 120)),
    ("mma-house", "casio/house", "House", "electronic (house)", 4, ("const", 126)),
    ("mma-metal-rit", "casio/heavymetal", "HeavyMetal", "metal", 4, ("ramp", 150, 112)),
    ("mma-ska", "stdlib/ska", "Ska", "ska", 4, ("const", 156)),
    ("mma-rockwaltz", "stdlib/rockwaltz", "RockWaltz", "rock waltz", 3, ("const", 92)),
]

MAJOR = ["", "m", "m", "", "", "m", "dim"]
MAJOR7 = ["maj7", "m7", "m7", "maj7", "7", "m7", "m7b5"]
NOTES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
SCALE = [0, 2, 4, 5, 7, 9, 11]


def chord_name(key: int, degree: int, sevenths: bool) -> str:
    root = NOTES[(key + SCALE[degree]) % 12]
    return root + (MAJOR7 if sevenths else MAJOR)[degree]


def progression(rng: random.Random, bars: int, sevenths: bool) -> list[str]:
    """Random diatonic progression in a random key: 4-bar phrases starting on I (or vi), mostly
    repeated in pairs, ending on I."""
    key = rng.randrange(12)
    minor = rng.random() < 0.3
    tonic = 5 if minor else 0
    pool = [1, 2, 3, 4, 5] if not minor else [0, 1, 2, 3, 4]
    phrases = []
    while sum(len(p) for p in phrases) < bars:
        if phrases and rng.random() < 0.5:
            phrases.append(list(phrases[-1]))
        else:
            phrases.append([tonic] + [rng.choice(pool) for _ in range(3)])
    degs = [d for p in phrases for d in p][:bars]
    degs[-1] = tonic
    return [chord_name(key, d, sevenths) for d in degs]


def mma_script(song, rng: random.Random) -> tuple[str, int, float]:
    name, lib, groove, style, meter, plan = song
    dur_target = rng.uniform(60, 86)
    start_bpm = plan[1]
    end_bpm = plan[2] if plan[0] in ("ramp", "mid") else plan[1]
    mean_bpm = (start_bpm + end_bpm) / 2
    bars = max(8, int(round(dur_target * mean_bpm / 60 / meter)))
    sevenths = "jazz" in style or "bossa" in style or "swing" in style
    chords = progression(rng, bars, sevenths)
    # RndSeed makes MMA's own humanisation (RTime, RVolume, RSkip, ...) reproducible
    lines = [f"// {name}: {style}, generated by scripts/devset.py (seeded)", f"RndSeed {rng.randrange(1, 1 << 30)}",
             f"Use {lib}", f"Groove {groove}", f"Tempo {start_bpm}"]
    ramp_at, ramp_bars = None, 0
    if plan[0] == "ramp":
        ramp_at, ramp_bars = 2, bars - 3  # after two bars, gradual to the second-last bar
    elif plan[0] == "mid":
        ramp_bars = plan[3]
        ramp_at = (bars - ramp_bars) // 2
    for i, ch in enumerate(chords):
        if ramp_at is not None and i == ramp_at:
            # MMA steps the tempo once per beat over the given number of beats (see MMA ref §Tempo)
            lines.append(f"Tempo {end_bpm} {ramp_bars * meter}b")
        lines.append(f"{i + 1} {ch}")
    return "\n".join(lines) + "\n", bars, dur_target


def split_midi(mid: mido.MidiFile, keep_drums: bool) -> mido.MidiFile:
    """A copy with only the drum channel's (keep_drums) or only the other channels' channel
    messages; meta messages and timing are kept so all renders share the same timeline."""
    out = mido.MidiFile(type=mid.type, ticks_per_beat=mid.ticks_per_beat)
    for tr in mid.tracks:
        new = mido.MidiTrack()
        pending = 0
        for msg in tr:
            pending += msg.time
            if not msg.is_meta and hasattr(msg, "channel") and (msg.channel == DRUM_CHANNEL) != keep_drums:
                continue
            new.append(msg.copy(time=pending))
            pending = 0
        out.tracks.append(new)
    return out


def flatten_tempo(mid: mido.MidiFile, tpb: int = 960) -> mido.MidiFile:
    """The same performance re-timed to one constant tempo (120 BPM, `tpb` ticks per beat).

    fluidsynth's MIDI player re-anchors its clock at each tempo change to the tick it had reached
    at its last callback, so every change adds up to one period of error: a 150-step MMA ramp
    rendered at 44.1 kHz drifted by 100 ms. With a single tempo there is nothing to accumulate,
    and the beats still come from the original tempo map.
    """
    tmap = TempoMap(mid)
    sec_per_tick = 0.5 / tpb
    out = mido.MidiFile(type=mid.type, ticks_per_beat=tpb)
    for i, tr in enumerate(mid.tracks):
        new = mido.MidiTrack()
        if i == 0:
            new.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
        tick, last = 0, 0
        for msg in tr:
            tick += msg.time
            if msg.is_meta and msg.type == "set_tempo":
                continue
            t_new = int(round(tmap.seconds(tick) / sec_per_tick))
            new.append(msg.copy(time=max(0, t_new - last)))
            last = max(last, t_new)
        out.tracks.append(new)
    return out


def read_float_wav(path: Path) -> tuple[np.ndarray, int]:
    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return y, sr


def cmd_mma(mma_home: Path, mma_bin: Path, out: Path, seed: int, render_sr: int, only: set[str]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    src = out / "mma-src"
    src.mkdir(exist_ok=True)
    env = dict(os.environ, MMA_HOME=str(mma_home))
    failures = 0
    for idx, song in enumerate(SONGS):
        name, lib, groove, style, meter, plan = song
        if only and name not in only:
            continue
        rng = random.Random(seed * 1000 + idx)
        text, bars, dur_target = mma_script(song, rng)
        mma_file = src / f"{name}.mma"
        mid_file = src / f"{name}.mid"
        mma_file.write_text(text)
        subprocess.run([sys.executable, str(mma_bin), str(mma_file), "-f", str(mid_file)],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        mid = mido.MidiFile(str(mid_file))
        tpb = mid.ticks_per_beat
        end_tick = bars * meter * tpb  # end of the last bar
        beats, tmap = beats_from_midi(mid, 0, end_tick - 1)
        sigs = {(m.numerator, m.denominator) for _, m in meta_events(mid, "time_signature")}
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            stems = {}
            for stem, keep in (("drums", True), ("rest", False)):
                part = tmp / f"{stem}.mid"
                flatten_tempo(split_midi(mid, keep)).save(str(part))
                fluidsynth_render(part, tmp / f"{stem}.wav", render_sr)
                stems[stem], _ = read_float_wav(tmp / f"{stem}.wav")
            n = max(len(s) for s in stems.values())
            for k in stems:
                stems[k] = np.pad(stems[k], ((0, n - len(stems[k])), (0, 0)))
            mix = stems["drums"] + stems["rest"]
            # one gain for all three so that drums + rest == mix; peak at -1 dBFS
            gain = 10 ** (-1 / 20) / max(1e-6, float(np.abs(mix).max()))
            for k, y in (("drums", stems["drums"]), ("rest", stems["rest"]), ("mix", mix)):
                path = out / (f"{name}.flac" if k == "mix" else f"{name}.{k}.flac")
                sf.write(str(path), y * gain, render_sr, subtype="PCM_16")
        beat_times = [t for _, t, _ in beats]
        checks = {}
        for k, suffix in (("mix", ".flac"), ("drums", ".drums.flac")):
            y = load_mono(out / f"{name}{suffix}")
            onsets = pick_onsets(onset_envelope(y))
            checks[k] = click_check(beat_times, onsets, len(y))
            if k == "drums":
                # every distinct drum-note time of the MIDI vs the drum stem's onsets: this tests
                # the render's timing, independent of where the beats fall
                note_times = sorted({tmap.seconds(n[0]) for n in midi_notes(mid) if n[1] == DRUM_CHANNEL})
                checks["drum_notes"] = match_onsets(np.array(note_times), onsets)
        write_beats(out / f"{name}.beats", beats)
        lo, hi = tmap.bpm_range(0, end_tick - 1)
        info = {
            "name": name, "source_package": MMA_PKG, "licence": MMA_LICENCE, "kind": "mma",
            "style": style, "groove": f"{lib}:{groove}", "audio": f"{name}.flac",
            "drums": f"{name}.drums.flac", "rest": f"{name}.rest.flac",
            "duration_s": round(duration_s(out / f"{name}.flac"), 3), "bars": bars,
            "meter": ",".join(f"{a}/{b}" for a, b in sorted(sigs)) or f"{meter}/4",
            "tempo_min_bpm": round(lo, 2), "tempo_max_bpm": round(hi, 2), "tempo_plan": list(plan),
            "n_beats": len(beats), "music_end_s": round(tmap.seconds(end_tick), 3),
            "check_audio": checks["mix"], "check_drums": checks["drums"],
            "check_drum_notes": checks["drum_notes"], "seed": seed * 1000 + idx,
        }
        if sigs != {(meter, 4)}:
            info["excluded"] = f"time signature {sigs} differs from the planned {meter}/4"
        elif (checks["drums"]["median_ms"] is None or abs(checks["drums"]["median_ms"]) > 15
              or checks["drum_notes"]["matched"] < 0.8):
            info["excluded"] = f"click check failed: {checks['drums']}, drum notes {checks['drum_notes']}"
        if "excluded" in info:
            failures += 1
            log(f"{name}: EXCLUDED ({info['excluded']})")
            (out / f"{name}.excluded.json").write_text(json.dumps(info, indent=1))
            for suffix in (".flac", ".drums.flac", ".rest.flac", ".beats"):
                (out / f"{name}{suffix}").unlink(missing_ok=True)
            continue
        (out / f"{name}.json").write_text(json.dumps(info, indent=1))
        log(f"{name}: {info['duration_s']:.1f} s, {info['meter']}, {lo:.0f}-{hi:.0f} BPM, {len(beats)} beats; "
            f"click vs drum-stem onsets {checks['drums']['median_ms']} ms (MAD {checks['drums']['mad_ms']}, "
            f"matched {checks['drums']['matched']}), vs mix {checks['mix']['median_ms']} ms "
            f"(matched {checks['mix']['matched']}); drum notes vs drum onsets {checks['drum_notes']}")
    return failures


# ----------------------------------------------------------------------------- MMA training songs

# The development set's groove files: never used for training songs, so the MMA part of the
# development set stays unseen grooves.
DEVSET_GROOVE_FILES = {lib for _, lib, *_ in SONGS}
MMA_TRAIN_LIBS = ("stdlib", "casio", "yamaha", "zoom", "kara", "pflib", "alexis")


def groove_files(mma_home: Path):
    """(lib-relative name, first DefGroove, beats per bar) of every groove file in x/4 with 3 or
    4 beats per bar that is not one of the development set's."""
    out = []
    for lib in MMA_TRAIN_LIBS:
        for f in sorted((mma_home / "lib" / lib).glob("*.mma")):
            rel = f"{lib}/{f.stem}"
            if rel in DEVSET_GROOVE_FILES:
                continue
            text = f.read_text(errors="replace")
            time, groove = None, None
            for line in text.splitlines():
                words = line.split("//")[0].split()
                if len(words) >= 2 and words[0].lower() == "time" and time is None:
                    time = words[1]
                if len(words) >= 2 and words[0].lower() == "defgroove" and groove is None:
                    groove = words[1]
            if groove is None or time not in ("3", "4", "3/4", "4/4"):
                continue
            out.append((rel, groove, int(time[0])))
    return out


def cmd_mma_train(mma_home: Path, mma_bin: Path, out: Path, seed: int, count: int, render_sr: int,
                  soundfonts: list[str]) -> int:
    """`count` songs from random groove files (not the development set's), random tempo 70-170 BPM
    (a fifth with a +-20 % ramp), 60-86 s, rendered as one mix with one of `soundfonts` (drawn per
    song from its own seeded generator, so the songs are the same whatever the list). For
    supervised training on exact beats; the development set's checks of the MMA + fluidsynth
    timing apply (same renderer)."""
    out.mkdir(parents=True, exist_ok=True)
    src = out / "mma-src"
    src.mkdir(exist_ok=True)
    env = dict(os.environ, MMA_HOME=str(mma_home))
    files = groove_files(mma_home)
    rng0 = random.Random(seed)
    log(f"{len(files)} groove files available")
    failures = 0
    for idx in range(count):
        rng = random.Random(seed * 100003 + idx)
        lib, groove, meter = files[rng0.randrange(len(files))]
        soundfont = soundfonts[random.Random(seed * 7919 + idx).randrange(len(soundfonts))]
        bpm = round(70 * (170 / 70) ** rng.random())
        plan = ("const", bpm)
        if rng.random() < 0.2:
            plan = ("ramp", bpm, round(bpm * rng.choice([0.8, 1.2])))
        name = f"train-{idx:03d}-{lib.replace('/', '-')}"
        if (out / f"{name}.json").exists():
            continue
        song = (name, lib, groove, "train", meter, plan)
        text, bars, _ = mma_script(song, rng)
        mma_file, mid_file = src / f"{name}.mma", src / f"{name}.mid"
        mma_file.write_text(text)
        r = subprocess.run([sys.executable, str(mma_bin), str(mma_file), "-f", str(mid_file)],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0 or not mid_file.exists():
            failures += 1
            log(f"{name}: mma failed")
            continue
        mid = mido.MidiFile(str(mid_file))
        sigs = {(m.numerator, m.denominator) for _, m in meta_events(mid, "time_signature")}
        if sigs and sigs != {(meter, 4)}:
            failures += 1
            log(f"{name}: skipped, time signature {sigs} is not {meter}/4")
            continue
        end_tick = bars * meter * mid.ticks_per_beat
        beats, tmap = beats_from_midi(mid, 0, end_tick - 1)
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "mix.wav"
            flatten_tempo(mid).save(str(Path(tmp) / "mix.mid"))
            fluidsynth_render(Path(tmp) / "mix.mid", wav, render_sr, soundfont=soundfont)
            y, _ = read_float_wav(wav)
        peak = float(np.abs(y).max())
        if peak < 1e-4:
            failures += 1
            log(f"{name}: silent render")
            continue
        sf.write(str(out / f"{name}.flac"), y * (10 ** (-1 / 20) / peak), render_sr, subtype="PCM_16")
        write_beats(out / f"{name}.beats", beats)
        lo, hi = tmap.bpm_range(0, end_tick - 1)
        info = {"name": name, "source_package": MMA_PKG, "licence": MMA_LICENCE, "kind": "mma-train",
                "groove": f"{lib}:{groove}", "audio": f"{name}.flac", "meter": f"{meter}/4",
                "duration_s": round(duration_s(out / f"{name}.flac"), 3), "bars": bars,
                "tempo_min_bpm": round(lo, 2), "tempo_max_bpm": round(hi, 2), "tempo_plan": list(plan),
                "n_beats": len(beats), "seed": seed * 100003 + idx, "soundfont": Path(soundfont).name}
        (out / f"{name}.json").write_text(json.dumps(info, indent=1))
        log(f"{name}: {lib}:{groove} {meter}/4 {lo:.0f}-{hi:.0f} BPM, {info['duration_s']:.1f} s, "
            f"{Path(soundfont).name}")
    return failures


# ----------------------------------------------------------------------------- Frets on Fire

# pack folder -> Debian package, licence (from the package's copyright file), style
FOF_PACKS = {
    "muldjord": ("fretsonfire-songs-muldjord",
                 "CC-BY-SA-3.0 (songs, performances and charts (c) 2009 El Senator, Muldjord)", "metal"),
    "sectoid": ("fretsonfire-songs-sectoid",
                "Expat/MIT-style (songs, performances and charts (c) 2006-2007 Carlos Viola Iborra, Sectoid)",
                "rock/metal"),
}
# FoF's noteMap (Song.py): one octave-wide block of five frets per difficulty
FOF_DIFFICULTIES = {"amazing (expert)": 0x60, "medium": 0x54, "easy": 0x48, "supaeasy": 0x3C}
FOF_EXPERT = 0x60
FOF_SEARCH_S = 0.15         # offset search range of the cross-correlation
FOF_MIN_SHIFT_MS = 5.0      # renders with exact beats give drum onset - beat of -1.8..+3.5 ms
FOF_MAX_RESIDUAL_MS = 15.0  # |backing onset - beat| after the correction
FOF_MIN_MATCHED = 0.6       # beats with a backing-track onset within +-50 ms
FOF_WINDOW_S = 30.0
FOF_MAX_SPREAD_MS = 10.0    # spread of the window offsets: more means no fixed click
FOF_SECTION_S = 10.0        # no 10 s section may sit more than FOF_MAX_RESIDUAL_MS off the beats
FOF_MAX_LEN_DIFF_S = 0.001  # song.ogg vs guitar.ogg


def fof_name(pack: str, folder: str) -> str:
    return f"fof-{pack}-" + "_".join(folder.lower().split())


def probe_audio(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                          "stream=codec_name,sample_rate,channels,duration_ts", "-of", "json", str(path)],
                         capture_output=True, check=True, text=True).stdout
    s = json.loads(out)["streams"][0]
    return {"codec": s.get("codec_name"), "sample_rate": int(s["sample_rate"]), "channels": int(s["channels"]),
            "samples": int(s.get("duration_ts") or 0)}


def load_stereo(path: Path, sr: int = 44100) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-ac", "2", "-ar", str(sr), "-f", "f32le", "-"],
        capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)


def fof_ini(path: Path) -> dict:
    import configparser
    cp = configparser.RawConfigParser(strict=False)
    cp.read(path, encoding="latin-1")
    sec = cp["song"] if cp.has_section("song") else {}
    return {k: sec.get(k) for k in ("name", "artist", "delay") if sec.get(k) is not None}


def fof_exclude(out: Path, info: dict, reasons: list[str]) -> int:
    """Writes NAME.excluded.json (every number measured so far) and removes the song's other files."""
    name = info["name"]
    info["excluded"] = "; ".join(reasons)
    log(f"{name}: EXCLUDED ({info['excluded']})")
    (out / f"{name}.excluded.json").write_text(json.dumps(info, indent=1))
    for suffix in (".flac", ".beats", ".json"):
        (out / f"{name}{suffix}").unlink(missing_ok=True)
    return 1


def cmd_fof(songs_dir: Path, out: Path, only: set[str]) -> int:
    """Frets on Fire songs: the mix of song.ogg (backing) and guitar.ogg (the lead guitar), beats from
    the tempo map of the game chart notes.mid, checked and corrected for a constant offset against
    the backing track's onsets (drums) and the chart's expert notes against guitar.ogg's onsets."""
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    search = int(round(FOF_SEARCH_S * FPS))
    for pack, (pkg, licence, style) in FOF_PACKS.items():
        for d in sorted(p for p in (songs_dir / pack).glob("*") if (p / "notes.mid").exists()):
            name = fof_name(pack, d.name)
            if only and name not in only:
                continue
            ini = fof_ini(d / "song.ini")
            delay_ms = float(ini.get("delay", 0) or 0)
            mid = mido.MidiFile(str(d / "notes.mid"))
            tpb = mid.ticks_per_beat
            tmap = TempoMap(mid)
            notes = midi_notes(mid)
            per_diff = {k: sum(1 for n in notes if lo <= n[2] < lo + 5) for k, lo in FOF_DIFFICULTIES.items()}
            expert_ticks = sorted({n[0] for n in notes if FOF_EXPERT <= n[2] < FOF_EXPERT + 5})
            # FoF plays a chart event at t when the audio is at t + delay (GuitarScene.getSongPosition)
            note_s = np.array([tmap.seconds(t) for t in expert_ticks]) + delay_ms / 1000
            on_grid = float(np.mean([t % (tpb // 4) == 0 for t in expert_ticks])) if expert_ticks else 0.0
            sigs = sorted({(m.numerator, m.denominator) for _, m in meta_events(mid, "time_signature")})
            info = {
                "name": name, "source_package": pkg, "licence": licence, "kind": "real-chart", "style": style,
                "title": ini.get("name", d.name), "artist": ini.get("artist", ""), "pack": pack,
                "song_folder": d.name, "ticks_per_beat": tpb, "song_ini_delay_ms": delay_ms,
                "tempo_events": len(meta_events(mid, "set_tempo")),
                "meter": ",".join(f"{a}/{b}" for a, b in sigs) or "4/4",
                "meter_source": "chart time signature" if sigs else "none in the chart: 4/4 assumed",
                "chart_notes": per_diff, "expert_note_times": len(expert_ticks),
                "expert_notes_on_16th_grid": round(on_grid, 3),
            }
            reasons = []
            # 1. audio: backing + guitar (decoded to 44.1 kHz stereo), peak -1 dBFS, 16-bit
            pr = {k: probe_audio(d / f"{k}.ogg") for k in ("song", "guitar")}
            info["stems"] = pr
            back_st, gtr_st = load_stereo(d / "song.ogg"), load_stereo(d / "guitar.ogg")
            len_diff = (len(back_st) - len(gtr_st)) / 44100
            info["stem_length_diff_s"] = round(len_diff, 6)
            rates = {(p["sample_rate"], p["channels"]) for p in pr.values()}
            if len(rates) > 1:
                reasons.append(f"song.ogg and guitar.ogg differ in sample rate or channels: {pr}")
            if abs(len_diff) > FOF_MAX_LEN_DIFF_S:
                reasons.append(f"song.ogg and guitar.ogg lengths differ by {len_diff:.3f} s")
            n = max(len(back_st), len(gtr_st))
            mix = np.pad(back_st, ((0, n - len(back_st)), (0, 0))) + np.pad(gtr_st, ((0, n - len(gtr_st)), (0, 0)))
            gain = 10 ** (-1 / 20) / max(1e-6, float(np.abs(mix).max()))
            flac = out / f"{name}.flac"
            sf.write(str(flac), mix * gain, 44100, subtype="PCM_16")
            del back_st, gtr_st, mix
            # 2. analysis (22.05 kHz mono): the written mix, the backing track, the guitar
            y_mix, y_back, y_gtr = load_mono(flac), load_mono(d / "song.ogg"), load_mono(d / "guitar.ogg")
            ns = len(y_mix)
            env_back, env_gtr = onset_envelope(y_back), onset_envelope(y_gtr)
            on_mix, on_back, on_gtr = pick_onsets(onset_envelope(y_mix)), pick_onsets(env_back), pick_onsets(env_gtr)
            loud = np.flatnonzero(np.abs(y_mix) > np.abs(y_mix).max() * 0.01)
            first_sound = float(loud[0]) / ANALYSIS_SR if len(loud) else 0.0
            last_onset = float(on_mix[-1]) if len(on_mix) else ns / ANALYSIS_SR
            info.update({"first_sound_s": round(first_sound, 3), "last_mix_onset_s": round(last_onset, 3),
                         "audio_s": round(ns / ANALYSIS_SR, 3)})
            # 3. the chart's beats (every quarter note from tick 0), in audio time before any correction
            end_tick = int(np.ceil(ns / ANALYSIS_SR * 1e6 / tmap.tempos.min() * tpb)) + tpb
            try:
                chart, _ = beats_from_midi(mid, 0, end_tick)
            except ValueError as e:
                reasons.append(str(e))
                chart = []
            chart = [(k, t + delay_ms / 1000, b) for k, t, b in chart]
            span = np.array([t for _, t, _ in chart if first_sound - 0.05 <= t <= last_onset + 0.05])
            if len(span) < 16 or len(note_s) < 16:
                reasons.append(f"too few beats ({len(span)}) or expert notes ({len(note_s)})")
            if reasons:
                failures += fof_exclude(out, info, reasons)
                continue
            # 4. offset search: click track at the beats vs the backing track, notes vs guitar.ogg
            env_click = onset_envelope(click_track(span, ns))
            lat = match_onsets(span, pick_onsets(env_click))["median_ms"]  # detected click - beat
            lag, score = xcorr_lag(env_click, env_back, search)
            off_back = 1000 * lag / FPS + lat  # backing onset - beat (ms)
            half = int(0.5 * float(np.median(np.diff(span))) * FPS) - 1
            lag_w, score_w = xcorr_lag(env_click, env_back, half)
            env_notes = onset_envelope(click_track(note_s, ns))
            lat_n = match_onsets(note_s, pick_onsets(env_notes))["median_ms"]
            lag_n, score_n = xcorr_lag(env_notes, env_gtr, search)
            off_gtr_x = 1000 * lag_n / FPS + lat_n
            gtr = match_onsets(note_s, on_gtr)
            # matches expected by chance: guitar onsets per second over the chart's notes, Poisson
            sel = (on_gtr >= note_s[0] - 0.05) & (on_gtr <= note_s[-1] + 0.05)
            rate = float(sel.sum()) / max(1e-3, float(note_s[-1] - note_s[0]))
            chance = 1 - np.exp(-rate * 2 * MATCH_WINDOW_S)
            raw_back = match_onsets(span, on_back)
            agree = (gtr["median_ms"] is not None and np.sign(gtr["median_ms"]) == np.sign(off_back)
                     and np.sign(off_gtr_x) == np.sign(off_back))
            shift_ms = off_back if abs(off_back) > FOF_MIN_SHIFT_MS and agree else 0.0
            info.update({
                "xcorr_backing_offset_ms": round(off_back, 2), "xcorr_backing_score": round(score, 3),
                "xcorr_backing_half_beat_search_offset_ms": round(1000 * lag_w / FPS + lat, 2),
                "xcorr_backing_half_beat_search_score": round(score_w, 3),
                "xcorr_guitar_notes_offset_ms": round(off_gtr_x, 2), "xcorr_guitar_notes_score": round(score_n, 3),
                "check_backing_raw": raw_back,
                "check_guitar_notes": {**gtr, "n_notes": len(note_s), "guitar_onsets_per_s": round(rate, 2),
                                       "chance_matched": round(float(chance), 3)},
                "guitar_notes_agree_in_sign": bool(agree), "offset_applied_ms": round(shift_ms, 2),
            })
            if abs(lag) >= search - 1:
                reasons.append(f"backing offset at the search limit ({1000 * lag / FPS:.0f} ms)")
            # 5. the beats: shifted, from the first sound (or the first chart note after a lead-in
            # without a beat) to the last onset of the mix
            beats = [(k, t + shift_ms / 1000, b) for k, t, b in chart]
            t0 = first_sound - 0.05
            first_note = float(note_s[0]) + shift_ms / 1000
            lead = np.array([t for _, t, _ in beats if t0 <= t < first_note - 0.05])
            lead_chk = match_onsets(lead, on_mix) if len(lead) else {}
            info["lead_in"] = {"beats": len(lead), **lead_chk}
            # a lead-in is kept when its onsets sit on the beats: most beats matched, tightly, near 0 ms
            # (onsets that fall at random within +-50 ms give a MAD of ~25 ms)
            if len(lead) >= 4 and not (lead_chk["matched"] >= 0.5 and lead_chk["mad_ms"] is not None
                                       and lead_chk["mad_ms"] <= 10 and abs(lead_chk["median_ms"]) <= 15):
                t0 = max(t for _, t, _ in beats if t <= first_note + 0.05) - 0.001
                info["lead_in"]["dropped"] = True
            beats = [(k, t, b) for k, t, b in beats if max(0.0, t0) <= t <= last_onset + 0.05]
            bt = np.array([t for _, t, _ in beats])
            if len(bt) < 16:
                failures += fof_exclude(out, info, [f"only {len(bt)} beats left"])
                continue
            # 6. checks on the kept beats
            chk_mix = click_check(bt, on_mix, ns)
            chk_back = click_check(bt, on_back, ns)
            resid = None if chk_back["median_ms"] is None else chk_back["median_ms"] + chk_back["click_latency_ms"]
            wins = []
            for s in np.arange(bt[0], bt[-1], FOF_WINDOW_S):
                w = bt[(bt >= s) & (bt < s + FOF_WINDOW_S)]
                m = match_onsets(w, on_back)
                ok = len(w) >= 8 and m["matched"] >= 0.5
                wins.append({"start_s": round(float(s), 1), "beats": len(w), "median_ms": m["median_ms"],
                             "matched": m["matched"], "used": bool(ok)})
            used = [w["median_ms"] for w in wins if w["used"]]
            spread = float(max(used) - min(used)) if len(used) >= 2 else None
            # shorter sections: a 30 s median hides a 10 s passage that sits elsewhere
            secs = []
            for s in np.arange(bt[0], bt[-1], FOF_SECTION_S):
                w = bt[(bt >= s) & (bt < s + FOF_SECTION_S)]
                m = match_onsets(w, on_back)
                if len(w) >= 8 and m["matched"] >= 0.5:
                    secs.append([round(float(s), 1), m["median_ms"], m["mad_ms"], m["matched"]])
            worst = max(secs, key=lambda x: abs(x[1])) if secs else None
            lo, hi = tmap.bpm_range(beats[0][0], beats[-1][0])
            info.update({
                "check_audio": chk_mix, "check_backing": chk_back,
                "backing_onset_minus_beat_ms": round(resid, 2) if resid is not None else None,
                "windows": wins, "window_spread_ms": round(spread, 2) if spread is not None else None,
                "sections_10s": secs, "worst_section": worst,
                "n_beats": len(beats), "first_beat_s": round(float(bt[0]), 3), "last_beat_s": round(float(bt[-1]), 3),
                "tempo_min_bpm": round(lo, 2), "tempo_max_bpm": round(hi, 2),
            })
            if resid is None or abs(resid) > FOF_MAX_RESIDUAL_MS:
                reasons.append(f"backing onset - beat {resid} ms after the correction")
            if chk_back["matched"] < FOF_MIN_MATCHED:
                reasons.append(f"only {chk_back['matched']:.0%} of the beats have a backing-track onset")
            if spread is None or spread > FOF_MAX_SPREAD_MS:
                reasons.append(f"offset varies by {spread} ms across {FOF_WINDOW_S:.0f} s windows "
                               f"({[w['median_ms'] for w in wins if w['used']]})")
            if worst is not None and abs(worst[1]) > FOF_MAX_RESIDUAL_MS:
                reasons.append(f"{worst[0]:.0f}-{worst[0] + FOF_SECTION_S:.0f} s: backing onsets {worst[1]:+.1f} ms "
                               f"from the beats (MAD {worst[2]} ms, {worst[3]:.0%} matched)")
            if reasons:
                failures += fof_exclude(out, info, reasons)
                continue
            (out / f"{name}.excluded.json").unlink(missing_ok=True)
            write_song(out, name, flac, beats, info)
            log(f"{name}: {info['duration_s']:.1f} s, {lo:.0f} BPM, {len(beats)} beats from {bt[0]:.2f} s; "
                f"backing offset {off_back:+.1f} ms (applied {shift_ms:+.1f}), guitar notes {gtr['median_ms']} ms "
                f"(xcorr {off_gtr_x:+.1f}, matched {gtr['matched']} vs chance {chance:.2f}); after: backing onset - "
                f"beat {resid:+.1f} ms (MAD {chk_back['mad_ms']}, matched {chk_back['matched']}), windows "
                f"{used} (spread {spread:.1f} ms), worst 10 s section {worst}")
    return failures


# ----------------------------------------------------------------------------- manifest

FIELDS = ["name", "source_package", "licence", "kind", "style", "duration_s", "meter", "tempo_min_bpm",
          "tempo_max_bpm", "n_beats", "audio", "beats", "drums", "rest", "check_median_ms", "check_matched",
          "check_click_latency_ms"]


def cmd_manifest(out: Path) -> None:
    """devset.csv: one row per kept song. check_* is the click check against the drum stem for
    MMA songs, against the backing track (song.ogg) for Frets on Fire and against the OGG for
    planetblupi (median audio onset minus detected click, ms; fraction of beats with an onset within
    50 ms; the detector's latency on the clicks, ms)."""
    rows = []
    for js in sorted(out.glob("*.json")):
        if js.name.endswith(".excluded.json"):
            continue
        info = json.loads(js.read_text())
        chk = info.get("check_drums") or info.get("check_backing") or info.get("check_audio") or {}
        rows.append({
            **{k: info.get(k, "") for k in FIELDS},
            "beats": f"{info['name']}.beats",
            "check_median_ms": chk.get("median_ms", ""),
            "check_matched": chk.get("matched", ""),
            "check_click_latency_ms": chk.get("click_latency_ms", ""),
        })
    with open(out / "devset.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    log(f"devset.csv: {len(rows)} songs, {sum(float(r['duration_s']) for r in rows) / 60:.1f} min")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("blupi")
    b.add_argument("src", type=Path, help="folder holding musicNNN.ogg and musicNNN.mid")
    b.add_argument("out", type=Path)
    b.add_argument("--excerpt-s", type=float, default=120.0, help="first N seconds of each track (0: all)")
    m = sub.add_parser("mma")
    m.add_argument("mma_home", type=Path, help="MMA's data folder (holds lib/ and MMA/)")
    m.add_argument("mma_bin", type=Path, help="the mma launcher script")
    m.add_argument("out", type=Path)
    m.add_argument("--seed", type=int, default=4)
    m.add_argument("--sample-rate-hz", type=int, default=44100)
    m.add_argument("--only", default="", help="comma-separated song names (default: all)")
    t = sub.add_parser("mma-train", help="random-groove songs for supervised training (not the devset's grooves)")
    t.add_argument("mma_home", type=Path)
    t.add_argument("mma_bin", type=Path)
    t.add_argument("out", type=Path)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--count", type=int, default=100)
    t.add_argument("--sample-rate-hz", type=int, default=22050)
    t.add_argument("--soundfonts", default="", help="comma-separated sound fonts, one drawn per song "
                   "(default: $SOUNDFONT)")
    fo = sub.add_parser("fof")
    fo.add_argument("songs_dir", type=Path, help="Frets on Fire's data/songs folder (holds muldjord/ and sectoid/)")
    fo.add_argument("out", type=Path)
    fo.add_argument("--only", default="", help="comma-separated song names (default: all)")
    f = sub.add_parser("manifest")
    f.add_argument("out", type=Path)
    a = ap.parse_args()
    if a.cmd == "blupi":
        cmd_blupi(a.src, a.out, a.excerpt_s)
    elif a.cmd == "mma":
        cmd_mma(a.mma_home, a.mma_bin, a.out, a.seed, a.sample_rate_hz, {x for x in a.only.split(",") if x})
    elif a.cmd == "mma-train":
        cmd_mma_train(a.mma_home, a.mma_bin, a.out, a.seed, a.count, a.sample_rate_hz,
                      [x for x in a.soundfonts.split(",") if x] or [SOUNDFONT])
    elif a.cmd == "fof":
        cmd_fof(a.songs_dir, a.out, {x for x in a.only.split(",") if x})
    else:
        cmd_manifest(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
