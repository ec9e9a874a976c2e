//! The real-time player on ALSA's null device (no sound card needed): the stream opens,
//! renders the mixer and the transport moves. Only with `--features playback`.
#![cfg(feature = "playback")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use zerons::playback::{PlaybackConfig, Player};

#[test]
fn player_plays_on_the_null_device_and_reports_position() {
    // ALSA's `null` PCM accepts audio without a card (and without pacing: it consumes
    // buffers as fast as they are rendered), so the position only has to move forward.
    let player = match Player::open(Some("alsa:null"), &PlaybackConfig::default()) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(e.code(), "audio_device", "{e}");
            eprintln!("skipped: {e}");
            return;
        }
    };
    let rate = player.info().sample_rate_hz;
    player.with_mixer(|m| {
        m.load(Arc::from(vec![0.0f32; rate as usize * 600]));
        m.set_beats(&[0.5, 1.0], &[true, false]).unwrap();
    });
    // Idle until asked: the stream does not run through silence.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(player.with_mixer(|m| m.position_samples()), 0.0);
    player.play().unwrap();
    let t0 = Instant::now();
    while player.with_mixer(|m| m.position_samples()) == 0.0
        && t0.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        player.with_mixer(|m| m.position_samples()) > 0.0,
        "the stream never rendered"
    );
    player.pause().unwrap();
    let state = player.state();
    assert!(!state.playing);
    assert!(state.position_s >= 0.0 && state.position_s <= state.duration_s);
    assert!(player.take_error().is_none());
}

#[test]
fn a_missing_device_is_a_clear_error() {
    let e = Player::open(
        Some("alsa:no-such-device-zerons"),
        &PlaybackConfig::default(),
    )
    .err()
    .expect("no such device");
    assert_eq!(e.code(), "audio_device");
    assert!(e.to_string().contains("no-such-device-zerons"), "{e}");
}
