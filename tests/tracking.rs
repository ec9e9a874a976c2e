//! Tracking stage on synthetic activations with known answers (click trains, a tempo ramp),
//! plus the DBN's edge cases (empty, all zero, exact 0/1, very short inputs).

use zerons::tracking::dbn::{DbnBeatTracker, DbnConfig};
use zerons::tracking::ellis::{EllisConfig, beat_track};
use zerons::tracking::peaks::{PeakPickConfig, pick_peaks};
use zerons::tracking::tempo::{TempoConfig, tempo};
use zerons::tracking::{Activation, Tracker, TrackerConfig};

/// Deterministic noise in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Beat times of a tempo moving linearly from `bpm0` to `bpm1` over `seconds`, first beat at
/// `t0`: the phase `∫ bpm(t)/60 dt` reaches every integer.
fn beat_times(bpm0: f64, bpm1: f64, seconds: f64, t0: f64) -> Vec<f64> {
    let rate = (bpm1 - bpm0) / seconds;
    let mut out = Vec::new();
    let mut k = 0.0;
    loop {
        // solve (bpm0·τ + rate·τ²/2)/60 = k for τ = t − t0
        let tau = if rate == 0.0 {
            60.0 * k / bpm0
        } else {
            (-bpm0 + (bpm0 * bpm0 + 2.0 * rate * 60.0 * k).sqrt()) / rate
        };
        let t = t0 + tau;
        if t >= seconds {
            return out;
        }
        out.push(t);
        k += 1.0;
    }
}

/// ZeroNS-style activation: 1 at the beat frame, 0.5 at its neighbours, noisy floor below 0.1.
fn activation(beats: &[f64], fps: f64, seconds: f64, seed: u64) -> Vec<f32> {
    let n = (seconds * fps).round() as usize;
    let mut rng = Lcg(seed);
    let mut a: Vec<f32> = (0..n).map(|_| (0.02 + 0.06 * rng.next()) as f32).collect();
    for &b in beats {
        let f = (b * fps).round() as usize;
        if f < n {
            a[f] = 0.95;
        }
        for g in [f.wrapping_sub(1), f + 1] {
            if g < n {
                a[g] = a[g].max(0.5);
            }
        }
    }
    a
}

/// Number of `got` beats within `tol_frames` of some reference beat, and the matched count.
fn matched(got: &[f64], reference: &[f64], fps: f64, tol_frames: f64) -> usize {
    reference
        .iter()
        .filter(|&&r| {
            got.iter()
                .any(|&g| (g - r).abs() * fps <= tol_frames + 1e-9)
        })
        .count()
}

fn dbn(fps: f64) -> DbnBeatTracker {
    DbnBeatTracker::new(&DbnConfig::default(), fps).unwrap()
}

#[test]
fn dbn_click_trains_give_beats_on_the_clicks() {
    for fps in [62.5, 100.0] {
        for bpm in [100.0, 120.0, 140.0] {
            let truth = beat_times(bpm, bpm, 30.0, 0.3);
            let act = activation(&truth, fps, 30.0, 7);
            let beats = dbn(fps).track(&Activation::new(act, fps)).unwrap();
            assert_eq!(
                beats.len(),
                truth.len(),
                "{bpm} BPM at {fps} fps: {beats:?}"
            );
            // every beat on the click frame (the activation maximum)
            assert_eq!(matched(&beats, &truth, fps, 0.5), truth.len(), "{bpm} BPM");
        }
    }
}

