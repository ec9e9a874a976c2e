//! Bar-aware phase check study (`scripts/DEVSET.md` rule 23): for every song of a folder, the
//! model's decoded beats and the grid of their midpoints (half a beat later) are each scored by
//! the model's bar classifier (contrast of the winning meter and phase); both grids are scored
//! against the reference beats (mir_eval semantics, 5 s trim). One JSON line per song on
//! stdout; the selection rules are applied to these lines afterwards.
//!
//! `cargo run --release --example phase_check_study -- SONG_DIR [MODEL_DIR]`
//!
//! SONG_DIR holds `NAME.flac` with `NAME.beats` beside it (e.g. the dev split's songs only).

use std::path::PathBuf;

use zerons::eval::{EvalConfig, evaluate};
use zerons::formats::read_beats;
use zerons::model::{bundled_model_dir, load_model};
use zerons::pipeline::{AnalyzeConfig, CancelToken, analyze_features, song_features};
use zerons::tracking::meter::{
    BarPositionMethod, MeterConfig, choose_meter_from_values, midpoints,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1)
            .ok_or("usage: phase_check_study SONG_DIR [MODEL]")?,
    );
    let model_dir = match args.get(2) {
        Some(p) => PathBuf::from(p),
        None => bundled_model_dir(None).ok_or("no bundled model")?,
    };
    let model = load_model(&model_dir)?;
    let bars = model
        .bars
        .as_ref()
        .ok_or("the model has no bar classifier")?;
    // The study scores the tracker's own beats: the shipped check is off here.
    let mut config = AnalyzeConfig::default();
    config.phase_check.ratio = 0.0;
    let meter = MeterConfig::default();
    let eval = EvalConfig::default();
    let cancel = CancelToken::new();
    let mut songs: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "flac"))
        .collect();
    songs.sort();
    for song in &songs {
        let name = song
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let reference = read_beats(&song.with_extension("beats"))?.times_s;
        let features = song_features(song, &config, &mut |_| {}, &cancel)?;
        let a = analyze_features(&features, &config, &model, &mut |_| {})?;
        let beats = a.beats_s.clone();
        if beats.len() < 8 {
            continue;
        }
        let mids = midpoints(&beats);
        let mut row = serde_json::Map::new();
        row.insert("name".into(), serde_json::json!(name));
        for (label, grid) in [("beats", &beats), ("mids", &mids)] {
            let p = bars.downbeat_probabilities(
                &features.percussive,
                &features.non_percussive,
                grid,
                &model.device,
            )?;
            let choice = choose_meter_from_values(&p, &meter, BarPositionMethod::BarClassifier)?;
            let (contrast, confidence) = choice
                .as_ref()
                .map_or((0.0, 0.0), |c| (c.best.contrast(), c.confidence));
            let s = evaluate(&reference, grid, &eval)?;
            row.insert(
                label.into(),
                serde_json::json!({
                    "contrast": contrast,
                    "confidence": confidence,
                    "f": s.f_measure,
                    "cmlt": s.cmlt,
                    "amlt": s.amlt,
                }),
            );
        }
        println!("{}", serde_json::Value::Object(row));
    }
    Ok(())
}
