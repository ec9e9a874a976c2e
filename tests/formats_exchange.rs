//! Exchange formats for other tools: Sonic Visualiser (CSV, .svl), Audacity labels,
//! Rekordbox XML, Traktor NML and MIDI tempo maps. The examples in `tests/fixtures/formats/`
//! come from the shared `golden/formats/` (hand-written to `specs/tracking-metrics-formats.md`
//! §4; the MIDI file was verified with mido, see the spec §4.7); the writers must reproduce
//! them byte for byte where the spec fixes every byte.

use std::path::{Path, PathBuf};

use zerons::Error;
use zerons::formats::{
    BeatFormat, BeatList, ExportMeta, ExportTrack, GridConfig, GridStyle, Meter, decode_beats,
    encode_beats, format_collection, parse_collection, read_beats, read_beats_as, read_collection,
    write_beats_file, write_collection,
};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats")
        .join(rel)
}

fn golden_beats() -> BeatList {
    BeatList::with_positions(vec![0.5, 1.0, 1.52, 2.0, 2.5], vec![1, 2, 3, 4, 1]).unwrap()
}

/// ZeroNS-style frame times (k / 62.5 s) with a tempo wobble of up to 32 ms.
fn wobbly_beats(with_positions: bool) -> BeatList {
    let times: Vec<f64> = (0..40u32)
        .map(|k| f64::from(31 * k + (k % 3) + 20) / 62.5)
        .collect();
    if with_positions {
        BeatList::with_positions(times, (0..40).map(|k| (k % 4) + 1).collect()).unwrap()
    } else {
        BeatList::new(times)
    }
}

/// A DJ track: 124 BPM drifting to 126 BPM over three minutes, downbeats every 4 beats.
fn dj_beats() -> BeatList {
    let mut t = 0.37;
    let mut times = Vec::new();
    for k in 0..372 {
        times.push(t);
        t += 60.0 / (124.0 + 2.0 * f64::from(k) / 371.0);
    }
    let positions = (0..372).map(|k| (k % 4) + 1).collect();
    BeatList::with_positions(times, positions).unwrap()
}

fn meta() -> ExportMeta {
    ExportMeta {
        duration_s: Some(200.0),
        title: "Señor \"Quote\" & <Co>".into(),
        artist: "Someone".into(),
        audio_path: Some(PathBuf::from("/music/Señor & Co/track 1 (edit).mp3")),
        sample_rate_hz: Some(44_100),
        ..ExportMeta::default()
    }
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol,
            "{what}: beat {k}: {x} vs {y} (tol {tol})"
        );
    }
}

/// A straight grid (the default) stands for the beats as `GridConfig::max_error_s` says: the
/// mean distance over every 6 consecutive beats within it, a single beat within twice it
/// (plus the formats' millisecond rounding); a per-beat grid is exact to the rounding.
fn assert_fits_grid(grid: &[f64], beats: &[f64], cfg: &GridConfig, what: &str) {
    const ROUNDING_S: f64 = 0.5e-3;
    if cfg.style == GridStyle::PerBeat {
        return assert_close(grid, beats, ROUNDING_S + 1e-9, what);
    }
    assert_close(grid, beats, 2.0 * cfg.max_error_s + ROUNDING_S, what);
    let d: Vec<f64> = grid.iter().zip(beats).map(|(g, b)| g - b).collect();
    for (k, w) in d.windows(6).enumerate() {
        let mean = w.iter().sum::<f64>() / 6.0;
        assert!(
            mean.abs() <= cfg.max_error_s + ROUNDING_S,
            "{what}: beats {k}..{}: mean distance {mean}",
            k + 6
        );
    }
}

/// Where the beats of `original` sit in `back` (a grid that may run on before and after):
/// the index of the first one.
fn find_run(original: &[f64], back: &[f64], tol: f64) -> usize {
    let first = original[0];
    back.iter()
        .position(|&t| (t - first).abs() <= tol)
        .unwrap_or_else(|| panic!("first beat {first} not in the grid"))
}

