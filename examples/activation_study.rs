//! Activation post-processing study on the development set: for every song, decode,
//! separate and run flux + the network once, then track several activation variants with
//! the DBN and score them against the reference beats (mir_eval semantics, 5 s trim).
//!
//! `cargo run --release --example activation_study -- DEVSET_DIR [MODEL_DIR] [DUMP_DIR]`
//!
//! With `DUMP_DIR`, each song's reference, its flux and network curves (`curve_flux`,
//! `curve_net` and the branches `curve_anchor`, `curve_postve`, at `fps`) and the tracked
//! beats per variant are written there as `NAME.json` (for studies of where two activations
//! disagree, or of decoders outside the engine).
//!
//! Variants: flux; the network's max-combined output as is; the same normalised like the
//! flux (99th percentile → 1, clamped); with a 1 s detrend first; fusions of flux and the
//! normalised network (mean, geometric mean, max).

use std::path::PathBuf;

use zerons::eval::{EvalConfig, evaluate};
use zerons::features::normalize_activation;
use zerons::formats::read_beats;
use zerons::model::{bundled_model_dir, load_model};
use zerons::pipeline::{AnalyzeConfig, CancelToken, analyze_file, track_activation};
use zerons::tracking::Activation;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let devset = PathBuf::from(
        args.get(1)
            .ok_or("usage: activation_study DEVSET [MODEL]")?,
    );
    let model_dir = match args.get(2) {
        Some(p) => PathBuf::from(p),
        None => bundled_model_dir(None).ok_or("no bundled model")?,
    };
    let model = load_model(&model_dir)?;
    let dump = args.get(3).map(PathBuf::from);
    if let Some(d) = &dump {
        std::fs::create_dir_all(d)?;
    }
    let config = AnalyzeConfig::default();
    let cancel = CancelToken::new();
    let eval = EvalConfig::default();
    let mut songs: Vec<PathBuf> = std::fs::read_dir(&devset)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            n.ends_with(".flac") && !n.contains(".drums.") && !n.contains(".rest.")
        })
        .collect();
    songs.sort();
    let names = [
        "flux",
        "net",
        "net_q99",
        "net_q99_detrend",
        "mean(flux,net_q99)",
        "geo(flux,net_q99)",
        "max(flux,net_q99)",
    ];
    let mut sums = vec![[0.0f64; 3]; names.len()];
    let mut groups: std::collections::BTreeMap<String, (usize, Vec<f64>)> = Default::default();
    for song in &songs {
        let reference = read_beats(&song.with_extension("beats"))?.times_s;
        let a = analyze_file(song, &config, Some(&model), &mut |_| {}, &cancel)?;
        let flux = a.activation.values.clone();
        let net = a.network.clone().ok_or("no network curve")?.values;
        let fps = a.activation.fps;
        let n = flux.len().min(net.len());
        // Normalised as the flux is (FluxConfig's quantile and floor).
        let nq = normalize_activation(&net, 0, 0.99, 1e-4);
        let nqd = normalize_activation(&net, fps.round() as usize, 0.99, 1e-4);
        let variants: Vec<Vec<f32>> = vec![
            flux.clone(),
            net.clone(),
            nq.clone(),
            nqd,
            (0..n).map(|i| 0.5 * (flux[i] + nq[i])).collect(),
            (0..n).map(|i| (flux[i] * nq[i]).sqrt()).collect(),
            (0..n).map(|i| flux[i].max(nq[i])).collect(),
        ];
        let name = song
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let group = name.split('-').next().unwrap_or("").to_string();
        let mut line = format!("{name:<40}");
        let mut tracked = serde_json::Map::new();
        tracked.insert("reference".into(), serde_json::json!(reference));
        tracked.insert("fps".into(), serde_json::json!(fps));
        tracked.insert("curve_flux".into(), serde_json::json!(flux));
        tracked.insert("curve_net".into(), serde_json::json!(net));
        if let Some((anchor, postve)) = &a.branches {
            tracked.insert("curve_anchor".into(), serde_json::json!(anchor.values));
            tracked.insert("curve_postve".into(), serde_json::json!(postve.values));
        }
        let g = groups.entry(group).or_insert((0, vec![0.0; names.len()]));
        g.0 += 1;
        for (k, v) in variants.into_iter().enumerate() {
            let t = track_activation(Activation::new(v, fps), &config, &mut |_| {})?;
            let s = evaluate(&reference, &t.beats_s, &eval)?;
            sums[k][0] += s.f_measure;
            sums[k][1] += s.cmlt;
            sums[k][2] += s.amlt;
            g.1[k] += s.f_measure;
            line += &format!(" {:.3}", s.f_measure);
            tracked.insert(names[k].into(), serde_json::json!(t.beats_s));
        }
        if let Some(d) = &dump {
            std::fs::write(
                d.join(format!("{name}.json")),
                serde_json::Value::Object(tracked).to_string(),
            )?;
        }
        eprintln!("{line}");
    }
    let n = songs.len() as f64;
    println!("| variant | F | CMLt | AMLt |");
    println!("|---|---|---|---|");
    for (k, name) in names.iter().enumerate() {
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} |",
            sums[k][0] / n,
            sums[k][1] / n,
            sums[k][2] / n
        );
    }
    for (group, (count, f)) in &groups {
        let means: Vec<String> = f
            .iter()
            .map(|v| format!("{:.3}", v / *count as f64))
            .collect();
        println!("group {group} ({count}): F {}", means.join(" "));
    }
    Ok(())
}
