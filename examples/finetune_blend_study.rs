//! DEVSET rule 26's measurement: fine-tuned models kept by `scripts/finetune_study.py
//! --keep-models`, combined with their base after training, scored on the rest of each song
//! as the study's "continued" figure (the decoder continuing the annotated beats, as the app's
//! *Continue →* does).
//!
//! Variants: `before` (the base), `ft` (the fine-tuned model as trained: must equal the
//! study's own line), `wise25`/`wise50`/`wise75` (the weights interpolated back toward the
//! base, θ_base + λ (θ_ft − θ_base), WiSE-FT) and `ens` (the mean of the base's and the
//! fine-tuned model's activation curves) (rule 26); `auto` (rule 27): the smallest λ of
//! {0.25, 0.5, 1} whose held-out F (the engine's own held-out scoring of fine-tuning, on the
//! song's first `--until` seconds) equals the best of the three.
//!
//! ```sh
//! cargo run --release --example finetune_blend_study -- DEVSET_DIR STUDY_DIR \
//!     [--base assets/model] [--split dev|test] [--until 30]
//! ```
//! Prints one line per song, then per variant the mean continued F, the songs at F ≥ 0.95 and
//! the songs worse than before; writes STUDY_DIR/blend.json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zerons::eval::{EvalConfig, evaluate};
use zerons::formats::read_beats;
use zerons::model::soup::interpolate;
use zerons::model::{LoadedModel, load_model};
use zerons::pipeline::{AnalyzeConfig, CancelToken, analyze_features, song_features};
use zerons::tracking::Activation;
use zerons::tracking::guide::{BeatGuide, GuideConfig, complete_beats};
use zerons::train::{AnnotatedSong, FinetuneConfig, held_out_scores_of};

type Error = Box<dyn std::error::Error>;

const VARIANTS: [&str; 7] = ["before", "ft", "wise25", "wise50", "wise75", "ens", "auto"];

struct Song {
    name: String,
    audio: PathBuf,
    beats: PathBuf,
    group: String,
}

/// One CSV line's fields (RFC 4180 quoting: `"a, b"`, `""` for a quote).
fn fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The rows of DEVSET/devset.csv in `split`.
fn songs(devset: &Path, split: &str) -> Result<Vec<Song>, Error> {
    let text = std::fs::read_to_string(devset.join("devset.csv"))?;
    let mut lines = text.lines();
    let header = fields(lines.next().ok_or("empty devset.csv")?);
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("devset.csv has no column {name}"))
    };
    let (n, a, b, s, g) = (
        col("name")?,
        col("audio")?,
        col("beats")?,
        col("split")?,
        col("genre_group")?,
    );
    let mut out = Vec::new();
    for line in lines {
        let f = fields(line);
        if f.len() != header.len() || f[s] != split {
            continue;
        }
        out.push(Song {
            name: f[n].clone(),
            audio: devset.join(&f[a]),
            beats: devset.join(&f[b]),
            group: f[g].clone(),
        });
    }
    Ok(out)
}

