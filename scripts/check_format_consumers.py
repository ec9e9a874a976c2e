#!/usr/bin/env python3
"""Reads ZeroNS exports with the libraries that consume them and compares the beats.

    cargo run -p zerons --example export_formats -- /tmp/zerons_formats
    python scripts/check_format_consumers.py /tmp/zerons_formats

Needs mido (MIDI), jams (JAMS, validated against its schemas) and pyrekordbox (Rekordbox
XML); a library that is missing is reported and skipped. Exit status 1 on any mismatch.
"""
import json
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

failures = []


def check(name, ok, detail):
    print(("ok   " if ok else "FAIL ") + name + ": " + detail)
    if not ok:
        failures.append(name)


def max_err(a, b):
    if len(a) != len(b):
        return float("inf")
    return max((abs(x - y) for x, y in zip(a, b)), default=0.0)


def midi_beats(path):
    """Beat times of a tempo map, computed with mido alone: every 1/denominator note from
    the first beat ('first beat' marker, else one beat in) to the end of the track."""
    import mido

    mf = mido.MidiFile(path)
    ppq = mf.ticks_per_beat
    tempos, sigs, marker, end = [], [], None, 0
    for track in mf.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                sigs.append((tick, msg.numerator, msg.denominator))
            elif msg.type == "marker" and msg.text.strip().lower() == "first beat" and marker is None:
                marker = tick
        end = max(end, tick)
    tempos.sort(key=lambda t: t[0])
    sigs.sort(key=lambda s: s[0])
    if not sigs or sigs[0][0] > 0:
        sigs.insert(0, (0, 4, 4))
    tpb0 = ppq * 4 // sigs[0][2]
    first = marker if marker is not None else tpb0
    beat_ticks = []
    for i, (start, num, den) in enumerate(sigs):
        stop = sigs[i + 1][0] if i + 1 < len(sigs) else end + 1
        tpb = ppq * 4 // den
        t = start
        m = 0
        while t < stop:
            if first <= t <= end:
                beat_ticks.append((t, m % num + 1))
            t += tpb
            m += 1

    def seconds(tick):
        s, at, tempo = 0.0, 0, 500000
        for t, v in tempos:
            if t > tick:
                break
            s += mido.tick2second(t - at, ppq, tempo)
            at, tempo = t, v
        return s + mido.tick2second(tick - at, ppq, tempo)

    return [seconds(t) for t, _ in beat_ticks], [p for _, p in beat_ticks]


def main(out):
    warnings.simplefilter("ignore", DeprecationWarning)
    manifest = json.loads((out / "manifest.json").read_text())
    for case, m in manifest.items():
        times, positions, files = m["times_s"], m["positions"], m["files"]
        try:
            import mido  # noqa: F401

            got, pos = midi_beats(files["midi"])
            err = max_err(got, times)
            check(f"{case}/midi (mido)", err <= 1e-6 and pos == positions,
                  f"{len(got)} beats, max error {err * 1e6:.3f} us, positions {'match' if pos == positions else 'DIFFER'}")
        except ImportError:
            print("skip midi: mido not installed")
        try:
            import jams

            warnings.simplefilter("ignore", DeprecationWarning)
            jam = jams.load(files["jams"], validate=True, strict=True)
            ann = jam.search(namespace="beat")[0]
            got = [o.time for o in ann.data]
            vals = [o.value for o in ann.data]
            err = max_err(got, times)
            check(f"{case}/jams (jams.load strict)", err == 0 and vals == positions,
                  f"{len(got)} beats, max error {err}")
        except ImportError:
            print("skip jams: jams not installed")
        try:
            from pyrekordbox.rbxml import RekordboxXml

            xml = RekordboxXml(files["rekordbox"])
            tracks = xml.get_tracks()
            t = tracks[0]
            tempos = [(x.Inizio, x.Bpm, x.Metro, x.Battito) for x in t.tempos]
            # Expand the grid as Rekordbox does: each TEMPO holds until the next.
            grid = []
            for i, (start, bpm, _, _) in enumerate(tempos):
                period = 60.0 / bpm
                nxt = tempos[i + 1][0] - period / 2 if i + 1 < len(tempos) else float(t["TotalTime"]) + 5e-4
                k = 0
                while start + k * period < nxt or (k == 0):
                    grid.append(start + k * period)
                    k += 1
                    if i + 1 == len(tempos) and start + k * period > nxt:
                        break
            err = max_err(grid[: len(times)], times)
            # pyrekordbox's decode_path drops the leading "/" of a POSIX path in the
            # file://localhost/ URI (Rekordbox's own form, spec §4.3); accept that.
            loc = t["Location"]
            same_path = Path(m["audio_path"]) in (Path(loc), Path("/" + loc))
            check(f"{case}/rekordbox (pyrekordbox)", len(tracks) == 1 and err <= 0.0055 and same_path,
                  f"{len(tempos)} TEMPO, Location {'ok' if same_path else t['Location']}, max error {err * 1e3:.2f} ms, Metro {tempos[0][2]}")
        except ImportError:
            print("skip rekordbox: pyrekordbox not installed")
        for fmt in ("svl", "traktor"):
            try:
                ET.parse(files[fmt])
                check(f"{case}/{fmt} (xml.etree)", True, "well-formed XML")
            except ET.ParseError as e:
                check(f"{case}/{fmt} (xml.etree)", False, str(e))
    print(f"{len(failures)} failed" if failures else "all consumers agree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/zerons_formats")))
