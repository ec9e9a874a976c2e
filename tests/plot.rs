//! Beat figures: structural checks on the SVG (panels, axis labels in seconds, one line
//! per tracked beat in the span, hit/miss marks for reference beats), and a PNG that
//! decodes. No pixel comparisons.

use std::path::Path;

use zerons::audio::Signal;
use zerons::plot::{PlotConfig, PlotInput, plot_beats, plot_beats_with, render_svg};
use zerons::tracking::Activation;

/// 12 s of clicks at 120 BPM (from 0.25 s) over faint noise, 16 kHz, with an activation
/// of Gaussian bumps on the clicks at 62.5 fps.
fn song() -> (Signal, Activation, Vec<f64>) {
    let sr = 16_000u32;
    let beats: Vec<f64> = (0..24).map(|k| 0.25 + 0.5 * f64::from(k)).collect();
    let mut samples = vec![0.0f32; 12 * sr as usize];
    let mut noise = 0x1234_5678u32;
    for s in samples.iter_mut() {
        noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        *s = ((noise >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.02;
    }
    for &b in &beats {
        let start = (b * f64::from(sr)) as usize;
        for i in 0..400 {
            if let Some(s) = samples.get_mut(start + i) {
                *s += 0.8 * (-(i as f32) / 80.0).exp() * ((i as f32) * 0.6).sin();
            }
        }
    }
    let fps = 62.5;
    let act: Vec<f32> = (0..(12.0 * fps) as usize)
        .map(|f| {
            let t = f as f64 / fps;
            beats
                .iter()
                .map(|b| (-((t - b) / 0.03).powi(2)).exp() as f32 * 0.9)
                .fold(0.0, f32::max)
        })
        .collect();
    (Signal::new(samples, sr), Activation::new(act, fps), beats)
}

fn count(svg: &str, needle: &str) -> usize {
    svg.matches(needle).count()
}

#[test]
fn svg_has_panels_axes_beats_and_marks() {
    let (signal, act, reference) = song();
    // Tracked: the reference beats with one missed (3.25 s) and one late by 100 ms (5.25 s).
    let tracked: Vec<f64> = reference
        .iter()
        .filter(|&&t| t != 3.25)
        .map(|&t| if t == 5.25 { 5.35 } else { t })
        .collect();
    let input = PlotInput {
        waveform: &signal,
        activations: &[("percussive", &act)],
        beats_s: &tracked,
        reference_s: Some(&reference),
        from_s: 2.0,
        to_s: 8.0,
        title: "Click track — test",
    };
    let svg = render_svg(&input, &PlotConfig::default()).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
    // Beats in [2, 8] s: 2.25 … 7.75 is 12 reference beats; tracked misses one → 11 lines
    // per panel, plus one legend sample.
    let beat_lines = count(&svg, "stroke=\"#D62728\"");
    assert_eq!(beat_lines, 2 * 11 + 1, "tracked-beat lines");
    // Reference marks: 10 hits (triangles, green fill), 2 misses (red crosses: two strokes
    // each), plus one legend sample of each.
    assert_eq!(count(&svg, "fill=\"#2CA02C\""), 10 + 1, "hit marks");
    assert_eq!(count(&svg, "stroke=\"#E31A1C\""), 2 * (2 + 1), "miss marks");
    // The activation curve and the waveform envelope.
    assert!(svg.contains("stroke=\"#1F77B4\""), "activation curve");
    assert!(svg.contains("fill=\"#707070\""), "waveform envelope");
    // Axis and legend text: time axis in seconds, ticks in the span.
    for text in [
        "Time (s)",
        "Amplitude",
        "Activation",
        "tracked beats",
        "percussive",
        "reference: hit",
        "reference: miss (&gt; 70 ms)",
        "Click track — test",
    ] {
        assert!(svg.contains(text), "missing {text:?}");
    }
    // Tick labels are seconds with one decimal, within the span.
    let tick = |t: &str| svg.contains(&format!(">\n{t}\n</text>"));
    for t in ["2.0", "4.0", "6.0", "8.0"] {
        assert!(tick(t), "missing tick {t}");
    }
    assert!(!tick("9.0") && !tick("10.0"), "ticks outside the span");

    // Without a reference: no marks, no reference legend.
    let input = PlotInput {
        reference_s: None,
        ..input
    };
    let svg = render_svg(&input, &PlotConfig::default()).unwrap();
    assert!(!svg.contains("reference:"));
    assert_eq!(count(&svg, "fill=\"#2CA02C\""), 0);
}

#[test]
fn png_and_svg_files() {
    let (signal, act, beats) = song();
    let other = Activation::new(act.values.iter().map(|v| v * 0.5).collect(), act.fps);
    let dir = tempfile::tempdir().unwrap();
    let input = PlotInput {
        waveform: &signal,
        activations: &[("percussive", &act), ("harmonic", &other)],
        beats_s: &beats,
        reference_s: Some(&beats[2..]),
        from_s: 0.0,
        to_s: 12.0,
        title: "",
    };
    let png = dir.path().join("fig.png");
    plot_beats(&input, &png).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(bytes.len() > 10_000, "{} bytes", bytes.len());
    // Keep a copy to look at when asked (ZERONS_PLOT_OUT=/tmp/fig.png).
    if let Ok(out) = std::env::var("ZERONS_PLOT_OUT") {
        plot_beats(
            &PlotInput {
                title: "ZeroNS: click track, 120 BPM",
                from_s: 1.0,
                to_s: 7.0,
                ..input
            },
            Path::new(&out),
        )
        .unwrap();
    }
    let svg = dir.path().join("fig.svg");
    plot_beats(&input, &svg).unwrap();
    assert!(std::fs::read_to_string(&svg).unwrap().contains("harmonic"));
    // Unknown extension, bad span, bad config: errors, not panics.
    assert!(plot_beats(&input, &dir.path().join("fig.pdf")).is_err());
    let bad = PlotInput {
        from_s: 5.0,
        to_s: 5.0,
        ..input
    };
    assert_eq!(plot_beats(&bad, &svg).unwrap_err().code(), "invalid_input");
    let cfg = PlotConfig {
        width_px: 10,
        ..PlotConfig::default()
    };
    assert_eq!(
        plot_beats_with(&input, &cfg, &svg).unwrap_err().code(),
        "config"
    );
    // A span past the end of the audio and empty inputs still draw.
    let empty = Signal::new(Vec::new(), 16_000);
    let input = PlotInput {
        waveform: &empty,
        activations: &[],
        beats_s: &[],
        reference_s: Some(&[]),
        from_s: 100.0,
        to_s: 101.0,
        title: "empty",
    };
    render_svg(&input, &PlotConfig::default()).unwrap();
}
