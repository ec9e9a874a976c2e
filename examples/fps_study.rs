//! Scratch: does decoding the flux at a finer frame rate help the DBN?
use std::path::PathBuf;
use zerons::eval::{EvalConfig, evaluate};
use zerons::formats::read_beats;
use zerons::pipeline::{AnalyzeConfig, CancelToken, analyze_file, track_activation};
use zerons::tracking::Activation;

fn upsample(v: &[f32], k: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(v.len() * k);
    for i in 0..v.len() {
        let a = v[i];
        let b = *v.get(i + 1).unwrap_or(&a);
        for j in 0..k {
            let t = j as f32 / k as f32;
            out.push(a + (b - a) * t);
        }
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let devset = PathBuf::from(std::env::args().nth(1).ok_or("DEVSET")?);
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
    let ks = [1usize, 1, 1, 1];
    let mut sums = vec![[0.0f64; 3]; ks.len()];
    let mut secs = vec![0.0f64; ks.len()];
    for song in &songs {
        let reference = read_beats(&song.with_extension("beats"))?.times_s;
        let a = analyze_file(song, &config, None, &mut |_| {}, &cancel)?;
        let mut line = format!("{:<40}", song.file_stem().unwrap().to_string_lossy());
        for (i, &k) in ks.iter().enumerate() {
            let ann: Vec<f64> = reference.iter().copied().filter(|t| *t < 30.0).collect();
            let mut v = upsample(&a.activation.values, k);
            if i == 3 {
                let fps = a.activation.fps;
                let end = (30.0 * fps) as usize;
                for x in v.iter_mut().take(end) {
                    *x = 1e-4;
                }
                for t in &ann {
                    let f = (t * fps).round() as usize;
                    if f < v.len() {
                        v[f] = 1.0;
                    }
                }
            }
            let t0 = std::time::Instant::now();
            let mut cfg = config.clone();
            let margin = if i == 1 { 1.2 } else { 1.3 };
            if i >= 1 {
                let mut tempi: Vec<f64> = ann.windows(2).map(|w| 60.0 / (w[1] - w[0])).collect();
                tempi.sort_by(f64::total_cmp);
                let lo = tempi[tempi.len() / 20];
                let hi = tempi[tempi.len() - 1 - tempi.len() / 20];
                if let zerons::tracking::TrackerConfig::Dbn(d) = &mut cfg.tracker {
                    d.min_bpm = (lo / margin).max(20.0);
                    d.max_bpm = hi * margin;
                }
            }
            let t = track_activation(
                Activation::new(v, a.activation.fps * k as f64),
                &cfg,
                &mut |_| {},
            )?;
            secs[i] += t0.elapsed().as_secs_f64();
            let rest =
                |b: &[f64]| -> Vec<f64> { b.iter().copied().filter(|t| *t >= 30.0).collect() };
            let eval = EvalConfig {
                trim: false,
                ..eval.clone()
            };
            let s = evaluate(&rest(&reference), &rest(&t.beats_s), &eval)?;
            sums[i][0] += s.f_measure;
            sums[i][1] += s.cmlt;
            sums[i][2] += s.amlt;
            line += &format!(" {:.3}", s.f_measure);
        }
        eprintln!("{line}");
    }
    let n = songs.len() as f64;
    for (i, k) in ks.iter().enumerate() {
        println!(
            "x{k}: F {:.3} CMLt {:.3} AMLt {:.3}  dbn {:.1} s",
            sums[i][0] / n,
            sums[i][1] / n,
            sums[i][2] / n,
            secs[i]
        );
    }
    Ok(())
}
