//! Bar positions for beats that are already known: the cheap alternative to the downbeat DBN
//! ([`super::dbn::bar`]).
//!
//! Given beat times and a downbeat activation, every candidate meter `m` (beats per bar) and
//! phase `φ ∈ 0..m` (which beat of the list is the first downbeat) is scored by the downbeat
//! activation at the beats it calls downbeats (beats `k` with `k mod m = φ`): the **mean**
//! activation there minus the mean at all the other beats. The highest score wins (ties: the
//! earlier candidate meter, then the smaller phase). Subtracting the other beats' mean keeps a
//! multiple of the true meter (6 for a waltz, 8 for 4/4) or a divisor (2 for 4/4) from scoring
//! as well as the true meter, since they put downbeats on non-downbeats or leave some out.
//!
//! The activation at a beat is its maximum within `±window_s` of the beat (beats refined below
//! the frame, or an activation peak one frame off, still count). [`MeterChoice::method`] says
//! which bar-position method produced the result, so a caller can report it.

use serde::{Deserialize, Serialize};

use super::Activation;
use crate::{Error, Result};

/// How a song's bar positions were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarPositionMethod {
    /// madmom's downbeat DBN on beat + downbeat activations (tempo, beats and bars decoded
    /// jointly).
    DownbeatDbn,
    /// The beats were given; meter and phase chosen by the downbeat activation per phase
    /// ([`choose_meter`]).
    PhaseVote,
    /// The beats were given; meter and phase chosen per phase by the bar classifier's
    /// downbeat probability of each beat, from beat-synchronous features
    /// ([`crate::model::bars`], [`choose_meter_from_values`]).
    BarClassifier,
}

impl BarPositionMethod {
    /// Words for reports and file metadata ("bar classifier").
    pub fn label(self) -> &'static str {
        match self {
            Self::DownbeatDbn => "downbeat DBN",
            Self::PhaseVote => "downbeat activation per phase",
            Self::BarClassifier => "bar classifier",
        }
    }
}

/// Settings of [`choose_meter`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct MeterConfig {
    /// Candidate meters in beats per bar (default `[3, 4]`, madmom's downbeat tracker's).
    pub beats_per_bar: Vec<u32>,
    /// The activation at a beat is its maximum within ± this many seconds (default 0.02 s:
    /// ±1 frame at 62.5 fps).
    pub window_s: f64,
    /// For per-beat probabilities ([`choose_meter_from_values`]): the probability, per beat,
    /// that the bar restarts or the meter changes (a tracker's skipped or extra beat, a bar of
    /// another length). 0 (default) keeps one meter and phase for the whole song; above 0 the
    /// positions are decoded by Viterbi over (meter, position in the bar) states, like
    /// madmom's `DBNBarTrackingProcessor` with free bar restarts.
    pub bar_change_probability: f64,
}

impl Default for MeterConfig {
    fn default() -> Self {
        Self {
            beats_per_bar: vec![3, 4],
            window_s: 0.02,
            bar_change_probability: 0.0,
        }
    }
}

impl MeterConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.beats_per_bar.is_empty() {
            return Err(Error::Config(
                "meter: beats_per_bar must not be empty".into(),
            ));
        }
        if let Some(&b) = self.beats_per_bar.iter().find(|&&b| !(2..=64).contains(&b)) {
            return Err(Error::Config(format!(
                "meter: beats per bar must be in 2..=64 (got {b})"
            )));
        }
        if !(self.bar_change_probability.is_finite()
            && (0.0..0.5).contains(&self.bar_change_probability))
        {
            return Err(Error::Config(format!(
                "meter: bar_change_probability must be in [0, 0.5) (got {})",
                self.bar_change_probability
            )));
        }
        if !(self.window_s.is_finite() && self.window_s >= 0.0) {
            return Err(Error::Config(format!(
                "meter: window_s must be finite and >= 0 (got {})",
                self.window_s
            )));
        }
        Ok(())
    }
}