#[test]
fn golden_examples_read() {
    let g = golden_beats();
    let b = read_beats_as(
        &fixture("example_sonic_visualiser_instants.csv"),
        BeatFormat::SvCsv,
    )
    .unwrap();
    assert_eq!(b, g);
    // 67032 / 44100 is 1.52 exactly in binary? Not quite: compare to a frame.
    let b = read_beats(&fixture("example_sonic_visualiser.svl")).unwrap();
    assert_close(&b.times_s, &g.times_s, 1e-12, "svl");
    assert_eq!(b.positions, g.positions);
    let b = read_beats(&fixture("example_audacity_labels.txt")).unwrap();
    assert_eq!(b, g);

    // The MIDI tempo map: beats exactly where mido puts them.
    let b = read_beats(&fixture("example_tempo_map.mid")).unwrap();
    assert_close(&b.times_s, &g.times_s, 1e-12, "mid");
    // Its bars start at tick 0 with the lead-in beat, so the first beat is beat 2.
    assert_eq!(b.positions, Some(vec![2, 3, 4, 1, 2]));

    // Rekordbox: four TEMPO anchors, then 120 BPM to TotalTime = 180 s.
    let tracks = read_collection(&fixture("example_rekordbox.xml")).unwrap();
    assert_eq!(tracks.len(), 1);
    let t = &tracks[0];
    assert_eq!(t.audio_path, Path::new("/home/user/Music/My Song.wav"));
    assert_eq!(
        (t.title.as_str(), t.artist.as_str()),
        ("My Song", "Someone")
    );
    assert_eq!(t.duration_s, Some(180.0));
    assert_eq!(t.meter, Some(Meter::COMMON));
    assert_close(&t.beats.times_s[..5], &g.times_s, 1e-9, "rekordbox");
    assert_eq!(t.beats.len(), 3 + 357);
    assert!(*t.beats.times_s.last().unwrap() <= 180.0);
    let pos = t.beats.positions.as_ref().unwrap();
    assert_eq!(&pos[..6], &[1, 2, 3, 4, 1, 2]);
    assert_eq!(
        read_beats(&fixture("example_rekordbox.xml")).unwrap(),
        t.beats
    );

    // Traktor: one marker at 500 ms, 120 BPM, over the whole 180 s (so from 0 s).
    let tracks = read_collection(&fixture("example_traktor.nml")).unwrap();
    assert_eq!(tracks.len(), 1);
    let t = &tracks[0];
    assert_eq!(t.audio_path, Path::new("/home/user/Music/My Song.wav"));
    assert_eq!(t.beats.times_s[..3], [0.0, 0.5, 1.0]);
    assert_eq!(t.beats.len(), 361);
    assert_eq!(t.beats.positions.as_ref().unwrap()[..3], [4, 1, 2]);
}

