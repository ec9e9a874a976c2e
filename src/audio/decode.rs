//! Decoding any supported audio file to a mono `f32` [`Signal`] at the source rate.
//!
//! Containers and codecs (symphonia 0.6): WAV, AIFF, CAF, FLAC, MP3 (and MP1/MP2),
//! OGG/Vorbis, MP4/M4A with AAC or ALAC, MKV/WebM with the same codecs.
//!
//! **Time zero is the first decoded sample.** Decoding is gapless: encoder delay and
//! padding declared by the container (LAME/Xing headers in MP3, `iTunSMPB`/edit lists in
//! M4A, Vorbis granule positions) are trimmed by symphonia, so sample 0 is the first sample
//! the encoder was given. Other players that do not trim the MP3 decoder delay (≈ 1105
//! samples ≈ 25 ms at 44.1 kHz) place beats that much later — the "26 ms problem" DJs know
//! from Rekordbox; our exported times refer to the gapless timeline.
//!
//! Channels are mixed to mono by averaging, as `librosa.load(mono=True)` does.

use std::fs::File;
use std::path::Path;

use serde::{Deserialize, Serialize};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use super::Signal;
use crate::{Error, Result};

/// Settings of the decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecodeConfig {
    /// Longest input accepted, in seconds. Longer files are refused with a clear error
    /// instead of exhausting memory. Default 4 h: a full concert or a DJ set still fits
    /// (a 2-hour file is ≈ 1.3 GB of mono f32 at 44.1 kHz).
    pub max_duration_s: f64,
    /// Trim encoder delay/padding (gapless decoding). Default true; see module docs.
    pub gapless: bool,
    /// Decode what is there when a file ends early (truncated download or copy) instead of
    /// failing. Default false: a truncated file is reported, since beats near the cut and
    /// the duration would be wrong without the user knowing.
    pub allow_truncated: bool,
    /// Fraction of packets that may fail to decode (corrupt frames are skipped and
    /// replaced by nothing) before the file is declared corrupt. Default 1 %.
    pub max_bad_packet_fraction: f64,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            max_duration_s: 4.0 * 3600.0,
            gapless: true,
            allow_truncated: false,
            max_bad_packet_fraction: 0.01,
        }
    }
}

/// A decoded file: the mono signal at the source rate plus what we learnt about the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodedAudio {
    /// Mono mixdown at the source sample rate.
    pub signal: Signal,
    /// Channel count of the source.
    pub source_channels: usize,
    /// Short codec name (e.g. "mp3", "flac").
    pub codec: String,
    /// Packets that failed to decode and were skipped.
    pub skipped_packets: usize,
}

impl DecodedAudio {
    /// Duration of the decoded audio in seconds.
    pub fn duration_s(&self) -> f64 {
        self.signal.duration_s()
    }
}