/// Settings of the bar-aware check of the beat phase (`scripts/DEVSET.md` rule 23): a beat
/// tracker that falls half a beat off (on the off-beats) leaves beats on which the bar
/// classifier, trained on beats that are on the beat, hears no clear bar; on the grid of their
/// midpoints it does. The pipeline scores both grids and keeps the midpoints when their
/// contrast ([`MeterScore::contrast`] of the winning meter and phase) is above the beats' ×
/// [`PhaseCheckConfig::ratio`]. Models fine-tuned on a user's corrections are not checked
/// (their phase is the user's).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PhaseCheckConfig {
    /// How much clearer the bars must be half a beat later; 0 turns the check off. Default
    /// 1.5, chosen on the development benchmark's dev split between 1.25 and 1.5 (rule 23:
    /// mean F 0.876 → 0.883 with 1.5, 0.882 with 1.25; 4 of 70 songs moved).
    pub ratio: f64,
    /// The contrast the bars must reach on the midpoints besides (default 0.2, rule 24): where
    /// neither grid has a bar the classifier hears, both contrasts are noise and their ratio
    /// means nothing (a drum loop of identical hits).
    pub min_contrast: f64,
    /// The beat activation at the midpoints must average at least this fraction of its value
    /// at the beats (default 0.25, rule 25): a move half a beat lands where the network also
    /// hears a pulse, never into the silence between identical hits.
    pub min_pulse_ratio: f64,
}

impl Default for PhaseCheckConfig {
    fn default() -> Self {
        Self {
            ratio: 1.5,
            min_contrast: 0.2,
            min_pulse_ratio: 0.25,
        }
    }
}

impl PhaseCheckConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if !(self.ratio.is_finite() && self.ratio >= 0.0) {
            return Err(Error::Config(format!(
                "phase check: ratio must be finite and >= 0 (got {})",
                self.ratio
            )));
        }
        if !(self.min_pulse_ratio.is_finite() && self.min_pulse_ratio >= 0.0) {
            return Err(Error::Config(format!(
                "phase check: min_pulse_ratio must be finite and >= 0 (got {})",
                self.min_pulse_ratio
            )));
        }
        if !(self.min_contrast.is_finite() && (0.0..=1.0).contains(&self.min_contrast)) {
            return Err(Error::Config(format!(
                "phase check: min_contrast must be in [0, 1] (got {})",
                self.min_contrast
            )));
        }
        Ok(())
    }

    /// Whether the check runs at all.
    pub fn enabled(&self) -> bool {
        self.ratio > 0.0
    }

    /// True when the bars chosen on the midpoints (`on_mids`) are clearer than those chosen
    /// on the beats (`on_beats`) by more than the ratio, clear enough in themselves, and
    /// `pulse_ratio` (the beat activation at the midpoints over that at the beats,
    /// [`pulse_ratio`]) reaches [`PhaseCheckConfig::min_pulse_ratio`]. No bars on the
    /// midpoints: false; no bars on the beats: the midpoints' contrast decides alone.
    pub fn prefers_midpoints(
        &self,
        on_beats: Option<&MeterChoice>,
        on_mids: Option<&MeterChoice>,
        pulse_ratio: f64,
    ) -> bool {
        if !self.enabled() || pulse_ratio.is_nan() || pulse_ratio < self.min_pulse_ratio {
            return false;
        }
        let Some(mids) = on_mids else {
            return false;
        };
        let beats = on_beats.map_or(0.0, |c| c.best.contrast().max(0.0));
        let c = mids.best.contrast();
        c > beats * self.ratio && c > self.min_contrast && c > 0.0
    }
}

/// The activation at `mids` over the activation at `beats` (each beat's maximum within ±2
/// frames, averaged over the grid); 0 when the beats have none.
pub fn pulse_ratio(beats_s: &[f64], mids_s: &[f64], act: &Activation) -> f64 {
    let window_s = 2.0 / act.fps.max(1e-9);
    let mean = |t: &[f64]| {
        let v = beat_values(t, act, window_s);
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let on_beats = mean(beats_s);
    if on_beats > 0.0 {
        mean(mids_s) / on_beats
    } else {
        0.0
    }
}

/// The midpoints of consecutive beats: the grid half a beat later (one beat fewer).
pub fn midpoints(beats_s: &[f64]) -> Vec<f64> {
    beats_s.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect()
}

/// One candidate's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeterScore {
    /// Beats per bar.
    pub beats_per_bar: u32,
    /// Index (into the beat list) of the first beat called a downbeat, `< beats_per_bar`.
    pub phase: u32,
    /// Mean downbeat activation at the beats this candidate calls downbeats.
    pub downbeat_mean: f64,
    /// Mean downbeat activation at its other beats.
    pub other_mean: f64,
}

