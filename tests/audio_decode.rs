//! Decoding tests for every supported container/codec, gapless timing, and bad input.
//!
//! Fixtures come from `tests/fixtures/audio/make_fixtures.sh` (a 2 s stereo 44.1 kHz signal
//! with clicks at 0.5, 1.0 and 1.5 s, encoded with ffmpeg).

use std::path::PathBuf;

use zerons::Error;
use zerons::audio::{DecodeConfig, decode_file, resample};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

/// Onset (s) of each click: the first sample whose magnitude exceeds 0.5 in a window around
/// it (the tone stays below 0.1; each click starts at full value 0.8 at its exact time).
fn click_times(samples: &[f32], rate: u32) -> Vec<f64> {
    [0.5, 1.0, 1.5]
        .iter()
        .map(|&c| {
            let lo = ((c - 0.2) * rate as f64) as usize;
            let hi = (((c + 0.2) * rate as f64) as usize).min(samples.len());
            let i = samples[lo..hi]
                .iter()
                .position(|v| v.abs() > 0.5)
                .unwrap_or(0);
            (lo + i) as f64 / rate as f64
        })
        .collect()
}

/// (file, max allowed |offset| of each click in ms, max allowed duration error in s).
/// Lossless formats must be sample exact; lossy ones are gapless in symphonia within the
/// stated tolerance (measured offsets are printed with `--nocapture`).
const CASES: &[(&str, f64, f64)] = &[
    ("clicks.wav", 0.05, 0.0),
    ("clicks.flac", 0.05, 0.0),
    ("clicks_alac.m4a", 0.05, 0.0),
    ("clicks.mp3", 0.5, 0.001),
    ("clicks.ogg", 0.5, 0.001),
    ("clicks.m4a", 0.5, 0.001),
];

#[test]
fn every_container_decodes_with_time_zero_at_first_sample() {
    for &(name, tol_ms, tol_dur_s) in CASES {
        let d = decode_file(&fixture(name), &DecodeConfig::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.signal.sample_rate_hz, 44_100, "{name}");
        assert_eq!(d.source_channels, 2, "{name}");
        let dur_err = (d.duration_s() - 2.0).abs();
        assert!(
            dur_err <= tol_dur_s + 1e-9,
            "{name}: duration {} s",
            d.duration_s()
        );
        let clicks = click_times(&d.signal.samples, d.signal.sample_rate_hz);
        for (found, want) in clicks.iter().zip([0.5, 1.0, 1.5]) {
            let off_ms = (found - want) * 1000.0;
            println!("{name}: click at {want} s decoded at offset {off_ms:+.3} ms");
            assert!(
                off_ms.abs() <= tol_ms,
                "{name}: click {want} s off by {off_ms:.3} ms"
            );
        }
    }
}

#[test]
fn stereo_is_mixed_to_mono_by_averaging() {
    let d = decode_file(&fixture("clicks.wav"), &DecodeConfig::default()).unwrap();
    // Between clicks: 0.1·(sin 440 + sin 660)/2, so the peak is ≤ 0.1 and well above 0.05.
    let peak = d.signal.samples[..20_000]
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(peak <= 0.1 + 1e-3 && peak > 0.05, "peak {peak}");
}

#[test]
fn phone_recording_decodes_and_resamples() {
    let d = decode_file(&fixture("phone_8k_mono.wav"), &DecodeConfig::default()).unwrap();
    assert_eq!(d.signal.sample_rate_hz, 8_000);
    assert_eq!(d.source_channels, 1);
    let r = resample(&d.signal, 16_000).unwrap();
    assert_eq!(r.samples.len(), d.signal.samples.len() * 2);
}

fn expect_err(name: &str, config: &DecodeConfig) -> Error {
    match decode_file(&fixture(name), config) {
        Ok(d) => panic!("{name}: expected an error, decoded {} s", d.duration_s()),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(name), "message must name the file: {msg}");
            assert!(!msg.contains('\n'), "one-line message: {msg}");
            e
        }
    }
}

#[test]
fn bad_inputs_give_clear_errors_naming_the_file() {
    let c = DecodeConfig::default();
    assert!(matches!(
        expect_err("empty.wav", &c),
        Error::BadAudio { .. }
    ));
    assert!(matches!(
        expect_err("not_audio.mp3", &c),
        Error::UnsupportedAudio { .. }
    ));
    assert!(matches!(
        expect_err("does_not_exist.wav", &c),
        Error::Io { .. }
    ));
    let e = expect_err("truncated.wav", &c);
    assert!(e.to_string().contains("truncated"), "{e}");
    let e = expect_err("truncated.flac", &c);
    assert!(
        e.to_string().contains("truncated") || matches!(e, Error::Decode { .. }),
        "{e}"
    );
    let e = expect_err("garbage_data.mp3", &c);
    assert!(
        matches!(e, Error::UnsupportedAudio { .. } | Error::Decode { .. }),
        "{e}"
    );
}

#[test]
fn truncated_files_can_be_decoded_on_request() {
    let c = DecodeConfig {
        allow_truncated: true,
        ..Default::default()
    };
    let d = decode_file(&fixture("truncated.wav"), &c).unwrap();
    let expected_s = (30_000.0 - 44.0) / 4.0 / 44_100.0;
    assert!(
        (d.duration_s() - expected_s).abs() < 0.01,
        "{}",
        d.duration_s()
    );
}

#[test]
fn too_long_input_is_refused_before_decoding_everything() {
    let c = DecodeConfig {
        max_duration_s: 1.0,
        ..Default::default()
    };
    let e = expect_err("clicks.flac", &c);
    assert!(e.to_string().contains("longer than the limit"), "{e}");
}

#[test]
fn directory_is_not_audio() {
    let dir = fixture("");
    let e = decode_file(&dir, &DecodeConfig::default()).unwrap_err();
    assert!(
        matches!(e, Error::UnsupportedAudio { .. } | Error::Io { .. }),
        "{e}"
    );
}