#[test]
fn writers_reproduce_the_golden_examples() {
    let g = golden_beats();
    let read = |name: &str| std::fs::read(fixture(name)).unwrap();
    let m = ExportMeta {
        sample_rate_hz: Some(44_100),
        ..ExportMeta::default()
    };
    assert_eq!(
        encode_beats(&g, BeatFormat::SvCsv, &m).unwrap(),
        read("example_sonic_visualiser_instants.csv")
    );
    assert_eq!(
        String::from_utf8(encode_beats(&g, BeatFormat::Svl, &m).unwrap()).unwrap(),
        String::from_utf8(read("example_sonic_visualiser.svl")).unwrap()
    );
    assert_eq!(
        encode_beats(&g, BeatFormat::Audacity, &m).unwrap(),
        read("example_audacity_labels.txt")
    );
    // The 74-byte tempo map of spec §4.7 (times only, 4/4).
    let times_only = BeatList::new(g.times_s.clone());
    let mid = encode_beats(&times_only, BeatFormat::Midi, &ExportMeta::default()).unwrap();
    assert_eq!(mid.len(), 74);
    assert_eq!(mid, read("example_tempo_map.mid"));

    // Traktor: a steady 120 BPM from 0.5 s is one marker, exactly the example.
    let steady = BeatList::new((0..359).map(|k| 0.5 + 0.5 * f64::from(k)).collect());
    let song = ExportMeta {
        duration_s: Some(180.0),
        title: "My Song".into(),
        artist: "Someone".into(),
        audio_path: Some("/home/user/Music/My Song.wav".into()),
        ..ExportMeta::default()
    };
    assert_eq!(
        String::from_utf8(encode_beats(&steady, BeatFormat::Traktor, &song).unwrap()).unwrap(),
        String::from_utf8(read("example_traktor.nml")).unwrap()
    );

    // Rekordbox: the golden beats give the example's four TEMPO anchors with anchors on
    // beats and 5 ms (the variable grid the example was written for; the default straight
    // grid fits 0.5, 1.0, 1.52 as one 10 ms section); the track line carries the same
    // attributes.
    let variable = ExportMeta {
        grid: GridConfig {
            style: GridStyle::Variable,
            max_error_s: 0.005,
        },
        ..song.clone()
    };
    let text =
        String::from_utf8(encode_beats(&g, BeatFormat::Rekordbox, &variable).unwrap()).unwrap();
    let golden = String::from_utf8(read("example_rekordbox.xml")).unwrap();
    let tempos = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.contains("<TEMPO "))
            .map(|l| l.trim().to_string())
            .collect()
    };
    assert_eq!(tempos(&text), tempos(&golden));
    for needle in [
        "Name=\"My Song\"",
        "Artist=\"Someone\"",
        "Kind=\"WAV File\"",
        "TotalTime=\"180\"",
        "AverageBpm=\"120.00\"",
        "Location=\"file://localhost/home/user/Music/My%20Song.wav\"",
        "<NODE Name=\"ZeroNS\" Type=\"1\" KeyType=\"0\" Entries=\"1\">",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
}

#[test]
fn point_formats_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let m = meta();
    let odd = BeatList::new((1..60).map(|k| f64::from(k) * 0.123_456_789_1).collect());
    for beats in [
        wobbly_beats(true),
        wobbly_beats(false),
        odd,
        BeatList::default(),
    ] {
        for (format, tol) in [
            // Half the written resolution, plus float slack.
            (BeatFormat::SvCsv, 0.5e-9 + 1e-13),
            (BeatFormat::Svl, 0.5 / 44_100.0 + 1e-13),
            (BeatFormat::Audacity, 0.5e-6 + 1e-13),
            (BeatFormat::Midi, 0.5e-6 + 1e-13),
        ] {
            let path = dir.path().join(format!("b.{}", format.extension()));
            write_beats_file(&path, &beats, format, &m).unwrap();
            let back = read_beats_as(&path, format).unwrap();
            assert_close(&back.times_s, &beats.times_s, tol, format.name());
            if beats.positions.is_some() || format != BeatFormat::Midi {
                assert_eq!(back.positions, beats.positions, "{format}");
            }
        }
    }
    // MIDI meters: 3/4 and 6/8 (eighth-note beats) keep times and positions.
    for meter in [Meter::new(3, 4).unwrap(), Meter::new(6, 8).unwrap()] {
        let n = meter.beats_per_bar;
        let b = BeatList::with_positions(
            (0..30)
                .map(|k| 0.8 + 0.31 * f64::from(k) + 0.01 * f64::from(k % 2))
                .collect(),
            (0..30).map(|k| (k + 2) % n + 1).collect(),
        )
        .unwrap();
        let m = ExportMeta {
            meter: Some(meter),
            ..ExportMeta::default()
        };
        let back = decode_beats(
            &encode_beats(&b, BeatFormat::Midi, &m).unwrap(),
            BeatFormat::Midi,
            Path::new("m"),
        )
        .unwrap();
        assert_close(&back.times_s, &b.times_s, 1e-6, &meter.to_string());
        assert_eq!(back.positions, b.positions, "{meter}");
    }
}