impl MeterScore {
    /// The score: `downbeat_mean − other_mean`.
    pub fn contrast(&self) -> f64 {
        self.downbeat_mean - self.other_mean
    }
}

/// The chosen meter and phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterChoice {
    /// [`BarPositionMethod::PhaseVote`] or [`BarPositionMethod::BarClassifier`].
    pub method: BarPositionMethod,
    /// The winning candidate.
    pub best: MeterScore,
    /// `(best − runner-up) / best` of the contrasts, in `[0, 1]`: 0 when another meter or phase
    /// scores as well, 1 when every other candidate scores 0 or less.
    pub confidence: f64,
    /// Every candidate that was scored, in config order then phase.
    pub scores: Vec<MeterScore>,
    /// Beat number in the bar (1 = downbeat) of every beat.
    pub positions: Vec<u32>,
}

/// Chooses meter and phase for `beat_times_s` (ascending seconds) from a downbeat activation.
///
/// `Ok(None)` when there is nothing to decide on: no candidate meter has at least two bars of
/// beats, or every candidate's contrast is 0 or less (e.g. an all-zero activation).
pub fn choose_meter(
    beat_times_s: &[f64],
    downbeat: &Activation,
    config: &MeterConfig,
) -> Result<Option<MeterChoice>> {
    config.validate()?;
    if !(downbeat.fps.is_finite() && downbeat.fps > 0.0) {
        return Err(Error::InvalidInput(format!(
            "downbeat activation fps must be > 0 (got {})",
            downbeat.fps
        )));
    }
    check_beat_times(beat_times_s, "")?;
    let values = beat_values(beat_times_s, downbeat, config.window_s);
    Ok(vote(&values, config, BarPositionMethod::PhaseVote))
}

/// [`Error::InvalidInput`] unless every beat time is finite and the times never go down;
/// `context` starts the message ("beat features: ").
pub(crate) fn check_beat_times(beats_s: &[f64], context: &str) -> Result<()> {
    if let Some(i) = beats_s.iter().position(|t| !t.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "{context}beat {i} has a non-finite time"
        )));
    }
    if let Some(i) = beats_s.windows(2).position(|w| w[1] < w[0]) {
        return Err(Error::InvalidInput(format!(
            "{context}beat times must be ascending (beat {} < beat {i})",
            i + 1
        )));
    }
    Ok(())
}

/// [`choose_meter`] on one downbeat value per beat (e.g. the bar classifier's probabilities,
/// method [`BarPositionMethod::BarClassifier`]). Values must be finite.
pub fn choose_meter_from_values(
    values: &[f64],
    config: &MeterConfig,
    method: BarPositionMethod,
) -> Result<Option<MeterChoice>> {
    config.validate()?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "beat {i} has a non-finite downbeat value"
        )));
    }
    let mut choice = vote(values, config, method);
    if config.bar_change_probability > 0.0
        && let Some(c) = choice.as_mut()
    {
        c.positions =
            viterbi_positions(values, &config.beats_per_bar, config.bar_change_probability);
    }
    Ok(choice)
}

