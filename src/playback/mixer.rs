//! The offline mixer: music + clicks, transport state, rendering into interleaved buffers.

use std::sync::Arc;

use serde::Serialize;

use super::click::synth_click;
use super::stretch::Wsola;
use super::{MAX_GAIN, PlaybackConfig, SPEED_RANGE};
use crate::audio::{Signal, resample};
use crate::{Error, Result};

/// What a UI shows of the transport.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransportState {
    pub playing: bool,
    /// Position on the music timeline (seconds from the first decoded sample).
    pub position_s: f64,
    pub duration_s: f64,
    pub speed: f64,
    pub music_gain: f32,
    pub click_gain: f32,
    pub loop_s: Option<(f64, f64)>,
    /// Playback ran off the end of the song (cleared by a seek or `play`).
    pub ended: bool,
}

/// Music with clicks on the beats, rendered buffer by buffer (see the module docs).
#[derive(Clone, Debug)]
pub struct Mixer {
    rate_hz: u32,
    channels: usize,
    music: Arc<[f32]>,
    /// Beat onsets in output samples, with "accented" (downbeat) flags; sorted.
    beats: Vec<(i64, bool)>,
    next_beat: usize,
    click: Vec<f32>,
    accent: Vec<f32>,
    /// Clicks still sounding: (accented, index into the click).
    sounding: Vec<(bool, usize)>,
    playing: bool,
    ended: bool,
    /// Position on the music timeline in samples at `rate_hz` (fractional when slowed).
    position: f64,
    speed: f64,
    loop_range: Option<(f64, f64)>,
    stretch: Wsola,
    music_gain: f32,
    click_gain: f32,
}

impl Mixer {
    /// An empty mixer for an output of `rate_hz` with `channels` interleaved channels.
    pub fn new(rate_hz: u32, channels: usize, config: &PlaybackConfig) -> Result<Self> {
        if rate_hz == 0 || channels == 0 {
            return Err(Error::Config(format!(
                "playback output needs a sample rate and channels (got {rate_hz} Hz, {channels} ch)"
            )));
        }
        check_gain("music", config.music_gain)?;
        check_gain("click", config.click_gain)?;
        let click = synth_click(
            rate_hz,
            config.click_freq_hz,
            config.click_duration_s,
            config.unaccented_level,
        );
        let accent = synth_click(rate_hz, config.accent_freq_hz, config.click_duration_s, 1.0);
        Ok(Self {
            rate_hz,
            channels,
            music: Arc::from(Vec::new()),
            beats: Vec::new(),
            next_beat: 0,
            click,
            accent,
            sounding: Vec::with_capacity(8),
            playing: false,
            ended: false,
            position: 0.0,
            speed: 1.0,
            loop_range: None,
            stretch: Wsola::new(rate_hz),
            music_gain: config.music_gain,
            click_gain: config.click_gain,
        })
    }

    /// Output sample rate.
    pub fn rate_hz(&self) -> u32 {
        self.rate_hz
    }

    /// Interleaved output channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Replaces the song (already at the output rate); stops and rewinds, keeps the beats,
    /// volumes and speed, drops the loop.
    pub fn load(&mut self, music: Arc<[f32]>) {
        self.music = music;
        self.playing = false;
        self.loop_range = None;
        self.seek_samples(0.0);
    }