#[test]
fn dbn_follows_a_tempo_ramp() {
    let fps = 62.5;
    let truth = beat_times(90.0, 150.0, 60.0, 0.5);
    let act = activation(&truth, fps, 60.0, 3);
    let tr = dbn(fps);
    let dec = tr.decode(&act).unwrap();
    // within one frame of every click (a beat-state run can end just before a click that
    // falls between frames)
    assert_eq!(matched(&dec.beat_times_s, &truth, fps, 1.0), truth.len());
    assert_eq!(dec.beat_times_s.len(), truth.len());
    let tempo = tr.tempo_bpm(&dec.path);
    let at = |s: f64| tempo[(s * fps) as usize];
    // local tempo at 10 s is 100 BPM, at 50 s 140 BPM (one-frame interval grid: ±4 %)
    assert!((at(10.0) / 100.0 - 1.0).abs() < 0.04, "{}", at(10.0));
    assert!((at(50.0) / 140.0 - 1.0).abs() < 0.04, "{}", at(50.0));
}

#[test]
fn dbn_empty_and_all_zero_give_no_beats() {
    let tr = DbnBeatTracker::new(&DbnConfig::madmom(), 62.5).unwrap();
    let dec = tr.decode(&[]).unwrap();
    assert!(dec.beat_frames.is_empty() && dec.path.is_empty());
    assert_eq!(dec.log_prob, None);
    let dec = tr.decode(&[0.0; 500]).unwrap();
    assert!(dec.beat_frames.is_empty());
    assert_eq!(dec.log_prob, None);
    // threshold above every value: nothing left to decode
    let cfg = DbnConfig {
        threshold: 0.99,
        ..DbnConfig::madmom()
    };
    let tr = DbnBeatTracker::new(&cfg, 62.5).unwrap();
    assert!(tr.decode(&[0.5; 300]).unwrap().beat_frames.is_empty());
}

#[test]
fn dbn_saturated_activation_without_clamp_has_no_path() {
    // All ones force a beat state at every frame, which no path can do for more than a few
    // frames: madmom warns "-inf log probability" and returns no beats. The clamp fixes it.
    let ones = vec![1.0f32; 200];
    let raw = DbnBeatTracker::new(&DbnConfig::madmom(), 62.5).unwrap();
    let dec = raw.decode(&ones).unwrap();
    assert_eq!(dec.log_prob, Some(f64::NEG_INFINITY));
    assert!(dec.path.is_empty() && dec.beat_frames.is_empty());
    let dec = dbn(62.5).decode(&ones).unwrap();
    assert!(dec.log_prob.unwrap().is_finite());
    assert!(!dec.beat_frames.is_empty());
}

#[test]
fn dbn_exact_one_forces_a_beat_unless_clamped() {
    let fps = 62.5;
    let truth = beat_times(120.0, 120.0, 20.0, 0.3);
    let mut act = activation(&truth, fps, 20.0, 11);
    // an off-beat frame at exactly 1.0, half-way between two clicks
    let spike = ((truth[15] + truth[16]) / 2.0 * fps).round() as usize;
    act[spike] = 1.0;
    let raw = DbnBeatTracker::new(&DbnConfig::madmom(), fps).unwrap();
    assert!(raw.decode(&act).unwrap().beat_frames.contains(&spike));
    let clamped = dbn(fps).decode(&act).unwrap();
    assert!(!clamped.beat_frames.contains(&spike));
    assert_eq!(clamped.beat_frames.len(), truth.len());
}

#[test]
fn dbn_exact_zero_forbids_a_beat_state() {
    let fps = 62.5;
    let truth = beat_times(120.0, 120.0, 20.0, 0.3);
    let mut act = activation(&truth, fps, 20.0, 5);
    let click = (truth[10] * fps).round() as usize;
    act[click] = 0.0;
    let raw = DbnBeatTracker::new(&DbnConfig::madmom(), fps).unwrap();
    let dec = raw.decode(&act).unwrap();
    assert!(!dec.beat_frames.contains(&click));
    assert!(!raw.is_beat_state(dec.path[click]));
}

