#!/usr/bin/env python3
"""Development benchmark v3 (issue 18, item 1): the parts added to the v2 development set, the
genre groups and the dev/test split. Called by scripts/build_devset_v3.sh; recipe in DEVSET.md
("Development benchmark v3").

Subcommands (each resumable: a song whose NAME.json exists is skipped):
  midi SRC_X OUT       held-out game MIDI (Debian openttd-openmsx, simutrans-data) rendered with
                       MuseScore General (a sound font the training corpus never uses)
  gmd OUT              Groove MIDI test split (human drummers) + accompaniment from the v2 devset's
                       MMA grooves (never used for training), rendered with MuseScore General
  tracker SRC_X OUT    tracker modules of the packages held out of training (libopenmpt)
  manifest OUT         genre group, source unit and dev/test split of every song -> devset.csv

SRC_X is a folder with one `dpkg -x` tree per package: SRC_X/<package>/usr/...
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import render_corpus as rc  # noqa: E402
from devset import DRUM_CHANNEL, TempoMap, flatten_tempo, midi_notes, mma_script, progression  # noqa: E402

SR = 44100
EXCERPT_S = float(os.environ.get("DEVSET_EXCERPT_S", "150"))
FONT = Path(os.environ.get("DEVSET_FONT", "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"))
GROUPS = ["electronic/dance", "hip-hop/pop", "rock", "metal", "acoustic/folk", "jazz/swing", "latin/world",
          "orchestral/expressive", "chiptune/game"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- held-out MIDI

# (package, file, genre group, source unit). Genre groups were assigned from the titles, the GM
# instrumentation (program counts) and the tempo maps (files whose tempo changes by > 10 % go to
# orchestral/expressive); the openMSX "redfarn" and "imuh3" songs are one composer each, so one unit.
MIDI_SONGS = [
    # openttd-openmsx (GPL-2)
    ("openttd-openmsx", "flying_scotsman.mid", "rock", "openmsx:flying_scotsman"),
    ("openttd-openmsx", "ttsong_iii_imuh3.mid", "electronic/dance", "openmsx:imuh3"),
    ("openttd-openmsx", "ttsong_iv_imuh3.mid", "hip-hop/pop", "openmsx:imuh3"),
    ("openttd-openmsx", "ultimate_run.mid", "electronic/dance", "openmsx:ultimate_run"),
    ("openttd-openmsx", "modern_motion.mid", "hip-hop/pop", "openmsx:modern_motion"),
    ("openttd-openmsx", "busy_schedule.mid", "jazz/swing", "openmsx:busy_schedule"),
    ("openttd-openmsx", "keep_on_rolling.mid", "jazz/swing", "openmsx:keep_on_rolling"),
    ("openttd-openmsx", "the_fast_route.mid", "jazz/swing", "openmsx:the_fast_route"),
    ("openttd-openmsx", "city_blues_redfarn.mid", "jazz/swing", "openmsx:redfarn"),
    ("openttd-openmsx", "no_work_song_redfarn.mid", "jazz/swing", "openmsx:redfarn"),
    ("openttd-openmsx", "boogi_marabi_redfarn.mid", "latin/world", "openmsx:redfarn"),
    ("openttd-openmsx", "coconut_run2.mid", "latin/world", "openmsx:coconut_run2"),
    ("openttd-openmsx", "wood_whistles.mid", "acoustic/folk", "openmsx:wood_whistles"),
    ("openttd-openmsx", "harp_harmony.mid", "orchestral/expressive", "openmsx:harp_harmony"),
    ("openttd-openmsx", "linns_basket.mid", "orchestral/expressive", "openmsx:linns_basket"),
    ("openttd-openmsx", "midnight_snow_run.mid", "orchestral/expressive", "openmsx:midnight_snow_run"),
    ("openttd-openmsx", "be_sharp_bw_redfarn.mid", "orchestral/expressive", "openmsx:redfarn"),
    ("openttd-openmsx", "chuggachugga.mid", "orchestral/expressive", "openmsx:chuggachugga"),
    # simutrans-data (Artistic-1.0)
    ("simutrans-data", "09-Simupolitan-Swing.mid", "jazz/swing", "simutrans:09"),
    ("simutrans-data", "13-Stephenson-blues.mid", "jazz/swing", "simutrans:13"),
    ("simutrans-data", "16-Midnight-Express2.mid", "jazz/swing", "simutrans:16"),
    ("simutrans-data", "15-The-Wayside-Blues.mid", "jazz/swing", "simutrans:15"),
    ("simutrans-data", "19-Rockin-trucker.mid", "rock", "simutrans:19"),
    ("simutrans-data", "36-faded-things.mid", "rock", "simutrans:36"),
    ("simutrans-data", "32-incidental-skies.mid", "rock", "simutrans:32"),
    ("simutrans-data", "18-Ride-that-train.mid", "rock", "simutrans:18"),
    ("simutrans-data", "46-House-in-the-station.mid", "electronic/dance", "simutrans:46"),
    ("simutrans-data", "28-Road-to-Warm-Places.mid", "electronic/dance", "simutrans:28"),
    ("simutrans-data", "12-Steamin-across-the-prairies.mid", "electronic/dance", "simutrans:12"),
    ("simutrans-data", "40-alternative.mid", "electronic/dance", "simutrans:40"),
    ("simutrans-data", "51-Summer-Intersection.mid", "hip-hop/pop", "simutrans:51"),
    ("simutrans-data", "39-bangin-mover.mid", "hip-hop/pop", "simutrans:39"),
    ("simutrans-data", "34-flyingaway.mid", "acoustic/folk", "simutrans:34"),
    ("simutrans-data", "06-A-busy-day-at-the-depot.mid", "acoustic/folk", "simutrans:06"),
    ("simutrans-data", "23-Something-for-Silver-Sand.mid", "acoustic/folk", "simutrans:23"),
    ("simutrans-data", "14-Last-journey-of-the-Niagara.mid", "acoustic/folk", "simutrans:14"),
    ("simutrans-data", "33-Journey-to-times-gone-by.mid", "acoustic/folk", "simutrans:33"),
    ("simutrans-data", "41-Libertador.mid", "latin/world", "simutrans:41"),
    ("simutrans-data", "26-Tantalizingly-Unusual.mid", "latin/world", "simutrans:26"),
    ("simutrans-data", "11-Stucked-Convoi.mid", "orchestral/expressive", "simutrans:11"),
    ("simutrans-data", "43-Driving-on-the-midnight-highway.mid", "orchestral/expressive", "simutrans:43"),
    ("simutrans-data", "29-Runaway.mid", "orchestral/expressive", "simutrans:29"),
    ("simutrans-data", "25-Float-on-by.mid", "orchestral/expressive", "simutrans:25"),
]
MIDI_LICENCES = {
    "openttd-openmsx": "GPL-2 (OpenMSX authors, see the package's readme.txt)",
    "simutrans-data": "Artistic-1.0 (Simutrans, (c) 1997-2004 Hansjorg Malthaner and contributors)",
}


def find_file(root: Path, name: str) -> Path:
    hits = [p for p in root.rglob(name)]
    if not hits:
        raise FileNotFoundError(f"{name} not in {root}")
    return hits[0]


def render_font(mid: mido.MidiFile, font: Path = FONT) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        m, w = Path(tmp) / "x.mid", Path(tmp) / "x.wav"
        rc.terminate_notes(flatten_tempo(mid)).save(str(m))
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(SR), "-O", "float", "-T", "wav",
                        "-F", str(w), str(font), str(m)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=max(120.0, 2 * mid.length))
        y, _ = sf.read(str(w), dtype="float32", always_2d=True)
    return y.mean(axis=1)


def write_song(out: Path, name: str, y: np.ndarray, beats, info: dict) -> None:
    """Cuts to EXCERPT_S (50 ms fade-out), peak −1 dBFS, 16-bit mono FLAC; beats within the audio."""
    n = min(len(y), int(EXCERPT_S * SR)) if EXCERPT_S > 0 else len(y)
    y = y[:n].copy()
    fade = int(0.05 * SR)
    if n > fade:
        y[-fade:] *= np.linspace(1, 0, fade)
    peak = float(np.abs(y).max())
    if peak < 1e-5:
        raise RuntimeError("silent")
    sf.write(str(out / f"{name}.flac"), y * (10 ** (-1 / 20) / peak), SR, subtype="PCM_16")
    dur = n / SR
    beats = [(t, p) for t, p in beats if t <= dur - 0.1]
    with open(out / f"{name}.beats", "w") as fh:
        fh.writelines(f"{t:.6f}\t{p}\n" for t, p in beats)
    ibi = np.diff([t for t, _ in beats])
    info.update(audio=f"{name}.flac", beats=f"{name}.beats", duration_s=round(dur, 3), n_beats=len(beats),
                tempo_min_bpm=round(float(60 / ibi.max()), 2), tempo_max_bpm=round(float(60 / ibi.min()), 2))
    (out / f"{name}.json").write_text(json.dumps(info, indent=1))


def cmd_midi(src: Path, out: Path) -> int:
    fails = 0
    for pkg, fname, group, unit in MIDI_SONGS:
        name = f"{'omsx' if pkg == 'openttd-openmsx' else 'simu'}-{Path(fname).stem.lower()}"
        if (out / f"{name}.json").exists():
            continue
        try:
            path = find_file(src / pkg, fname)
            mid = mido.MidiFile(str(path))
            chk = rc.freedoom_grid_check(mid)
            if chk["on_grid"] is not None and chk["on_grid"] < rc.FREEDOOM_MIN_ON_GRID:
                raise RuntimeError(f"drum hits on the grid {chk['on_grid']}")
            s0, s1 = rc.song_span(mid)
            beats, tmap, meters = rc.midi_beats(mid, s0, s1)
            y = render_font(mid)
        except Exception as e:  # noqa: BLE001
            fails += 1
            log(f"{name}: excluded: {e}")
            (out / f"{name}.excluded.json").write_text(json.dumps({"name": name, "reason": str(e)}))
            continue
        lo, hi = tmap.bpm_range(s0, s1)
        info = {"name": name, "kind": "midi-render", "source_package": pkg, "licence": MIDI_LICENCES[pkg],
                "file": fname, "genre_group": group, "unit": unit, "meters": meters, "soundfont": FONT.name,
                "grid_check": chk, "tempo_map_bpm": [round(lo, 2), round(hi, 2)],
                "beats_from": "MIDI tempo map and time signatures (quarter notes; 6/8, 12/8: dotted quarters)"}
        write_song(out, name, y, beats, info)
        log(f"{name}: {group}, {info['duration_s']:.0f} s, {lo:.0f}-{hi:.0f} BPM")
    return fails


# ----------------------------------------------------------------------------- Groove MIDI test split

# GMD style -> the v2 development set's MMA groove files (never used for training)
GMD_DEV_GROOVES = {
    "funk": [("casio/funk1", "Funk1"), ("stdlib/bvfunk", "BVFunk")],
    "soul": [("stdlib/popballad", "PopBallad"), ("casio/discosoul", "DiscoSoul")],
    "hiphop": [("casio/funk1", "Funk1"), ("stdlib/bvfunk", "BVFunk")],
    "pop": [("casio/poprock1", "PopRock1"), ("casio/8beatpop1", "8BeatPop1")],
    "rock": [("casio/rock1", "Rock1"), ("casio/poprock1", "PopRock1")],
    "punk": [("stdlib/50srock", "50sRock"), ("casio/rock1", "Rock1")],
    "jazz": [("stdlib/swing", "Swing")],
    "latin": [("stdlib/bossanova", "BossaNova"), ("stdlib/salsa", "Salsa"), ("stdlib/mambo", "Mambo")],
    "afrobeat": [("stdlib/salsa", "Salsa"), ("stdlib/mambo", "Mambo")],
    "highlife": [("stdlib/ska", "Ska")],
    "reggae": [("stdlib/ska", "Ska")],
}
GMD_GROUP = {"funk": "hip-hop/pop", "soul": "hip-hop/pop", "hiphop": "hip-hop/pop", "pop": "hip-hop/pop",
             "rock": "rock", "punk": "rock", "jazz": "jazz/swing", "latin": "latin/world",
             "afrobeat": "latin/world", "highlife": "latin/world", "reggae": "latin/world"}
GMD_MIN_S = 30


def gmd_test_rows():
    rows = [r for r in csv.DictReader(open(rc.GMD_DIR / "info.csv"))
            if r["split"] == "test" and r["beat_type"] == "beat" and r["time_signature"] == "4-4"
            and float(r["duration"]) >= GMD_MIN_S]
    # the eval sessions repeat the same ten grooves for each drummer: keep one drummer per groove
    seen, out = set(), []
    for r in sorted(rows, key=lambda r: hashlib.sha256(r["midi_filename"].encode()).hexdigest()):
        key = r["style"] if "groove" in r["style"] else r["midi_filename"]
        if key in seen:
            continue
        seen.add(key)
        out.append(r)
    return sorted(out, key=lambda r: r["midi_filename"])


def cmd_gmd(out: Path) -> int:
    fails = 0
    for r in gmd_test_rows():
        style = r["style"].split("/")[0]
        if style not in GMD_GROUP:
            continue
        name = "gmd-" + Path(r["midi_filename"]).stem.split("_")[0] + "-" + r["drummer"] + "-" + r["style"].replace("/", "-")
        if (out / f"{name}.json").exists():
            continue
        rng = random.Random(int(hashlib.sha256(name.encode()).hexdigest()[:12], 16))
        lib, groove = GMD_DEV_GROOVES[style][rng.randrange(len(GMD_DEV_GROOVES[style]))]
        try:
            with tempfile.TemporaryDirectory() as tmpd:
                mid, extra = gmd_devset_midi(r, lib, groove, rng, Path(tmpd))
            # Beats run to the last note of drums *or* accompaniment: MMA plays on for up to two
            # bars after the drummer's last hit, at the click's tempo (until 2026-12-07 the beats
            # stopped at the last drum note and charged a tracker that followed the music there).
            end_tick = max(extra["end_tick"], midi_notes(mid)[-1][0])
            beats, tmap, meters = rc.midi_beats(mid, 0, end_tick)
            y = render_font(mid)
        except Exception as e:  # noqa: BLE001
            fails += 1
            log(f"{name}: excluded: {e}")
            continue
        info = {"name": name, "kind": "gmd-render", "source_package": "Groove MIDI Dataset (test split) + mma",
                "licence": "CC-BY-4.0 (Gillick et al. 2019) + GPL-2+ (MMA grooves)", "file": r["midi_filename"],
                "genre_group": GMD_GROUP[style], "unit": f"gmd:{r['drummer']}", "meters": meters,
                "soundfont": FONT.name, "accompaniment": f"{lib}:{groove}", "style": r["style"],
                "beats_from": "the click (the file's tempo from tick 0) to the last note of drums or accompaniment; "
                              "the drums are a human performance"}
        write_song(out, name, y, beats, info)
        log(f"{name}: {info['genre_group']}, {info['duration_s']:.0f} s")
    return fails


def gmd_devset_midi(row, lib, groove, rng, tmp):
    """As render_corpus.gmd_with_accompaniment, with a given (devset) groove."""
    saved = rc.accompaniment_grooves
    meter = int(row["time_signature"][0])
    rc.accompaniment_grooves = lambda: [(lib, groove, meter)]
    saved_map = rc.GMD_STYLE_GROOVES
    rc.GMD_STYLE_GROOVES = {}
    try:
        return rc.gmd_with_accompaniment(row, rng, tmp)
    finally:
        rc.accompaniment_grooves = saved
        rc.GMD_STYLE_GROOVES = saved_map


# ----------------------------------------------------------------------------- tracker modules (held out)

TRACKER_DEVSET_PACKAGES = {
    "heroes-sound-tracks": "GPL-2+ ((c) 1997-2000 Alexandre Duret-Lutz, Romuald Genevois and others)",
    "pachi-data": "GPL-2+ ((c) 2002-2003 Santiago and Nicolas Radeff, Peter Hajba)",
    "open-invaders-data": "GPL-2+ ((c) 2006-2010 Darryl LeCount)",
}
def cmd_tracker(src: Path, out: Path) -> int:
    mpt = rc.OpenMPT()
    fails = 0
    seen = set()
    for pkg, lic in TRACKER_DEVSET_PACKAGES.items():
        for path in sorted(p for p in (src / pkg).rglob("*") if p.suffix.lower() in rc.MODULE_EXT):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            name = f"mod-{pkg.split('-')[0]}-{path.stem.lower()}"
            if (out / f"{name}.json").exists() or (out / f"{name}.excluded.json").exists():
                continue
            rpb, rpbar, how = rc.module_rows_per_beat(path)
            y, rows, meta = mpt.render(path.read_bytes(), sr=SR)
            beats, rpb2, factor = rc.fold_level(rpb, rpbar, rows)
            dur = len(y) / SR
            if dur < 30 or len(beats) < 16:
                (out / f"{name}.excluded.json").write_text(json.dumps({"name": name, "reason": f"short: {dur:.0f} s"}))
                log(f"{name}: excluded (short)")
                continue
            info = {"name": name, "kind": "tracker", "source_package": pkg, "licence": lic, "file": path.name,
                    "genre_group": "chiptune/game", "unit": f"tracker:{pkg}", "meters": [f"{rpbar // rpb2}/4"],
                    "rows_per_beat": rpb2, "rows_per_bar": rpbar, "rows_per_beat_from": how,
                    "level_factor": factor, "module": meta,
                    "beats_from": "row start times reported by libopenmpt while rendering; beat = rows-per-beat rule"}
            write_song(out, name, y, beats, info)
            log(f"{name}: {info['duration_s']:.0f} s, rows/beat {rpb2} ({how}, x{factor})")
    return fails


# ----------------------------------------------------------------------------- manifest and split

V2_GROUPS = {
    "mma-rock": "rock", "mma-50srock": "rock", "mma-poprock": "rock", "mma-rockwaltz": "rock",
    "mma-8beatpop-accel": "orchestral/expressive", "mma-popballad": "hip-hop/pop", "mma-pianoballad": "hip-hop/pop",
    "mma-bvfunk": "hip-hop/pop", "mma-funk": "hip-hop/pop", "mma-swing-rit": "jazz/swing",
    "mma-jazzwaltz": "jazz/swing", "mma-waltz-accel": "orchestral/expressive", "mma-countrywaltz": "acoustic/folk",
    "mma-bossanova": "latin/world", "mma-salsa": "latin/world", "mma-mambo": "latin/world",
    "mma-countryswing": "acoustic/folk", "mma-bluegrass": "acoustic/folk", "mma-disco": "electronic/dance",
    "mma-house": "electronic/dance", "mma-metal-rit": "metal", "mma-ska": "latin/world",
}


def v2_group_unit(name: str) -> tuple[str, str]:
    if name.startswith("blupi-"):
        return "chiptune/game", "blupi"
    if name.startswith("fof-"):
        return "metal", "fof:" + name.split("-")[1]
    if name in V2_GROUPS:
        return V2_GROUPS[name], "mma:" + name
    raise KeyError(name)


def h(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def assign_split(songs: list[dict]) -> dict:
    """Source units -> 'dev' / 'test'. Each unit goes whole to one side. A unit's group is its most
    common genre group; within each group the units are ordered by SHA-256 of the unit name and
    alternate dev, test, dev, ... (so every group with two or more units has both)."""
    by_unit: dict = {}
    for s in songs:
        by_unit.setdefault(s["unit"], []).append(s["genre_group"])
    unit_group = {u: max(sorted(set(g)), key=g.count) for u, g in by_unit.items()}
    split = {}
    for grp in GROUPS:
        units = sorted((u for u, g in unit_group.items() if g == grp), key=h)
        for i, u in enumerate(units):
            split[u] = "dev" if i % 2 == 0 else "test"
    return split


def cmd_manifest(out: Path) -> None:
    songs = []
    for j in sorted(out.glob("*.json")):
        if j.name.endswith(".excluded.json"):
            continue
        info = json.loads(j.read_text())
        if "name" not in info or not (out / info.get("audio", "-")).exists():
            continue
        if "genre_group" not in info:
            info["genre_group"], info["unit"] = v2_group_unit(info["name"])
        songs.append(info)
    split = assign_split(songs)
    frozen = Path(__file__).resolve().parent / "devset_v3_split.csv"
    if frozen.exists():  # the committed split wins: a rebuild that loses a song cannot move a unit
        fixed = {r["unit"]: r["split"] for r in csv.DictReader(open(frozen))}
        new = sorted(u for u in split if u not in fixed)
        if new:
            log(f"units not in {frozen.name} (computed split used): {new}")
        split = {u: fixed.get(u, sp) for u, sp in split.items()}
    else:
        log(f"{frozen.name} missing: split computed from the songs present")
    with open(out / "split_units.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["unit", "genre_group", "split"])
        by_unit = {}
        for s in songs:
            by_unit.setdefault(s["unit"], []).append(s["genre_group"])
        for u in sorted(split):
            g = by_unit[u]
            w.writerow([u, max(sorted(set(g)), key=g.count), split[u]])
    fields = ["name", "audio", "beats", "genre_group", "unit", "split", "kind", "source_package", "licence",
              "duration_s", "n_beats", "meter", "tempo_min_bpm", "tempo_max_bpm"]
    with open(out / "devset.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for s in sorted(songs, key=lambda s: (GROUPS.index(s["genre_group"]), s["name"])):
            beats = out / f"{s['name']}.beats"
            bt = np.loadtxt(beats, ndmin=2)
            ibi = np.diff(bt[:, 0]) if len(bt) > 1 else np.array([1.0])
            w.writerow({**s, "beats": beats.name, "split": split[s["unit"]],
                        "n_beats": len(bt), "meter": s.get("meter") or " ".join(s.get("meters", [])),
                        "tempo_min_bpm": s.get("tempo_min_bpm", round(float(60 / ibi.max()), 2)),
                        "tempo_max_bpm": s.get("tempo_max_bpm", round(float(60 / ibi.min()), 2))})
    # summary
    print("| genre group | dev songs | dev min | test songs | test min |")
    print("|---|---|---|---|---|")
    tot = {"dev": [0, 0.0], "test": [0, 0.0]}
    for g in GROUPS:
        c = {"dev": [0, 0.0], "test": [0, 0.0]}
        for s in songs:
            if s["genre_group"] == g:
                sp = split[s["unit"]]
                c[sp][0] += 1
                c[sp][1] += s["duration_s"] / 60
                tot[sp][0] += 1
                tot[sp][1] += s["duration_s"] / 60
        print(f"| {g} | {c['dev'][0]} | {c['dev'][1]:.1f} | {c['test'][0]} | {c['test'][1]:.1f} |")
    print(f"| **all** | {tot['dev'][0]} | {tot['dev'][1]:.1f} | {tot['test'][0]} | {tot['test'][1]:.1f} |")
    print(f"{len(songs)} songs, {sum(s['duration_s'] for s in songs) / 3600:.2f} h")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("midi")
    m.add_argument("src", type=Path)
    m.add_argument("out", type=Path)
    g = sub.add_parser("gmd")
    g.add_argument("out", type=Path)
    t = sub.add_parser("tracker")
    t.add_argument("src", type=Path)
    t.add_argument("out", type=Path)
    f = sub.add_parser("manifest")
    f.add_argument("out", type=Path)
    a = ap.parse_args()
    if a.cmd != "manifest" and not FONT.exists():
        sys.exit(f"{FONT} missing (apt-get install musescore-general-soundfont-small)")
    a.out.mkdir(parents=True, exist_ok=True)
    if a.cmd == "midi":
        return 1 if cmd_midi(a.src, a.out) > 5 else 0
    if a.cmd == "gmd":
        return 1 if cmd_gmd(a.out) > 3 else 0
    if a.cmd == "tracker":
        return 1 if cmd_tracker(a.src, a.out) > 3 else 0
    cmd_manifest(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