    /// Replaces the beats: `times_s` on the music timeline, `accented[i]` marks downbeats
    /// (an empty slice = no accents). Rejects NaN/infinite times and a length mismatch.
    pub fn set_beats(&mut self, times_s: &[f64], accented: &[bool]) -> Result<()> {
        if !accented.is_empty() && accented.len() != times_s.len() {
            return Err(Error::InvalidInput(format!(
                "{} beat times but {} downbeat flags",
                times_s.len(),
                accented.len()
            )));
        }
        if let Some(bad) = times_s.iter().find(|t| !t.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "beat time {bad} is not a number of seconds"
            )));
        }
        let rate = f64::from(self.rate_hz);
        let mut beats: Vec<(i64, bool)> = times_s
            .iter()
            .enumerate()
            .map(|(i, t)| {
                (
                    (t * rate).round() as i64,
                    accented.get(i).copied().unwrap_or(false),
                )
            })
            .collect();
        beats.sort_by_key(|b| b.0);
        self.beats = beats;
        self.next_beat = self.first_beat_at_or_after(self.position);
        Ok(())
    }

    pub fn play(&mut self) {
        if self.music.is_empty() {
            return;
        }
        if self.ended || self.position >= self.music.len() as f64 {
            self.seek_samples(0.0);
        }
        if !self.playing {
            self.stretch.reset(self.position);
        }
        self.playing = true;
    }

    /// Stops where the mixer is; clicks still sounding are cut.
    pub fn pause(&mut self) {
        self.playing = false;
        self.sounding.clear();
    }

    /// Moves to `position_s` (clamped to the song); keeps playing if it was.
    pub fn seek(&mut self, position_s: f64) -> Result<()> {
        if !position_s.is_finite() {
            return Err(Error::InvalidInput(format!(
                "cannot seek to {position_s} s"
            )));
        }
        self.seek_samples(position_s * f64::from(self.rate_hz));
        Ok(())
    }

    /// Playback speed (1 = as recorded), pitch kept; within [`SPEED_RANGE`].
    pub fn set_speed(&mut self, speed: f64) -> Result<()> {
        if !(SPEED_RANGE.0..=SPEED_RANGE.1).contains(&speed) {
            return Err(Error::InvalidInput(format!(
                "playback speed {speed} is outside {}–{}",
                SPEED_RANGE.0, SPEED_RANGE.1
            )));
        }
        if speed != self.speed {
            self.speed = speed;
            self.stretch.reset(self.position);
        }
        Ok(())
    }

    /// Music and click gains, each in 0..=[`MAX_GAIN`].
    pub fn set_gains(&mut self, music_gain: f32, click_gain: f32) -> Result<()> {
        check_gain("music", music_gain)?;
        check_gain("click", click_gain)?;
        self.music_gain = music_gain;
        self.click_gain = click_gain;
        Ok(())
    }

    /// Loops `[start_s, end_s)` when playback reaches `end_s` from inside it; `None` stops
    /// looping.
    pub fn set_loop(&mut self, range_s: Option<(f64, f64)>) -> Result<()> {
        self.loop_range = match range_s {
            None => None,
            Some((a, b)) => {
                let rate = f64::from(self.rate_hz);
                let len = self.music.len() as f64;
                if !(a.is_finite() && b.is_finite())
                    || a < 0.0
                    || (b * rate).min(len) - a * rate < 1.0
                {
                    return Err(Error::InvalidInput(format!(
                        "loop {a}–{b} s is not a range inside the song"
                    )));
                }
                Some((a * rate, (b * rate).min(len)))
            }
        };
        Ok(())
    }

    pub fn is_playing(&self) -> bool {
        self.playing
    }

    /// Position in samples at the output rate.
    pub fn position_samples(&self) -> f64 {
        self.position
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Loop in samples at the output rate.
    pub fn loop_samples(&self) -> Option<(f64, f64)> {
        self.loop_range
    }

    pub fn duration_s(&self) -> f64 {
        self.music.len() as f64 / f64::from(self.rate_hz)
    }

    pub fn state(&self) -> TransportState {
        let rate = f64::from(self.rate_hz);
        TransportState {
            playing: self.playing,
            position_s: self.position / rate,
            duration_s: self.duration_s(),
            speed: self.speed,
            music_gain: self.music_gain,
            click_gain: self.click_gain,
            loop_s: self.loop_range.map(|(a, b)| (a / rate, b / rate)),
            ended: self.ended,
        }
    }

    /// Fills `out` (interleaved, `channels` per frame) with the next frames; silence when
    /// paused. Never allocates and never blocks: safe in an audio callback.
    pub fn render(&mut self, out: &mut [f32]) {
        let len = self.music.len() as f64;
        let channels = self.channels;
        for frame in out.chunks_mut(channels) {
            if !self.playing {
                frame.fill(0.0);
                continue;
            }
            let next = self.position + self.speed;
            // Beats whose onset falls in this output sample's span of the music timeline.
            while let Some(&(at, accent)) = self.beats.get(self.next_beat) {
                if at as f64 >= next {
                    break;
                }
                if self.sounding.len() < self.sounding.capacity() {
                    self.sounding.push((accent, 0));
                }
                self.next_beat += 1;
            }
            let music = if self.speed == 1.0 {
                self.music
                    .get(self.position as usize)
                    .copied()
                    .unwrap_or(0.0)
            } else {
                self.stretch.next_sample(&self.music, self.speed)
            };
            let mut v = music * self.music_gain;
            let (click, accent, gain) = (&self.click, &self.accent, self.click_gain);
            self.sounding.retain_mut(|(is_accent, i)| {
                let sound = if *is_accent { accent } else { click };
                v += sound[*i] * gain;
                *i += 1;
                *i < sound.len()
            });
            frame.fill(v.clamp(-1.0, 1.0));
            self.position = next;
            if let Some((start, end)) = self.loop_range
                && next >= end
                && next - self.speed < end
            {
                self.position = start + (next - end);
                self.next_beat = self.first_beat_at_or_after(self.position);
                self.stretch.reset(self.position);
            } else if self.position >= len {
                self.position = len;
                self.playing = false;
                self.ended = true;
            }
        }
    }

    fn seek_samples(&mut self, position: f64) {
        self.position = position.clamp(0.0, self.music.len() as f64).round();
        self.next_beat = self.first_beat_at_or_after(self.position);
        self.sounding.clear();
        self.stretch.reset(self.position);
        self.ended = false;
    }

    fn first_beat_at_or_after(&self, position: f64) -> usize {
        self.beats
            .partition_point(|&(at, _)| (at as f64) < position)
    }
}