/// Meter changes within a song, as the app makes them (issue 21: "2 … 9" on a beat, and the
/// short bar "this is beat 1" can leave): a pickup, 4/4, one bar of 2, a 3/4 section, 4/4
/// again. Every format that stores positions must read back exactly the positions written;
/// the point formats and MIDI keep the times too.
#[test]
fn meter_changes_round_trip_through_every_format_that_carries_positions() {
    let mut positions = vec![3, 4];
    for (bars, len) in [(2, 4), (1, 2), (3, 3), (2, 4)] {
        for _ in 0..bars {
            positions.extend(1..=len);
        }
    }
    let n = positions.len();
    let times: Vec<f64> = (0..n).map(|k| 1.0 + 0.5 * k as f64).collect();
    let beats = BeatList::with_positions(times, positions).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = meta();
    for format in BeatFormat::ALL {
        if !format.carries_positions() {
            continue;
        }
        let path = dir.path().join(format!("meters.{}", format.extension()));
        write_beats_file(&path, &beats, format, &m).unwrap();
        let back = read_beats_as(&path, format).unwrap();
        if format.is_collection() {
            // A DJ grid runs on to the track's end: the written beats are a run inside it.
            let start = find_run(&beats.times_s, &back.times_s, 0.011);
            let pos = back.positions.as_ref().unwrap();
            assert_eq!(
                pos[start..start + n],
                beats.positions.as_ref().unwrap()[..],
                "{format}"
            );
        } else {
            assert_close(&back.times_s, &beats.times_s, 1e-3, format.name());
            assert_eq!(back.positions, beats.positions, "{format}");
        }
    }
}

#[test]
fn dj_grids_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let m = meta();
    let per_beat = ExportMeta {
        grid: GridConfig {
            style: GridStyle::PerBeat,
            ..GridConfig::default()
        },
        ..meta()
    };
    // Far enough to find the first beat's grid line, nearer than the next one.
    let tol = 2.0 * GridConfig::default().max_error_s + 0.5e-3;
    for (name, beats) in [
        ("wobbly", wobbly_beats(true)),
        ("wobbly-no-pos", wobbly_beats(false)),
        ("dj", dj_beats()),
    ] {
        for meta in [&m, &per_beat] {
            // Rekordbox: the grid starts on the first beat and runs on to TotalTime.
            let path = dir.path().join("c.xml");
            write_beats_file(&path, &beats, BeatFormat::Rekordbox, meta).unwrap();
            let back = read_beats(&path).unwrap();
            let n = beats.len();
            assert_fits_grid(&back.times_s[..n], &beats.times_s, &meta.grid, name);
            let pos = back.positions.as_ref().unwrap();
            let expected: Vec<u32> = match &beats.positions {
                Some(p) => p.clone(),
                None => (0..n as u32).map(|k| k % 4 + 1).collect(),
            };
            assert_eq!(pos[..n], expected[..], "{name}");
            assert!(back.times_s.last().unwrap() <= &200.0);

            // Traktor: the grid covers the whole track, in 4/4 from downbeat markers.
            let path = dir.path().join("c.nml");
            write_beats_file(&path, &beats, BeatFormat::Traktor, meta).unwrap();
            let back = read_beats(&path).unwrap();
            let start = find_run(&beats.times_s, &back.times_s, tol);
            assert_fits_grid(
                &back.times_s[start..start + n],
                &beats.times_s,
                &meta.grid,
                name,
            );
            // Traktor counts bars from every marker: bars survive where the markers can
            // stay on downbeats (a steady track), not in a free grid.
            if name == "dj" && meta.grid.style != GridStyle::PerBeat {
                let pos = back.positions.as_ref().unwrap();
                assert_eq!(pos[start..start + n], expected[..], "{name}");
            }
        }
    }
    // A steady DJ track needs only a handful of anchors.
    let text =
        String::from_utf8(encode_beats(&dj_beats(), BeatFormat::Rekordbox, &m).unwrap()).unwrap();
    let anchors = text.matches("<TEMPO ").count();
    assert!((2..=12).contains(&anchors), "{anchors} TEMPO entries");
    let text =
        String::from_utf8(encode_beats(&dj_beats(), BeatFormat::Traktor, &m).unwrap()).unwrap();
    let markers = text.matches("TYPE=\"4\"").count();
    assert!((2..=12).contains(&markers), "{markers} grid markers");
    // Per beat: one TEMPO per beat but the last.
    let text =
        String::from_utf8(encode_beats(&dj_beats(), BeatFormat::Rekordbox, &per_beat).unwrap())
            .unwrap();
    assert_eq!(text.matches("<TEMPO ").count(), dj_beats().len() - 1);
}

