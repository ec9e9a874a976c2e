//! Relinking a song to a file the user picked: only to audio that decodes, and with a
//! duration that matches the song's (issue 19: a JSON file renamed `.mp3` became a song's
//! audio with status OK).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Track, clock};
use crate::Result;
use crate::audio::{DecodeConfig, decode_file};

/// How a candidate file compares with the song it would replace.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RelinkCheck {
    /// The candidate's duration (decoded).
    pub duration_s: f64,
    /// The song's duration when it was added.
    pub expected_s: f64,
}

impl RelinkCheck {
    /// Durations closer than this (or than 2 % of the song) are the same recording as far
    /// as the beats are concerned; an edit that adds or cuts more shifts them.
    pub const TOLERANCE_S: f64 = 1.0;

    /// The candidate lasts as long as the song.
    pub fn matches(&self) -> bool {
        (self.duration_s - self.expected_s).abs() <= Self::TOLERANCE_S.max(0.02 * self.expected_s)
    }

    /// "lasts 3:12, the song lasted 3:45 when it was added" when it does not match.
    pub fn mismatch(&self) -> Option<String> {
        (!self.matches()).then(|| {
            format!(
                "lasts {}, and the song lasted {} when it was added",
                clock(self.duration_s),
                clock(self.expected_s)
            )
        })
    }
}

/// Decodes `path` (an error naming it when it is not audio we can read) and compares its
/// duration with `track`'s.
pub fn check_relink(track: &Track, path: &Path) -> Result<RelinkCheck> {
    let decoded = decode_file(path, &DecodeConfig::default())?;
    Ok(RelinkCheck {
        duration_s: decoded.duration_s(),
        expected_s: track.meta.duration_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_within_a_second_or_two_percent() {
        let c = |d: f64, e: f64| RelinkCheck {
            duration_s: d,
            expected_s: e,
        };
        assert!(c(30.4, 30.0).matches());
        assert!(c(304.0, 300.0).matches());
        assert!(!c(32.0, 30.0).matches());
        assert_eq!(
            c(192.0, 225.0).mismatch().as_deref(),
            Some("lasts 3:12, and the song lasted 3:45 when it was added")
        );
    }
}