/// Positions in the bar (1 = downbeat) of the most likely path through (meter, position)
/// states: each beat moves to the next position of its bar with probability `1 − p_change`,
/// or to any state (the same one: an extra beat) with `p_change` shared among them; a beat in position 1 is observed
/// with its value as probability, any other with one minus it (clamped to [1e-4, 1 − 1e-4]).
fn viterbi_positions(values: &[f64], meters: &[u32], p_change: f64) -> Vec<u32> {
    let states: Vec<(u32, u32)> = meters
        .iter()
        .flat_map(|&m| (0..m).map(move |p| (m, p)))
        .collect();
    let n_states = states.len();
    if values.is_empty() || n_states == 0 {
        return Vec::new();
    }
    let log_stay = (1.0 - p_change).ln();
    let log_jump = (p_change / n_states as f64).ln();
    let next = |s: usize| {
        let (m, p) = states[s];
        let q = (p + 1) % m;
        states.iter().position(|&x| x == (m, q)).unwrap_or(s)
    };
    let successor: Vec<usize> = (0..n_states).map(next).collect();
    let obs = |v: f64, s: usize| {
        let v = v.clamp(1e-4, 1.0 - 1e-4);
        if states[s].1 == 0 {
            v.ln()
        } else {
            (1.0 - v).ln()
        }
    };
    let mut score: Vec<f64> = (0..n_states).map(|s| obs(values[0], s)).collect();
    let mut back: Vec<Vec<usize>> = Vec::with_capacity(values.len());
    back.push((0..n_states).collect());
    for &v in &values[1..] {
        // Best predecessor by a jump (a repeated position, an extra beat, included).
        let best_prev = (0..n_states)
            .max_by(|&a, &b| score[a].total_cmp(&score[b]))
            .unwrap_or(0);
        let mut new = vec![f64::NEG_INFINITY; n_states];
        let mut from = vec![0usize; n_states];
        for (s, &t) in successor.iter().enumerate() {
            // stay on the bar: s -> t
            let cand = score[s] + log_stay;
            if cand > new[t] {
                new[t] = cand;
                from[t] = s;
            }
        }
        for t in 0..n_states {
            let cand = score[best_prev] + log_jump;
            if cand > new[t] {
                new[t] = cand;
                from[t] = best_prev;
            }
            new[t] += obs(v, t);
        }
        score = new;
        back.push(from);
    }
    let mut s = (0..n_states)
        .max_by(|&a, &b| score[a].total_cmp(&score[b]))
        .unwrap_or(0);
    let mut path = vec![0u32; values.len()];
    for k in (0..values.len()).rev() {
        path[k] = states[s].1 + 1;
        s = back[k][s];
    }
    path
}

/// Scores every meter and phase on per-beat values (module docs).
fn vote(values: &[f64], config: &MeterConfig, method: BarPositionMethod) -> Option<MeterChoice> {
    let mut scores = Vec::new();
    for &m in &config.beats_per_bar {
        let m_us = m as usize;
        if values.len() < 2 * m_us {
            continue;
        }
        for phase in 0..m_us {
            let (mut on, mut n_on, mut off, mut n_off) = (0.0, 0usize, 0.0, 0usize);
            for (k, &v) in values.iter().enumerate() {
                if k % m_us == phase {
                    on += v;
                    n_on += 1;
                } else {
                    off += v;
                    n_off += 1;
                }
            }
            scores.push(MeterScore {
                beats_per_bar: m,
                phase: phase as u32,
                downbeat_mean: on / n_on.max(1) as f64,
                other_mean: off / n_off.max(1) as f64,
            });
        }
    }
    let mut best: Option<usize> = None;
    for (i, s) in scores.iter().enumerate() {
        if best.is_none_or(|b| s.contrast() > scores[b].contrast()) {
            best = Some(i);
        }
    }
    let best = best?;
    let top = scores[best];
    if top.contrast() <= 0.0 {
        return None;
    }
    let runner_up = scores
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != best)
        .map(|(_, s)| s.contrast())
        .fold(f64::NEG_INFINITY, f64::max);
    let confidence = if runner_up.is_finite() {
        ((top.contrast() - runner_up) / top.contrast()).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let m = top.beats_per_bar as usize;
    let phase = top.phase as usize;
    let positions = (0..values.len())
        .map(|k| ((k + m - phase) % m) as u32 + 1)
        .collect();
    Some(MeterChoice {
        method,
        best: top,
        confidence,
        scores,
        positions,
    })
}

