//! The HPSS stage: parity with librosa 0.11 and behaviour on synthetic signals.
//!
//! tests/fixtures/hpss/ was made by scripts/golden/make_dsp_fixtures.py with
//! `librosa.effects.hpss(y)` (librosa 0.11.0 defaults: kernel 31, power 2, margin 1,
//! n_fft 2048, hop 512, Hann, centred) on 1.5 s at 16 kHz of two tones and a click train.

mod common;

use std::f64::consts::PI;
use std::path::Path;

use zerons::audio::Signal;
use zerons::separation::{HpssConfig, Stems, hpss};

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| v as f64 * v as f64).sum()
}

fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn matches_librosa_0_11() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hpss");
    let input = common::npy::read(&dir.join("input.npy"));
    let harm = common::npy::read(&dir.join("harmonic.npy"));
    let perc = common::npy::read(&dir.join("percussive.npy"));
    let samples: Vec<f32> = input.data.iter().map(|&v| v as f32).collect();
    let stems = hpss(&Signal::new(samples, 16_000), &HpssConfig::default()).unwrap();
    assert_eq!(stems.percussive.samples.len(), perc.data.len());
    assert_eq!(stems.non_percussive.samples.len(), harm.data.len());
    let dp = max_abs_diff(&stems.percussive.samples, &perc.data);
    let dh = max_abs_diff(&stems.non_percussive.samples, &harm.data);
    let peak = input.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    eprintln!(
        "hpss vs librosa 0.11: max |diff| percussive {dp:.2e}, harmonic {dh:.2e} (signal peak {peak:.2})"
    );
    // float32 STFT/median/ISTFT on both sides; measured ≈2e-7 for both stems.
    assert!(dp < 1e-5, "percussive differs from librosa by {dp}");
    assert!(dh < 1e-5, "harmonic differs from librosa by {dh}");
}

#[test]
fn clicks_go_to_percussive_tones_to_non_percussive() {
    let sr = 16_000u32;
    let n = 3 * sr as usize;
    let tone: Vec<f32> = (0..n)
        .map(|i| (0.3 * (2.0 * PI * 330.0 * i as f64 / sr as f64).sin()) as f32)
        .collect();
    let mut clicks = vec![0.0f32; n];
    for k in 0..12 {
        let at = 2000 + k * 4000;
        for j in 0..16 {
            clicks[at + j] = if j % 2 == 0 { 0.8 } else { -0.8 };
        }
    }
    let mix: Vec<f32> = tone.iter().zip(&clicks).map(|(a, b)| a + b).collect();
    let cfg = HpssConfig::default();

    let s = hpss(&Signal::new(clicks.clone(), sr), &cfg).unwrap();
    let (p, h) = (
        energy(&s.percussive.samples),
        energy(&s.non_percussive.samples),
    );
    assert!(
        p > 0.95 * energy(&clicks),
        "click train: percussive energy share {}",
        p / energy(&clicks)
    );
    assert!(
        h < 0.01 * p,
        "click train: harmonic/percussive energy {}",
        h / p
    );

    let s = hpss(&Signal::new(tone.clone(), sr), &cfg).unwrap();
    let (p, h) = (
        energy(&s.percussive.samples),
        energy(&s.non_percussive.samples),
    );
    assert!(
        h > 0.95 * energy(&tone),
        "tone: harmonic energy share {}",
        h / energy(&tone)
    );
    assert!(p < 0.01 * h, "tone: percussive/harmonic energy {}", p / h);

    // In the mix, each stem mostly holds its own source.
    let s = hpss(&Signal::new(mix.clone(), sr), &cfg).unwrap();
    let err = |est: &[f32], truth: &[f32]| {
        est.iter()
            .zip(truth)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            / energy(truth)
    };
    let ep = err(&s.percussive.samples, &clicks);
    let eh = err(&s.non_percussive.samples, &tone);
    assert!(ep < 0.1, "mix: percussive relative error {ep}");
    assert!(eh < 0.1, "mix: harmonic relative error {eh}");

    // Masks sum to one: the stems add up to the input.
    let recon = s
        .percussive
        .samples
        .iter()
        .zip(&s.non_percussive.samples)
        .zip(&mix)
        .map(|((a, b), c)| (a + b - c).abs())
        .fold(0.0f32, f32::max);
    assert!(
        recon < 1e-5,
        "percussive + harmonic differs from the input by {recon}"
    );
}

#[test]
fn user_stems_pass_through() {
    let a = Signal::new(vec![0.5; 1000], 44_100);
    let b = Signal::new(vec![0.25; 990], 44_100);
    let s = Stems::from_user(a.clone(), b).unwrap();
    assert_eq!(s.percussive, a);
    assert_eq!(s.non_percussive.samples.len(), 1000);
    assert_eq!(&s.non_percussive.samples[..990], &[0.25; 990][..]);
}
