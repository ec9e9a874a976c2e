//! Writes example beat lists in every export format, for checking the files with the
//! programs and libraries that consume them (`scripts/check_format_consumers.py`).
//!
//! `cargo run -p zerons --example export_formats -- OUT_DIR` writes, per case, one file per
//! format plus `manifest.json` with the original beats.

use std::path::PathBuf;

use zerons::formats::{BeatFormat, BeatList, ExportMeta, Meter, write_beats_file};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: export_formats OUT_DIR")?,
    );
    std::fs::create_dir_all(&out)?;
    let golden = BeatList::with_positions(vec![0.5, 1.0, 1.52, 2.0, 2.5], vec![1, 2, 3, 4, 1])?;
    // 124 -> 126 BPM over 372 beats, 4/4.
    let mut t = 0.37;
    let mut drift = Vec::new();
    for k in 0..372 {
        drift.push(t);
        t += 60.0 / (124.0 + 2.0 * f64::from(k) / 371.0);
    }
    let drift = BeatList::with_positions(drift, (0..372).map(|k| k % 4 + 1).collect())?;
    // A rubato waltz with a pickup, 3/4, odd times.
    let mut t = 1.2345;
    let mut waltz = Vec::new();
    for k in 0..90 {
        waltz.push(t);
        t += 0.5 + 0.08 * (f64::from(k) * 0.7).sin();
    }
    let waltz = BeatList::with_positions(waltz, (0..90).map(|k| (k + 2) % 3 + 1).collect())?;
    let cases = [
        ("golden", golden, None),
        ("drift", drift, None),
        ("waltz", waltz, Some(Meter::new(3, 4)?)),
    ];
    let mut manifest = serde_json::Map::new();
    for (name, beats, meter) in cases {
        let audio = out.join(format!("{name} song.wav"));
        let meta = ExportMeta {
            duration_s: Some(beats.times_s.last().copied().unwrap_or(0.0) + 0.4),
            title: format!("{name} song"),
            artist: "ZeroNS".into(),
            meter,
            audio_path: Some(audio.clone()),
            sample_rate_hz: Some(44_100),
            tempo_bpm: Some(120.0),
            ..ExportMeta::default()
        };
        let mut files = serde_json::Map::new();
        for format in BeatFormat::ALL {
            let path = out.join(format!("{name}.{}.{}", format.name(), format.extension()));
            write_beats_file(&path, &beats, format, &meta)?;
            files.insert(format.name().into(), path.display().to_string().into());
        }
        manifest.insert(
            name.into(),
            serde_json::json!({
                "times_s": beats.times_s,
                "positions": beats.positions,
                "meter": meter.map(|m| m.to_string()),
                "audio_path": audio,
                "duration_s": meta.duration_s,
                "files": files,
            }),
        );
    }
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    println!("wrote {}", out.display());
    Ok(())
}