/// Decode an audio file to mono f32 at its own sample rate.
pub fn decode_file(path: &Path, config: &DecodeConfig) -> Result<DecodedAudio> {
    let _span = tracing::info_span!("decode", path = %path.display()).entered();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::UnsupportedAudio {
            path: path.into(),
            detail: "is a directory".into(),
        });
    }
    if meta.len() == 0 {
        return Err(Error::BadAudio {
            path: path.into(),
            detail: "file is empty (0 bytes)".into(),
        });
    }

    let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut reader = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| Error::UnsupportedAudio {
            path: path.into(),
            detail: describe_probe_error(&e),
        })?;

    let is_mp4 = reader.format_info().short_name == "isomp4";
    let track = reader
        .default_track(TrackType::Audio)
        .ok_or_else(|| Error::UnsupportedAudio {
            path: path.into(),
            detail: "no audio track found".into(),
        })?
        .clone();
    let Some(CodecParameters::Audio(params)) = track.codec_params.clone() else {
        return Err(Error::UnsupportedAudio {
            path: path.into(),
            detail: "audio track has no codec parameters".into(),
        });
    };

    let codecs = symphonia::default::get_codecs();
    let codec = codecs
        .get_audio_decoder(params.codec)
        .map(|c| c.codec.info.short_name.to_string())
        .unwrap_or_else(|| format!("{:?}", params.codec));
    let mut decoder = codecs
        .make_audio_decoder(
            &params,
            &AudioDecoderOptions::default().gapless(config.gapless),
        )
        .map_err(|e| Error::UnsupportedAudio {
            path: path.into(),
            detail: format!("codec {codec}: {e}"),
        })?;

    let mut sample_rate_hz = params.sample_rate.unwrap_or(0);
    let declared_frames = track.num_frames;
    if let (Some(n), true) = (declared_frames, sample_rate_hz > 0) {
        let declared_s = n as f64 / sample_rate_hz as f64;
        if declared_s > config.max_duration_s {
            return Err(too_long(path, declared_s, config.max_duration_s));
        }
    }

    let mut mono: Vec<f32> = Vec::new();
    let mut planes: Vec<Vec<f32>> = Vec::new();
    let mut source_channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    let mut packets = 0usize;
    let mut bad_packets = 0usize;
    let mut last_bad: Option<String> = None;
    let mut truncated = false;

    loop {
        let packet = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                truncated = true;
                break;
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(SymphoniaError::DecodeError(msg)) => {
                // A damaged container packet: skip it like a damaged frame.
                packets += 1;
                bad_packets += 1;
                last_bad = Some(msg.to_string());
                if bad_packets > 1000 {
                    return Err(Error::Decode {
                        path: path.into(),
                        detail: format!("container is damaged ({msg})"),
                    });
                }
                continue;
            }
            Err(e) => {
                return Err(Error::Decode {
                    path: path.into(),
                    detail: e.to_string(),
                });
            }
        };
        if packet.track_id != track.id {
            continue;
        }
        packets += 1;
        match decoder.decode(&packet) {
            Ok(buf) => {
                let spec_rate = buf.spec().rate();
                if sample_rate_hz == 0 {
                    sample_rate_hz = spec_rate;
                }
                let channels = buf.spec().channels().count().max(1);
                source_channels = source_channels.max(channels);
                let frames = buf.frames();
                if frames == 0 {
                    continue;
                }
                buf.copy_to_vecs_planar::<f32>(&mut planes);
                let start = mono.len();
                mono.resize(start + frames, 0.0);
                let out = &mut mono[start..];
                let n_planes = planes.len().max(1);
                let gain = 1.0 / n_planes as f32;
                for plane in &planes {
                    for (o, &s) in out.iter_mut().zip(plane.iter()) {
                        *o += s * gain;
                    }
                }
                if sample_rate_hz > 0
                    && mono.len() as f64 / sample_rate_hz as f64 > config.max_duration_s
                {
                    return Err(too_long(
                        path,
                        mono.len() as f64 / sample_rate_hz as f64,
                        config.max_duration_s,
                    ));
                }
            }
            Err(SymphoniaError::DecodeError(msg)) => {
                bad_packets += 1;
                last_bad = Some(msg.to_string());
            }
            Err(SymphoniaError::IoError(e)) => {
                bad_packets += 1;
                last_bad = Some(e.to_string());
            }
            Err(e) => {
                return Err(Error::Decode {
                    path: path.into(),
                    detail: e.to_string(),
                });
            }
        }
    }

    if is_mp4 && track.delay.is_none() && sample_rate_hz > 0 {
        apply_mp4_edit_list(path, &mut mono, sample_rate_hz);
    }
    if sample_rate_hz == 0 {
        return Err(Error::UnsupportedAudio {
            path: path.into(),
            detail: "sample rate unknown".into(),
        });
    }
    if packets > 0 && bad_packets as f64 > config.max_bad_packet_fraction * packets as f64 + 1.0 {
        return Err(Error::Decode {
            path: path.into(),
            detail: format!(
                "{bad_packets} of {packets} packets are corrupt (last: {})",
                last_bad.unwrap_or_default()
            ),
        });
    }
    // A file cut short: either the reader hit EOF mid-packet, or far fewer frames came out
    // than the container declared.
    if let Some(n) = declared_frames {
        let missing = n.saturating_sub(mono.len() as u64) as f64 / sample_rate_hz as f64;
        if missing > 0.5 && (mono.len() as f64) < 0.98 * n as f64 {
            truncated = true;
        }
    }
    if truncated && !config.allow_truncated {
        let got_s = mono.len() as f64 / sample_rate_hz as f64;
        let expected = declared_frames
            .map(|n| {
                format!(
                    " of the {:.1} s the header declares",
                    n as f64 / sample_rate_hz as f64
                )
            })
            .unwrap_or_default();
        return Err(Error::Decode {
            path: path.into(),
            detail: format!("file is truncated: audio ends after {got_s:.1} s{expected}"),
        });
    }
    if truncated {
        tracing::warn!(path = %path.display(), "file is truncated; using the decodable part");
    }
    if mono.is_empty() {
        return Err(Error::BadAudio {
            path: path.into(),
            detail: "contains no audio samples".into(),
        });
    }
    if mono.iter().any(|s| !s.is_finite()) {
        return Err(Error::Decode {
            path: path.into(),
            detail: "decoded samples contain NaN or infinity".into(),
        });
    }
    tracing::debug!(
        sample_rate_hz,
        source_channels,
        frames = mono.len(),
        bad_packets,
        "decoded"
    );
    Ok(DecodedAudio {
        signal: Signal::new(mono, sample_rate_hz),
        source_channels,
        codec,
        skipped_packets: bad_packets,
    })
}

/// Trim encoder priming/padding that an MP4 edit list declares (symphonia ignores edit
/// lists; see [`super::mp4_edit`]).
fn apply_mp4_edit_list(path: &Path, mono: &mut Vec<f32>, sample_rate_hz: u32) {
    let Ok(mut f) = File::open(path) else { return };
    let Some(region) = super::mp4_edit::read_edit_region(&mut std::io::BufReader::new(&mut f))
    else {
        return;
    };
    let skip = ((region.skip_s * sample_rate_hz as f64).round() as usize).min(mono.len());
    if skip > 0 {
        mono.drain(..skip);
    }
    if let Some(d) = region.duration_s {
        let keep = (d * sample_rate_hz as f64).round() as usize;
        if keep > 0 && keep < mono.len() {
            mono.truncate(keep);
        }
    }
    tracing::debug!(skip, "applied MP4 edit list");
}

fn too_long(path: &Path, duration_s: f64, limit_s: f64) -> Error {
    Error::BadAudio {
        path: path.into(),
        detail: format!(
            "is longer than the limit ({} > {}); raise the maximum duration to analyse it",
            fmt_duration(duration_s),
            fmt_duration(limit_s)
        ),
    }
}

fn fmt_duration(s: f64) -> String {
    let total = s.round() as u64;
    format!(
        "{}:{:02}:{:02}",
        total / 3600,
        (total / 60) % 60,
        total % 60
    )
}

fn describe_probe_error(e: &SymphoniaError) -> String {
    match e {
        SymphoniaError::Unsupported(_) => {
            "format not recognised (supported: WAV, AIFF, FLAC, MP3, OGG/Vorbis, M4A/AAC, ALAC, CAF, MKV)"
                .into()
        }
        SymphoniaError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "file ends before its header is complete".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_as_hms() {
        assert_eq!(fmt_duration(7200.4), "2:00:00");
        assert_eq!(fmt_duration(61.0), "0:01:01");
    }
}