/// Beats at `bpm` then `bpm2` (from beat `change` on), from 0.3 s, decoded on the 62.5 fps
/// frame grid as the trackers did before sub-frame refinement, bars of 4.
fn framed_beats(bpm: f64, bpm2: f64, change: usize, n: usize) -> BeatList {
    let mut t = 0.3;
    let times = (0..n)
        .map(|k| {
            let now = t;
            t += 60.0 / if k < change { bpm } else { bpm2 };
            (now * 62.5).round() / 62.5
        })
        .collect();
    BeatList::with_positions(times, (0..n as u32).map(|k| k % 4 + 1).collect()).unwrap()
}

fn tempo_entries(xml: &str) -> Vec<(f64, f64)> {
    xml.lines()
        .filter(|l| l.contains("<TEMPO "))
        .map(|l| {
            let num = |key: &str| -> f64 {
                let rest = &l[l.find(key).unwrap() + key.len() + 2..];
                rest[..rest.find('"').unwrap()].parse().unwrap()
            };
            (num("Inizio"), num("Bpm"))
        })
        .collect()
}

/// Regression (issue 19): the 30 s 120 BPM demo exported 38 Rekordbox TEMPO entries (117,
/// 121, 125 BPM) from beats on the 16 ms frame grid. The straight grid writes one; a real
/// tempo change gets one more, on the change.
#[test]
fn straight_grids_mark_only_real_tempo_changes() {
    let m = meta();
    let steady = framed_beats(120.0, 120.0, 0, 60);
    let xml = String::from_utf8(encode_beats(&steady, BeatFormat::Rekordbox, &m).unwrap()).unwrap();
    let tempos = tempo_entries(&xml);
    assert_eq!(tempos.len(), 1, "{xml}");
    assert!((tempos[0].1 - 120.0).abs() <= 0.05, "{tempos:?}");
    let nml = String::from_utf8(encode_beats(&steady, BeatFormat::Traktor, &m).unwrap()).unwrap();
    assert_eq!(nml.matches("TYPE=\"4\"").count(), 1, "{nml}");
    // The grid before: an anchor on a beat, 5 ms.
    let old = ExportMeta {
        grid: GridConfig {
            style: GridStyle::Variable,
            max_error_s: 0.005,
        },
        ..meta()
    };
    let xml =
        String::from_utf8(encode_beats(&steady, BeatFormat::Rekordbox, &old).unwrap()).unwrap();
    assert!(tempo_entries(&xml).len() > 5, "{xml}");

    // 120 BPM for 64 beats, then 128 BPM: two entries, the second on the change (beat 64 or
    // the one after, which fits either tempo).
    let change = framed_beats(120.0, 128.0, 64, 160);
    let at = |k: usize| change.times_s[k];
    for tolerance_ms in [10.0, 15.0] {
        let m = ExportMeta {
            grid: GridConfig {
                max_error_s: tolerance_ms / 1e3,
                ..GridConfig::default()
            },
            ..meta()
        };
        let xml =
            String::from_utf8(encode_beats(&change, BeatFormat::Rekordbox, &m).unwrap()).unwrap();
        let tempos = tempo_entries(&xml);
        assert_eq!(tempos.len(), 2, "{tolerance_ms} ms: {xml}");
        assert!((tempos[0].1 - 120.0).abs() < 0.05 && (tempos[1].1 - 128.0).abs() < 0.05);
        assert!(
            (tempos[1].0 - at(64)).abs() < 0.01 || (tempos[1].0 - at(65)).abs() < 0.01,
            "{tempos:?}"
        );
        // Traktor: markers on downbeats only, so the change's marker sits on beat 64.
        let nml =
            String::from_utf8(encode_beats(&change, BeatFormat::Traktor, &m).unwrap()).unwrap();
        assert_eq!(nml.matches("TYPE=\"4\"").count(), 2, "{nml}");
        let back = decode_beats(nml.as_bytes(), BeatFormat::Traktor, Path::new("t.nml")).unwrap();
        let start = find_run(&change.times_s, &back.times_s, 0.011);
        assert_close(
            &back.times_s[start..start + change.len()],
            &change.times_s,
            tolerance_ms / 1e3 + 1e-6,
            "traktor",
        );
        assert_eq!(
            back.positions.unwrap()[start..start + change.len()],
            change.positions.as_ref().unwrap()[..]
        );
    }
    // A tolerance the frame jitter exceeds splits the steady song: the user's choice.
    let tight = ExportMeta {
        grid: GridConfig {
            max_error_s: 0.002,
            ..GridConfig::default()
        },
        ..meta()
    };
    let xml =
        String::from_utf8(encode_beats(&steady, BeatFormat::Rekordbox, &tight).unwrap()).unwrap();
    assert!(tempo_entries(&xml).len() > 1);
}