/// Resamples a decoded song to the output rate (off the audio thread: it can take a second
/// for a long song), ready for [`Mixer::load`].
pub fn prepare_music(signal: &Signal, rate_hz: u32) -> Result<Arc<[f32]>> {
    let _span = tracing::info_span!("playback_prepare", rate_hz).entered();
    if signal.sample_rate_hz == rate_hz {
        return Ok(Arc::from(signal.samples.as_slice()));
    }
    Ok(Arc::from(resample(signal, rate_hz)?.samples))
}

fn check_gain(what: &str, gain: f32) -> Result<()> {
    if (0.0..=MAX_GAIN).contains(&gain) {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "{what} volume {gain} is outside 0–{MAX_GAIN}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn mixer(music: Vec<f32>, channels: usize) -> Mixer {
        let mut m = Mixer::new(RATE, channels, &PlaybackConfig::default()).unwrap();
        m.load(Arc::from(music));
        m
    }

    /// Renders `frames` frames in awkward chunk sizes (as an audio callback would), mono.
    fn render(m: &mut Mixer, frames: usize) -> Vec<f32> {
        let ch = m.channels();
        let mut out = vec![0.0; frames * ch];
        for chunk in out.chunks_mut(37 * ch) {
            m.render(chunk);
        }
        out.chunks(ch).map(|f| f[0]).collect()
    }

    #[test]
    fn clicks_start_on_the_exact_sample_of_their_beat() {
        let cfg = PlaybackConfig::default();
        let mut m = mixer(vec![0.0; 2 * RATE as usize], 1);
        let times = [0.1, 0.5, 1.234_567];
        m.set_beats(&times, &[false, true, false]).unwrap();
        m.play();
        let out = render(&mut m, 2 * RATE as usize);
        let click = synth_click(
            RATE,
            cfg.click_freq_hz,
            cfg.click_duration_s,
            cfg.unaccented_level,
        );
        let accent = synth_click(RATE, cfg.accent_freq_hz, cfg.click_duration_s, 1.0);
        let mut expected = vec![0.0f32; out.len()];
        for (t, sound) in times.iter().zip([&click, &accent, &click]) {
            let at = (t * f64::from(RATE)).round() as usize;
            for (i, s) in sound.iter().enumerate() {
                expected[at + i] += s * cfg.click_gain;
            }
        }
        for (i, (a, b)) in out.iter().zip(&expected).enumerate() {
            assert!((a - b).abs() < 1e-7, "sample {i}: {a} vs {b}");
        }
        // The accented click is a different sound: an octave up, louder.
        let at = (0.5 * f64::from(RATE)).round() as usize;
        assert!(out[at + 1] > out[(0.1 * f64::from(RATE)).round() as usize + 1]);
    }

    #[test]
    fn music_passes_through_unchanged_at_speed_one_on_every_channel() {
        let music: Vec<f32> = (0..10_000)
            .map(|i| ((i % 100) as f32 / 100.0) - 0.5)
            .collect();
        let mut m = mixer(music.clone(), 2);
        m.set_gains(0.5, 0.0).unwrap();
        m.play();
        let mut out = vec![0.0; 2 * 10_000];
        m.render(&mut out);
        for (i, f) in out.chunks(2).enumerate() {
            assert_eq!(f[0], music[i] * 0.5);
            assert_eq!(f[1], f[0]);
        }
        assert!(m.state().ended && !m.is_playing());
        // After the end: silence, and `play` starts again from the top.
        let mut more = vec![1.0; 8];
        m.render(&mut more);
        assert!(more.iter().all(|v| *v == 0.0));
        m.play();
        assert_eq!(m.position_samples(), 0.0);
    }

    #[test]
    fn pause_is_silent_and_seek_moves_the_click_cursor() {
        let mut m = mixer(vec![0.0; RATE as usize], 1);
        m.set_beats(&[0.25, 0.75], &[]).unwrap();
        m.play();
        m.pause();
        assert!(render(&mut m, 1000).iter().all(|v| *v == 0.0));
        m.seek(0.5).unwrap();
        m.play();
        let out = render(&mut m, RATE as usize / 2);
        // Only the beat at 0.75 s sounds, 0.25 s after the seek point.
        let first = out.iter().position(|v| *v != 0.0).unwrap();
        assert_eq!(first, RATE as usize / 4 + 1, "the click's sine starts at 0");
    }

    #[test]
    fn loop_wraps_with_its_clicks_every_lap() {
        let music: Vec<f32> = (0..RATE as usize).map(|i| i as f32 / RATE as f32).collect();
        let mut m = mixer(music, 1);
        m.set_gains(1.0, 0.0).unwrap();
        m.set_loop(Some((0.25, 0.5))).unwrap();
        m.seek(0.4).unwrap();
        m.play();
        let out = render(&mut m, RATE as usize / 2);
        let wrap = (0.1 * f64::from(RATE)) as usize;
        assert_eq!(
            out[wrap - 1],
            (0.5 * f64::from(RATE) - 1.0) as f32 / RATE as f32
        );
        assert_eq!(out[wrap], 0.25);
        assert!(m.is_playing());
        // Clicks come back on each lap.
        let mut m2 = mixer(vec![0.0; RATE as usize], 1);
        m2.set_beats(&[0.3], &[]).unwrap();
        m2.set_loop(Some((0.25, 0.5))).unwrap();
        m2.seek(0.25).unwrap();
        m2.play();
        let out = render(&mut m2, RATE as usize);
        let onsets = (1..out.len())
            .filter(|&i| out[i - 1] == 0.0 && out[i] != 0.0)
            .count();
        assert_eq!(onsets, 4, "one click per 0.25 s lap over 1 s");
    }

    #[test]
    fn half_speed_takes_twice_as_long_and_clicks_follow_the_music() {
        let mut m = mixer(vec![0.0; RATE as usize], 1);
        m.set_speed(0.5).unwrap();
        m.set_beats(&[0.5], &[]).unwrap();
        m.play();
        let out = render(&mut m, 3 * RATE as usize / 2);
        assert!((m.state().position_s - 0.75).abs() < 1e-9);
        // The beat at 0.5 s of music sounds 1 s into the output (the sine starts at 0).
        let first = out.iter().position(|v| *v != 0.0).unwrap();
        assert_eq!(first, RATE as usize + 1);
    }

    #[test]
    fn bad_settings_are_errors_not_panics() {
        let mut m = mixer(vec![0.0; 1000], 1);
        assert!(m.set_beats(&[f64::NAN], &[]).is_err());
        assert!(m.set_beats(&[0.1, 0.2], &[true]).is_err());
        assert!(m.set_speed(0.0).is_err());
        assert!(m.set_speed(f64::NAN).is_err());
        assert!(m.set_gains(-1.0, 0.5).is_err());
        assert!(m.set_gains(1.0, f32::NAN).is_err());
        assert!(m.set_loop(Some((0.5, 0.1))).is_err());
        assert!(m.seek(f64::INFINITY).is_err());
        assert!(Mixer::new(0, 2, &PlaybackConfig::default()).is_err());
        // An empty mixer renders silence and does not start.
        let mut empty = Mixer::new(RATE, 2, &PlaybackConfig::default()).unwrap();
        empty.play();
        let mut out = vec![1.0; 64];
        empty.render(&mut out);
        assert!(out.iter().all(|v| *v == 0.0));
    }
}