#[test]
fn dbn_very_short_inputs_do_not_fail() {
    for correct in [true, false] {
        let cfg = DbnConfig {
            correct,
            ..DbnConfig::madmom()
        };
        let tr = DbnBeatTracker::new(&cfg, 62.5).unwrap();
        for len in 1..=5 {
            let act: Vec<f32> = (0..len).map(|i| if i == 0 { 0.9 } else { 0.1 }).collect();
            let dec = tr.decode(&act).unwrap();
            assert_eq!(dec.path.len(), len);
            assert!(dec.log_prob.unwrap().is_finite());
            assert!(dec.beat_frames.iter().all(|&f| f < len));
            if correct {
                // frame 0 is by far the most beat-like
                assert_eq!(dec.beat_frames, vec![0], "len {len}");
            }
        }
        // argrelmin on one frame: it is its own neighbour, never a strict minimum
        if !correct {
            assert!(tr.decode(&[0.9]).unwrap().beat_frames.is_empty());
        }
    }
}

#[test]
fn tempo_and_ellis_recover_click_trains() {
    let fps = 62.5;
    for bpm in [100.0, 120.0, 140.0] {
        let truth = beat_times(bpm, bpm, 30.0, 0.3);
        let act = activation(&truth, fps, 30.0, 9);
        let est = tempo(&act, fps, &TempoConfig::default()).unwrap();
        assert!((est / bpm - 1.0).abs() < 0.03, "tempo {est} for {bpm}");

        let out = beat_track(&act, fps, &EllisConfig::default()).unwrap();
        assert_eq!(out.bpm, est);
        // every beat it reports lies within one frame of a click, and it misses at most the
        // first and last click (librosa's trim)
        assert_eq!(
            matched(&truth, &out.beat_times_s, fps, 1.0),
            out.beat_times_s.len(),
            "{bpm}: {:?}",
            out.beat_times_s
        );
        assert!(out.beat_times_s.len() + 2 >= truth.len(), "{bpm}");
    }
}

#[test]
fn ellis_with_given_tempo() {
    let fps = 100.0;
    let truth = beat_times(128.0, 128.0, 20.0, 0.2);
    let act = activation(&truth, fps, 20.0, 1);
    let cfg = EllisConfig {
        bpm: Some(128.0),
        ..EllisConfig::default()
    };
    let out = beat_track(&act, fps, &cfg).unwrap();
    assert_eq!(out.bpm, 128.0);
    assert_eq!(
        matched(&truth, &out.beat_times_s, fps, 1.0),
        out.beat_times_s.len()
    );
    assert!(out.beat_times_s.len() + 2 >= truth.len());
}

#[test]
fn peaks_find_every_click() {
    let fps = 62.5;
    let truth = beat_times(120.0, 120.0, 20.0, 0.3);
    let act = activation(&truth, fps, 20.0, 2);
    let p = pick_peaks(&act, fps, &PeakPickConfig::default()).unwrap();
    assert_eq!(p.times_s.len(), truth.len());
    assert_eq!(matched(&p.times_s, &truth, fps, 0.5), truth.len());
}

#[test]
fn every_tracker_by_name_tracks_a_click_train() {
    let fps = 62.5;
    let truth = beat_times(120.0, 120.0, 30.0, 0.3);
    let act = Activation::new(activation(&truth, fps, 30.0, 4), fps);
    for name in TrackerConfig::NAMES {
        let tracker = Tracker::new(&TrackerConfig::from_name(name).unwrap(), fps).unwrap();
        let beats = tracker.track(&act).unwrap();
        assert!(beats.windows(2).all(|w| w[0] < w[1]), "{name}");
        assert!(
            beats.len() + 2 >= truth.len(),
            "{name}: {} beats",
            beats.len()
        );
        assert_eq!(matched(&truth, &beats, fps, 1.0), beats.len(), "{name}");
    }
}