#[test]
fn downbeats_survive_a_pickup() {
    // Three pickup beats before the first downbeat, steady 100 BPM, 4/4.
    let times: Vec<f64> = (0..40).map(|k| 1.0 + 0.6 * f64::from(k)).collect();
    let positions: Vec<u32> = (0..40).map(|k| (k + 1) % 4 + 1).collect();
    assert_eq!(positions[..4], [2, 3, 4, 1]);
    let b = BeatList::with_positions(times, positions).unwrap();
    let m = meta();
    // Traktor: one marker, on the first downbeat (beat 3), not on the first beat.
    let text = String::from_utf8(encode_beats(&b, BeatFormat::Traktor, &m).unwrap()).unwrap();
    assert_eq!(text.matches("TYPE=\"4\"").count(), 1, "{text}");
    assert!(text.contains("START=\"2800.000000\""), "{text}");
    let back = decode_beats(text.as_bytes(), BeatFormat::Traktor, Path::new("t.nml")).unwrap();
    let start = find_run(&b.times_s, &back.times_s, 1e-6);
    assert_eq!(
        back.positions.unwrap()[start..start + 40],
        b.positions.as_ref().unwrap()[..]
    );
    // Rekordbox: Battito says the first anchor is beat 2.
    let text = String::from_utf8(encode_beats(&b, BeatFormat::Rekordbox, &m).unwrap()).unwrap();
    assert!(text.contains("Battito=\"2\""), "{text}");
    // MIDI: a count-in so that the first beat is beat 2 of a whole bar.
    let back = decode_beats(
        &encode_beats(&b, BeatFormat::Midi, &m).unwrap(),
        BeatFormat::Midi,
        Path::new("m"),
    )
    .unwrap();
    assert_eq!(back.positions, b.positions);
}