/// The activation's maximum within `±window_s` of each beat (0 outside the curve).
fn beat_values(beat_times_s: &[f64], act: &Activation, window_s: f64) -> Vec<f64> {
    let fps = act.fps;
    let n = act.values.len();
    beat_times_s
        .iter()
        .map(|&t| {
            let lo = ((t - window_s) * fps).round().max(0.0);
            let hi = ((t + window_s) * fps).round();
            if n == 0 || hi < 0.0 || lo > (n - 1) as f64 {
                return 0.0;
            }
            let (lo, hi) = (lo as usize, (hi as usize).min(n - 1));
            act.values[lo..=hi]
                .iter()
                .fold(0.0f64, |m, &v| m.max(f64::from(v)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Beats every `period_s` from `start_s`; downbeat activation 0.8 on every `meter`-th beat
    /// starting at beat `phase`, 0.1 on the others, `floor` elsewhere.
    fn song(meter: usize, phase: usize, n: usize, floor: f32) -> (Vec<f64>, Activation) {
        let fps = 62.5;
        let beats: Vec<f64> = (0..n).map(|k| 1.0 + 0.5 * k as f64).collect();
        let mut v = vec![floor; ((beats[n - 1] + 1.0) * fps) as usize];
        for (k, &t) in beats.iter().enumerate() {
            v[(t * fps).round() as usize] = if k % meter == phase { 0.8 } else { 0.1 };
        }
        (beats, Activation::new(v, fps))
    }

    #[test]
    fn finds_meter_and_phase() {
        for (meter, phase) in [(3, 0), (3, 2), (4, 1), (4, 3)] {
            let (beats, act) = song(meter, phase, 24, 0.0);
            let c = choose_meter(&beats, &act, &MeterConfig::default())
                .unwrap()
                .unwrap();
            assert_eq!(c.method, BarPositionMethod::PhaseVote);
            assert_eq!(
                (c.best.beats_per_bar as usize, c.best.phase as usize),
                (meter, phase)
            );
            assert!((c.best.downbeat_mean - 0.8).abs() < 1e-6);
            assert!(c.confidence > 0.5, "{}", c.confidence);
            assert_eq!(c.scores.len(), 7);
            assert_eq!(c.positions.len(), 24);
            assert_eq!(c.positions[phase], 1);
            assert_eq!(c.positions[(phase + 1) % meter], 2);
            assert!(c.positions.iter().all(|&p| (1..=meter as u32).contains(&p)));
        }
    }

    #[test]
    fn multiples_and_divisors_lose_to_the_true_meter() {
        let cfg = MeterConfig {
            beats_per_bar: vec![2, 3, 4, 6, 8],
            ..MeterConfig::default()
        };
        let (beats, act) = song(4, 0, 32, 0.0);
        let c = choose_meter(&beats, &act, &cfg).unwrap().unwrap();
        assert_eq!((c.best.beats_per_bar, c.best.phase), (4, 0));
        let (beats, act) = song(3, 1, 30, 0.0);
        let c = choose_meter(&beats, &act, &cfg).unwrap().unwrap();
        assert_eq!((c.best.beats_per_bar, c.best.phase), (3, 1));
    }

    #[test]
    fn window_catches_an_off_by_one_peak() {
        let (mut beats, act) = song(3, 0, 12, 0.0);
        for b in &mut beats {
            *b += 0.9 / 62.5; // just under a frame late
        }
        let c = choose_meter(&beats, &act, &MeterConfig::default())
            .unwrap()
            .unwrap();
        assert_eq!((c.best.beats_per_bar, c.best.phase), (3, 0));
    }

    #[test]
    fn values_per_beat_vote_the_same_way() {
        let values: Vec<f64> = (0..24)
            .map(|k| if k % 3 == 2 { 0.9 } else { 0.2 })
            .collect();
        let c = choose_meter_from_values(
            &values,
            &MeterConfig::default(),
            BarPositionMethod::BarClassifier,
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.method, BarPositionMethod::BarClassifier);
        assert_eq!((c.best.beats_per_bar, c.best.phase), (3, 2));
        assert_eq!(c.positions[2], 1);
        assert!(
            choose_meter_from_values(
                &[0.1, f64::NAN],
                &MeterConfig::default(),
                BarPositionMethod::BarClassifier
            )
            .is_err()
        );
        assert_eq!(
            choose_meter_from_values(
                &[0.5; 12],
                &MeterConfig::default(),
                BarPositionMethod::BarClassifier
            )
            .unwrap(),
            None
        );
    }

    /// A tracker's extra beat halfway through shifts the bar phase: one phase for the whole
    /// song gets half the downbeats wrong, the decoder with bar restarts gets them all.
    #[test]
    fn bar_restarts_follow_a_slip() {
        let mut values: Vec<f64> = (0..40)
            .map(|k| if k % 4 == 0 { 0.8 } else { 0.2 })
            .collect();
        // an extra beat after beat 20: the downbeats move to 1 mod 4
        values.insert(21, 0.2);
        // Downbeats are the strong beats (where within the slip the bar restarts is a tie).
        let downbeats = |p: &[u32]| -> Vec<bool> { p.iter().map(|&x| x == 1).collect() };
        let truth: Vec<bool> = values.iter().map(|&v| v > 0.5).collect();
        let one = choose_meter_from_values(
            &values,
            &MeterConfig::default(),
            BarPositionMethod::BarClassifier,
        )
        .unwrap()
        .unwrap();
        let right = |p: &[u32]| {
            downbeats(p)
                .iter()
                .zip(&truth)
                .filter(|(a, b)| a == b)
                .count()
        };
        assert!(right(&one.positions) < 36, "{:?}", one.positions);
        let cfg = MeterConfig {
            bar_change_probability: 0.01,
            ..MeterConfig::default()
        };
        let c = choose_meter_from_values(&values, &cfg, BarPositionMethod::BarClassifier)
            .unwrap()
            .unwrap();
        assert_eq!(downbeats(&c.positions), truth, "{:?}", c.positions);
        // Without a slip both agree.
        let steady: Vec<f64> = (0..24)
            .map(|k| if k % 3 == 1 { 0.7 } else { 0.3 })
            .collect();
        let a = choose_meter_from_values(&steady, &cfg, BarPositionMethod::BarClassifier)
            .unwrap()
            .unwrap();
        let b = choose_meter_from_values(
            &steady,
            &MeterConfig::default(),
            BarPositionMethod::BarClassifier,
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.positions, b.positions);
        let bad = MeterConfig {
            bar_change_probability: 0.7,
            ..MeterConfig::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn the_phase_check_moves_only_when_the_midpoints_are_clearer_by_the_ratio() {
        let cfg = MeterConfig::default();
        let choice = |values: &[f64]| {
            choose_meter_from_values(values, &cfg, BarPositionMethod::BarClassifier).unwrap()
        };
        // Clear 4/4 bars (contrast 0.6) and blurred ones (contrast 0.3, 0.45).
        let clear: Vec<f64> = (0..32)
            .map(|k| if k % 4 == 1 { 0.8 } else { 0.2 })
            .collect();
        let blurred: Vec<f64> = (0..32)
            .map(|k| if k % 4 == 1 { 0.5 } else { 0.2 })
            .collect();
        let nearly: Vec<f64> = (0..32)
            .map(|k| if k % 4 == 1 { 0.65 } else { 0.2 })
            .collect();
        let check = PhaseCheckConfig::default();
        assert!(check.prefers_midpoints(choice(&blurred).as_ref(), choice(&clear).as_ref(), 1.0));
        assert!(!check.prefers_midpoints(choice(&nearly).as_ref(), choice(&clear).as_ref(), 1.0));
        assert!(!check.prefers_midpoints(choice(&clear).as_ref(), choice(&blurred).as_ref(), 1.0));
        assert!(check.prefers_midpoints(None, choice(&clear).as_ref(), 1.0));
        assert!(!check.prefers_midpoints(choice(&blurred).as_ref(), None, 1.0));
        // Noise on both grids (contrasts 0.05 and 0.15): a ratio of 3, but no bar heard.
        let faint: Vec<f64> = (0..32)
            .map(|k| if k % 4 == 1 { 0.25 } else { 0.2 })
            .collect();
        let faint2: Vec<f64> = (0..32)
            .map(|k| if k % 4 == 1 { 0.35 } else { 0.2 })
            .collect();
        assert!(!check.prefers_midpoints(choice(&faint).as_ref(), choice(&faint2).as_ref(), 1.0));
        let no_floor = PhaseCheckConfig {
            min_contrast: 0.0,
            ..PhaseCheckConfig::default()
        };
        assert!(no_floor.prefers_midpoints(choice(&faint).as_ref(), choice(&faint2).as_ref(), 1.0));
        let off = PhaseCheckConfig {
            ratio: 0.0,
            ..PhaseCheckConfig::default()
        };
        assert!(!off.prefers_midpoints(choice(&blurred).as_ref(), choice(&clear).as_ref(), 1.0));
        for bad in [
            PhaseCheckConfig {
                ratio: f64::NAN,
                ..PhaseCheckConfig::default()
            },
            PhaseCheckConfig {
                ratio: -1.0,
                ..PhaseCheckConfig::default()
            },
            PhaseCheckConfig {
                min_contrast: 1.5,
                ..PhaseCheckConfig::default()
            },
            PhaseCheckConfig {
                min_pulse_ratio: f64::NAN,
                ..PhaseCheckConfig::default()
            },
        ] {
            assert!(bad.validate().is_err());
        }
        // Nothing for the network between the beats: no move, however clear the bars.
        assert!(!check.prefers_midpoints(choice(&blurred).as_ref(), choice(&clear).as_ref(), 0.1));
        // Pulses of 1.0 on the beats (every 0.5 s) and 0.5 halfway, 0 elsewhere.
        let fps = 62.5;
        let mut curve = vec![0.0f32; 1000];
        let beats: Vec<f64> = (0..20).map(|k| 1.0 + 0.5 * f64::from(k)).collect();
        for &b in &beats {
            curve[(b * fps).round() as usize] = 1.0;
            curve[((b + 0.25) * fps).round() as usize] = 0.5;
        }
        let act = Activation::new(curve, fps);
        let r = pulse_ratio(&beats, &midpoints(&beats), &act);
        assert!((r - 0.5).abs() < 1e-9, "{r}");
        assert_eq!(pulse_ratio(&[], &[], &act), 0.0);
        assert_eq!(midpoints(&[1.0, 2.0, 4.0]), vec![1.5, 3.0]);
        assert!(midpoints(&[1.0]).is_empty());
    }

    #[test]
    fn nothing_to_decide() {
        let (beats, _) = song(4, 0, 16, 0.0);
        let flat = Activation::new(vec![0.3; 1000], 62.5);
        assert_eq!(
            choose_meter(&beats, &flat, &MeterConfig::default()).unwrap(),
            None
        );
        let (beats, act) = song(4, 0, 5, 0.0);
        // 5 beats: two bars of 3/4 fit, two of 4/4 do not
        let c = choose_meter(&beats, &act, &MeterConfig::default()).unwrap();
        assert!(c.is_none_or(|c| c.best.beats_per_bar == 3));
        assert_eq!(
            choose_meter(&[], &act, &MeterConfig::default()).unwrap(),
            None
        );
    }

    #[test]
    fn rejects_bad_input() {
        let act = Activation::new(vec![0.0; 100], 62.5);
        let cfg = MeterConfig::default();
        assert!(choose_meter(&[1.0, 0.5], &act, &cfg).is_err());
        assert!(choose_meter(&[f64::NAN], &act, &cfg).is_err());
        assert!(choose_meter(&[1.0], &Activation::new(vec![], 0.0), &cfg).is_err());
        for bad in [
            MeterConfig {
                beats_per_bar: vec![],
                ..cfg.clone()
            },
            MeterConfig {
                beats_per_bar: vec![1],
                ..cfg.clone()
            },
            MeterConfig {
                window_s: -1.0,
                ..cfg.clone()
            },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Config(_))));
        }
        // beats outside the curve read 0
        let c = choose_meter(&[100.0, 101.0, 102.0, 103.0, 104.0, 105.0], &act, &cfg).unwrap();
        assert_eq!(c, None);
    }
}