/// A click train with quiet noise before and after it (−70 dB, a fade's tail). Regression:
/// the DBN carried the beat on through the tail to the end of the file; with the audible gate
/// (pipeline::gate_activation) beats stop at the last click.
#[test]
fn no_beats_in_the_silence_around_the_music() {
    use zerons::audio::{AudibleConfig, Signal};
    use zerons::pipeline::{AnalyzeConfig, CancelToken, analyze_signal};
    let sr = 16000u32;
    let (start_s, end_s, total_s) = (2.0, 10.0, 16.0);
    let mut rng = Lcg(7);
    let mut samples: Vec<f32> = (0..(total_s * f64::from(sr)) as usize)
        .map(|_| (rng.next() as f32 - 0.5) * 6e-4)
        .collect();
    let clicks = beat_times(120.0, 120.0, end_s + 0.01, start_s);
    for &c in &clicks {
        let k0 = (c * f64::from(sr)) as usize;
        for k in 0..400 {
            let decay = (-(k as f32) / 60.0).exp();
            samples[k0 + k] += 0.8 * (rng.next() as f32 - 0.5) * 2.0 * decay;
        }
    }
    let signal = Signal::new(samples, sr);
    let run = |audible: AudibleConfig| {
        let config = AnalyzeConfig {
            audible,
            ..AnalyzeConfig::default()
        };
        analyze_signal(&signal, &config, None, &mut |_| {}, &CancelToken::new())
            .unwrap()
            .beats_s
    };
    let beats = run(AudibleConfig::default());
    assert!(beats.len() >= clicks.len() - 1, "{beats:?}");
    assert!(beats[0] >= start_s - 0.07, "first beat {}", beats[0]);
    let last = *beats.last().unwrap();
    assert!(last <= end_s + 0.07, "last beat {last}");
    assert!(
        matched(&beats, &clicks, 62.5, 4.0) >= clicks.len() - 1,
        "{beats:?}"
    );
    // Without the gate the decoder fills the quiet tail with beats.
    let ungated = run(AudibleConfig {
        enabled: false,
        ..AudibleConfig::default()
    });
    assert!(
        ungated.iter().any(|&t| t > end_s + 0.5),
        "expected tail beats without the gate: {ungated:?}"
    );
}

/// Drum-like hits at `beats_s` (a kick falling from 150 to 50 Hz and a noise burst),
/// 16 kHz: the real pipeline's input for timing measurements with exact references.
fn drum_track(beats_s: &[f64], seconds: f64) -> zerons::audio::Signal {
    let sr = 16_000.0;
    let n = (seconds * sr) as usize;
    let mut samples = vec![0.0f32; n];
    let mut rng = Lcg(11);
    for &b in beats_s {
        let start = (b * sr).round() as usize;
        let mut phase = 0.0f64;
        for i in 0..(0.25 * sr) as usize {
            let Some(s) = samples.get_mut(start + i) else {
                break;
            };
            let t = i as f64 / sr;
            let freq = 50.0 + 100.0 * (-t / 0.03).exp();
            phase += 2.0 * std::f64::consts::PI * freq / sr;
            let kick = 0.7 * (-t / 0.08).exp() * phase.sin();
            let noise = 0.25 * (-t / 0.01).exp() * (2.0 * rng.next() - 1.0);
            *s += (kick + noise) as f32;
        }
    }
    zerons::audio::Signal::new(samples, 16_000)
}

/// Timing of estimated beats against exact ones: mean signed and absolute error of the
/// beats within 70 ms of a reference, and the standard deviation and range of the
/// intervals between consecutive matched beats (the jitter of a steady tempo), all in ms;
/// plus the F-measure (70 ms).
#[derive(Debug, Clone, Copy)]
struct Timing {
    bias_ms: f64,
    mean_abs_ms: f64,
    interval_std_ms: f64,
    interval_range_ms: f64,
    f: f64,
}