#[test]
fn collections_hold_several_songs() {
    let dir = tempfile::tempdir().unwrap();
    let tracks: Vec<ExportTrack> = (0..3)
        .map(|i| ExportTrack {
            audio_path: PathBuf::from(format!("/music/set/{i:02} – track #{i}.flac")),
            title: format!("Track {i}"),
            artist: "DJ & Co".into(),
            duration_s: Some(190.0),
            beats: if i == 1 {
                wobbly_beats(true)
            } else {
                dj_beats()
            },
            meter: None,
            tempo_bpm: None,
        })
        .collect();
    for format in [BeatFormat::Rekordbox, BeatFormat::Traktor] {
        let path = dir.path().join(format!("set.{}", format.extension()));
        write_collection(&path, &tracks, format, &GridConfig::default()).unwrap();
        let back = read_collection(&path).unwrap();
        assert_eq!(back.len(), 3, "{format}");
        for (a, b) in tracks.iter().zip(&back) {
            assert_eq!(a.audio_path, b.audio_path, "{format}");
            assert_eq!(a.title, b.title);
            assert_eq!(a.artist, b.artist);
            let tol = 2.0 * GridConfig::default().max_error_s + 0.5e-3;
            let start = find_run(&a.beats.times_s, &b.beats.times_s, tol);
            assert_fits_grid(
                &b.beats.times_s[start..start + a.beats.len()],
                &a.beats.times_s,
                &GridConfig::default(),
                format.name(),
            );
        }
        // One song is expected from read_beats; a collection of three is refused.
        let e = read_beats(&path).unwrap_err();
        assert!(e.to_string().contains("3 tracks with beat grids"), "{e}");
        // Other formats are not collections.
        assert!(format_collection(&tracks, BeatFormat::Csv, &GridConfig::default()).is_err());
    }
    // Collections need the audio path, and check every track.
    let e = encode_beats(&dj_beats(), BeatFormat::Rekordbox, &ExportMeta::default()).unwrap_err();
    assert!(e.to_string().contains("path of the audio file"), "{e}");
    let mut bad = tracks.clone();
    bad[2].duration_s = Some(10.0);
    let e = format_collection(&bad, BeatFormat::Traktor, &GridConfig::default()).unwrap_err();
    assert!(e.to_string().contains("before the"), "{e}");
    let mut bad = tracks;
    bad[0].meter = Some(Meter::new(3, 4).unwrap());
    bad[0].beats = wobbly_beats(true);
    let e = format_collection(&bad, BeatFormat::Rekordbox, &GridConfig::default()).unwrap_err();
    assert!(e.to_string().contains("position 4"), "{e}");
    let cfg = GridConfig {
        max_error_s: 1.0,
        ..GridConfig::default()
    };
    assert_eq!(
        format_collection(&[], BeatFormat::Rekordbox, &cfg)
            .unwrap_err()
            .code(),
        "config"
    );
}

#[test]
fn formats_say_what_they_lose() {
    for f in BeatFormat::ALL {
        if !f.carries_positions() || f.is_collection() || f == BeatFormat::Midi {
            assert!(f.limitations().is_some(), "{f}");
        }
        assert!(!f.label().is_empty());
    }
    assert_eq!(BeatFormat::Jams.limitations(), None);
}

#[test]
fn content_decides_without_an_extension() {
    let dir = tempfile::tempdir().unwrap();
    let g = golden_beats();
    for (name, fixture_name, format) in [
        ("a.dat", "example_traktor.nml", BeatFormat::Traktor),
        ("b.dat", "example_rekordbox.xml", BeatFormat::Rekordbox),
        ("c.dat", "example_sonic_visualiser.svl", BeatFormat::Svl),
        ("d.bin", "example_tempo_map.mid", BeatFormat::Midi),
    ] {
        let p = dir.path().join(name);
        std::fs::copy(fixture(fixture_name), &p).unwrap();
        assert_eq!(
            read_beats(&p).unwrap(),
            read_beats_as(&fixture(fixture_name), format).unwrap(),
            "{name}"
        );
    }
    // A .xml that is a Sonic Visualiser layer is not Rekordbox: a clean error.
    let p = dir.path().join("layer.xml");
    std::fs::copy(fixture("example_sonic_visualiser.svl"), &p).unwrap();
    let e = read_beats(&p).unwrap_err();
    assert!(e.to_string().contains("not a Rekordbox XML file"), "{e}");
    // A bzip2 Sonic Visualiser session is named as such.
    let p = dir.path().join("s.sv");
    std::fs::write(&p, b"BZh91AY&SY").unwrap();
    let e = read_beats(&p).unwrap_err();
    assert!(e.to_string().contains("bzip2"), "{e}");
    let _ = g;
}