fn with_network(model: &LoadedModel, network: zerons::model::ZeroNs) -> LoadedModel {
    LoadedModel {
        network,
        manifest: model.manifest.clone(),
        device: model.device.clone(),
        bars: None,
    }
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: finetune_blend_study DEVSET STUDY [--base DIR] [--split S] [--until S]";
    let devset = PathBuf::from(args.next().ok_or(usage)?);
    let study = PathBuf::from(args.next().ok_or(usage)?);
    let (mut base_dir, mut split, mut until_s) =
        (PathBuf::from("assets/model"), "dev".to_string(), 30.0);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(usage)?;
        match flag.as_str() {
            "--base" => base_dir = value.into(),
            "--split" => split = value,
            "--until" => until_s = value.parse()?,
            _ => return Err(usage.into()),
        }
    }
    let base = load_model(&base_dir)?;
    let analyze = AnalyzeConfig::default();
    let eval_cfg = EvalConfig {
        trim: false,
        ..EvalConfig::default()
    };
    let cancel = CancelToken::default();
    let mut rows: BTreeMap<String, (String, Vec<f64>)> = BTreeMap::new();
    for song in songs(&devset, &split)? {
        let dir = study.join(format!("{}.model", song.name));
        if !dir.exists() {
            eprintln!("{}: no kept model in {}", song.name, dir.display());
            continue;
        }
        let tuned = load_model(&dir)?;
        let reference = read_beats(&song.beats)?.times_s;
        let features = song_features(&song.audio, &analyze, &mut |_| {}, &cancel)?;
        let curve = |m: &LoadedModel| -> Result<Activation, Error> {
            Ok(analyze_features(&features, &analyze, m, &mut |_| {})?.activation)
        };
        let a_base = curve(&base)?;
        let a_ft = curve(&tuned)?;
        let mut curves = vec![a_base.clone(), a_ft.clone()];
        let mut held_out = BTreeMap::new();
        let annotated = AnnotatedSong::new(
            song.name.clone(),
            features.non_percussive.clone(),
            features.percussive.clone(),
            &reference,
            Some(until_s),
        )?;
        let finetune_cfg = FinetuneConfig::default();
        for (key, lambda) in [(25, 0.25), (50, 0.5), (75, 0.75)] {
            let net = interpolate(&base.network, &tuned.network, lambda)?;
            let model = with_network(&tuned, net);
            let h = held_out_scores_of(&model, std::slice::from_ref(&annotated), &finetune_cfg)?;
            held_out.insert(key, h.map(|h| h.f_measure));
            curves.push(curve(&model)?);
        }
        let h = held_out_scores_of(&tuned, std::slice::from_ref(&annotated), &finetune_cfg)?;
        held_out.insert(100, h.map(|h| h.f_measure));
        let mean: Vec<f32> = a_base
            .values
            .iter()
            .zip(&a_ft.values)
            .map(|(x, y)| 0.5 * (x + y))
            .collect();
        curves.push(Activation::new(mean, a_base.fps));
        let checked: Vec<f64> = reference
            .iter()
            .copied()
            .filter(|b| *b <= until_s)
            .collect();
        let rest_ref: Vec<f64> = reference
            .iter()
            .copied()
            .filter(|b| *b >= until_s)
            .collect();
        let guide = BeatGuide {
            beats_s: &checked,
            until_s,
        };
        // auto: the smallest of λ = 0.25, 0.5, 1 at the best held-out F (all of it without
        // held-out beats: λ = 1); curves[2] is λ = 0.25, curves[3] 0.5, curves[1] 1.
        let (h25, h50, h100) = (held_out[&25], held_out[&50], held_out[&100]);
        let auto = match (h25, h50, h100) {
            (Some(a), Some(b), Some(c)) => {
                let best = a.max(b).max(c);
                if a >= best {
                    2
                } else if b >= best {
                    3
                } else {
                    1
                }
            }
            _ => 1,
        };
        curves.push(curves[auto].clone());
        let mut scores = Vec::new();
        for c in &curves {
            let beats = complete_beats(c, &analyze.tracker, &guide, &GuideConfig::default())?;
            let rest: Vec<f64> = beats.into_iter().filter(|b| *b >= until_s).collect();
            scores.push(evaluate(&rest_ref, &rest, &eval_cfg)?.f_measure);
        }
        println!(
            "{:40} held-out F λ .25/.5/.75/1 {:?} {}",
            song.name,
            held_out
                .values()
                .map(|h| h.map(|f| (f * 1000.0).round() / 1000.0))
                .collect::<Vec<_>>(),
            VARIANTS
                .iter()
                .zip(&scores)
                .map(|(v, s)| format!("{v} {s:.3}"))
                .collect::<Vec<_>>()
                .join("  ")
        );
        rows.insert(song.name.clone(), (song.group.clone(), scores));
    }
    if rows.is_empty() {
        return Err("no song with a kept model".into());
    }
    let n = rows.len() as f64;
    for (i, v) in VARIANTS.iter().enumerate() {
        let mean = rows.values().map(|(_, s)| s[i]).sum::<f64>() / n;
        let good = rows.values().filter(|(_, s)| s[i] >= 0.95).count();
        let worse: Vec<&str> = rows
            .iter()
            .filter(|(_, (_, s))| s[i] < s[0] - 1e-9)
            .map(|(k, _)| k.as_str())
            .collect();
        println!(
            "{v:8} mean continued F {mean:.4} ({} songs), {good} at ≥ 0.95, {} worse than before{}",
            rows.len(),
            worse.len(),
            if worse.is_empty() {
                String::new()
            } else {
                format!(": {}", worse.join(", "))
            }
        );
    }
    let json: BTreeMap<&String, BTreeMap<&str, serde_json::Value>> = rows
        .iter()
        .map(|(k, (g, s))| {
            let mut m: BTreeMap<&str, serde_json::Value> = VARIANTS
                .iter()
                .copied()
                .zip(s.iter().map(|x| (*x).into()))
                .collect();
            m.insert("group", g.clone().into());
            (k, m)
        })
        .collect();
    std::fs::write(
        study.join("blend.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    Ok(())
}