fn timing(est: &[f64], truth: &[f64]) -> Timing {
    let nearest = |t: f64| {
        truth
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1 - t).abs().total_cmp(&(b.1 - t).abs()))
            .map(|(j, &r)| (j, t - r))
            .filter(|(_, d)| d.abs() <= 0.07)
    };
    let matched: Vec<(usize, f64, f64)> = est
        .iter()
        .filter_map(|&t| nearest(t).map(|(j, d)| (j, t, d)))
        .collect();
    let n = matched.len().max(1) as f64;
    let intervals: Vec<f64> = matched
        .windows(2)
        .filter(|w| w[1].0 == w[0].0 + 1)
        .map(|w| w[1].1 - w[0].1)
        .collect();
    let mean_iv = intervals.iter().sum::<f64>() / intervals.len().max(1) as f64;
    let var = intervals.iter().map(|d| (d - mean_iv).powi(2)).sum::<f64>()
        / intervals.len().max(1) as f64;
    let (lo, hi) = intervals
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &d| (l.min(d), h.max(d)));
    Timing {
        bias_ms: 1e3 * matched.iter().map(|m| m.2).sum::<f64>() / n,
        mean_abs_ms: 1e3 * matched.iter().map(|m| m.2.abs()).sum::<f64>() / n,
        interval_std_ms: 1e3 * var.sqrt(),
        interval_range_ms: 1e3 * (hi - lo),
        f: zerons::eval::f_measure(truth, est, 0.07).unwrap(),
    }
}

/// Issue 19: beats finer than the 16 ms frame. Drum tracks at 120 BPM from 0.0071 s,
/// 128 and 174 BPM at off-frame starts, through the whole pipeline (decode-free rung:
/// `analyze_signal`) with the shipped model and with the flux, refinement off then on.
/// Prints the table reported in the issue (`cargo test --test tracking refine -- --nocapture`).
#[test]
fn refine_beats_below_the_frame_through_the_pipeline() {
    use zerons::model::{bundled_model_dir, load_model};
    use zerons::pipeline::{ActivationKind, AnalyzeConfig, CancelToken, analyze_signal};
    use zerons::tracking::refine::RefineConfig;
    let model = load_model(bundled_model_dir(None).expect("shipped model")).unwrap();
    let seconds = 30.0;
    let cancel = CancelToken::new();
    for (bpm, t0) in [(120.0, 0.0071), (128.0, 0.2113), (174.0, 0.1237)] {
        let truth = beat_times(bpm, bpm, seconds - 0.3, t0);
        let signal = drum_track(&truth, seconds);
        for kind in [ActivationKind::Max, ActivationKind::Flux] {
            let run = |enabled: bool| {
                let config = AnalyzeConfig {
                    activation: kind,
                    refine: RefineConfig {
                        enabled,
                        ..RefineConfig::default()
                    },
                    ..AnalyzeConfig::default()
                };
                let m = (kind == ActivationKind::Max).then_some(&model);
                let a = analyze_signal(&signal, &config, m, &mut |_| {}, &cancel).unwrap();
                timing(&a.beats_s, &truth)
            };
            let (before, after) = (run(false), run(true));
            eprintln!(
                "{bpm} BPM from {t0} s, {kind:?}: F {:.3} -> {:.3}; bias {:.2} -> {:.2} ms; \
                 mean |error| {:.2} -> {:.2} ms; interval std {:.2} -> {:.2} ms, \
                 max-min {:.2} -> {:.2} ms",
                before.f,
                after.f,
                before.bias_ms,
                after.bias_ms,
                before.mean_abs_ms,
                after.mean_abs_ms,
                before.interval_std_ms,
                after.interval_std_ms,
                before.interval_range_ms,
                after.interval_range_ms
            );
            assert!(after.f >= before.f - 1e-12, "{bpm} {kind:?}: F dropped");
            // The frame grid's jitter goes down. (The network's constant bias of ~-10 ms on
            // these drums is not the frame's and is left as it is.)
            assert!(
                after.interval_std_ms < before.interval_std_ms,
                "{bpm} {kind:?}: {before:?} -> {after:?}"
            );
        }
    }
}