#[test]
fn errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, usize, &str); 8] = [
        ("a.txt", "0.5\t0.5\t1\n0.4\t0.4\t2\n", 2, "must increase"),
        (
            "b.txt",
            "\\\t1\t2\n0.5\t0.5\t1\nnan\tnan\t2\n",
            3,
            "not a finite number",
        ),
        (
            "c.svl",
            "<sv><data>\n<model id=\"1\" sampleRate=\"0\" type=\"sparse\" dimensions=\"1\" dataset=\"0\"/>\n</data></sv>",
            2,
            "must be > 0",
        ),
        (
            "d.svl",
            "<sv><data>\n<model id=\"1\" sampleRate=\"100\" type=\"sparse\" dimensions=\"1\" dataset=\"0\"/>\n<dataset id=\"0\">\n<point frame=\"5\"/>\n<point frame=\"5\"/>\n</dataset></data></sv>",
            5,
            "duplicate",
        ),
        (
            "e.xml",
            "<DJ_PLAYLISTS>\n<COLLECTION>\n<TRACK Location=\"file://localhost/a.mp3\">\n<TEMPO Inizio=\"1\" Bpm=\"-120\"/>\n</TRACK></COLLECTION></DJ_PLAYLISTS>",
            4,
            "Bpm=\"-120\"",
        ),
        (
            "f.xml",
            "<DJ_PLAYLISTS>\n<COLLECTION>\n<TRACK Location=\"x\">\n<TEMPO Inizio=\"1\" Bpm=\"120\">\n</TRACK></COLLECTION></DJ_PLAYLISTS>",
            5,
            "invalid XML",
        ),
        (
            "g.nml",
            "<NML>\n<COLLECTION>\n<ENTRY>\n<LOCATION FILE=\"a\"/>\n<CUE_V2 TYPE=\"4\" START=\"NaN\"/>\n</ENTRY></COLLECTION></NML>",
            5,
            "START=\"NaN\"",
        ),
        ("h.csv", "0.5,1\n-1.0,2\n", 2, "negative"),
    ];
    for (name, text, line, needle) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let format = if name == "h.csv" {
            BeatFormat::SvCsv
        } else {
            BeatFormat::from_path(&p).unwrap()
        };
        let result = if name.ends_with(".txt") {
            read_beats(&p)
        } else {
            read_beats_as(&p, format)
        };
        match result {
            Err(Error::Parse {
                path,
                line: l,
                detail,
            }) => {
                assert_eq!(path, p);
                assert_eq!(l, line, "{name}: {detail}");
                assert!(detail.contains(needle), "{name}: {detail}");
            }
            other => panic!("{name}: expected a parse error, got {other:?}"),
        }
    }
    // MIDI faults name the file.
    let p = dir.path().join("x.mid");
    std::fs::write(&p, b"MThd\0\0\0\x06\0\x01\0\x01\x03").unwrap();
    let e = read_beats(&p).unwrap_err();
    assert!(matches!(&e, Error::Parse { path, .. } if *path == p), "{e}");
}

/// Mutates valid files byte by byte (deterministically) and checks that every reader
/// returns instead of panicking, and that anything it accepts satisfies the invariants.
#[test]
fn readers_never_panic_on_mangled_input() {
    let formats = [
        BeatFormat::SvCsv,
        BeatFormat::Svl,
        BeatFormat::Audacity,
        BeatFormat::Rekordbox,
        BeatFormat::Traktor,
        BeatFormat::Midi,
    ];
    let m = ExportMeta {
        duration_s: Some(30.0),
        ..meta()
    };
    let beats = wobbly_beats(true);
    let alphabet = b"0123456789.,-+eE \t\n\r\\\"<>/=&;:#xX\x00\x7f\xff\xc3\xa9";
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accepted = 0;
    for format in formats {
        let valid = encode_beats(&beats, format, &m).unwrap();
        for _ in 0..300 {
            let mut bytes = valid.clone();
            for _ in 0..1 + next() % 6 {
                let i = (next() as usize) % bytes.len();
                match next() % 4 {
                    0 => bytes[i] = alphabet[(next() as usize) % alphabet.len()],
                    1 => {
                        bytes.remove(i);
                    }
                    2 => bytes[i] = next() as u8,
                    _ => bytes.truncate(i),
                }
                if bytes.is_empty() {
                    break;
                }
            }
            for parse_as in formats {
                if let Ok(b) = decode_beats(&bytes, parse_as, Path::new("m")) {
                    b.validate().unwrap();
                    accepted += 1;
                }
                if parse_as.is_collection()
                    && let Ok(text) = std::str::from_utf8(&bytes)
                    && let Ok(tracks) = parse_collection(text, parse_as, Path::new("m"))
                {
                    for t in tracks {
                        t.beats.validate().unwrap();
                    }
                }
            }
        }
    }
    assert!(accepted > 0);
}
