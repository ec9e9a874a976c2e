//! The engine's single error type.
//!
//! Every error that comes from a file names the file. Nothing in the engine panics on
//! untrusted input (audio files, beat files, user settings); such input yields one of these.

use std::path::PathBuf;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened, read or written.
    ///
    /// The I/O error is part of the message and deliberately not a `#[source]`: chained
    /// reporters (`anyhow`'s `{:#}`) printed it twice ("x: No such file (os error 2): No such
    /// file (os error 2)").
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// The file is not audio in a container/codec we can read.
    #[error("{}: not a supported audio file ({detail})", path.display())]
    UnsupportedAudio { path: PathBuf, detail: String },

    /// The file looked like audio but decoding failed (corrupt, truncated …).
    #[error("{}: cannot decode audio: {detail}", path.display())]
    Decode { path: PathBuf, detail: String },

    /// Decoded fine, but the audio is unusable for analysis (empty, silent, too long …).
    #[error("{}: {detail}", path.display())]
    BadAudio { path: PathBuf, detail: String },

    /// A text/structured file (beats, annotations) is malformed at a given line.
    #[error("{}:{line}: {detail}", path.display())]
    Parse {
        path: PathBuf,
        /// 1-based line (or element index for non-line formats); 0 when unknown.
        line: usize,
        detail: String,
    },

    /// In-memory input that violates a stage's preconditions (e.g. unsorted beat times).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A configuration value out of its valid range.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A model file (weights or its sidecar) is missing, corrupt, or does not fit the network.
    #[error("model: {0}")]
    Model(String),

    /// Long work stopped because the caller asked for it.
    #[error("cancelled")]
    Cancelled,

    /// A project file could not be read or written (disk full, corrupt, I/O failure, a
    /// missing track or revision …).
    #[error("{}: {detail}", path.display())]
    Store { path: PathBuf, detail: String },

    /// The file exists but is not a ZeroNS project.
    #[error("{}: not a ZeroNS project ({detail})", path.display())]
    NotAProject { path: PathBuf, detail: String },

    /// The project was written by a newer ZeroNS with a schema this build does not know.
    #[error(
        "{}: project schema version {found} is newer than this ZeroNS supports ({supported}); update ZeroNS",
        path.display()
    )]
    ProjectTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// Another program kept the project locked longer than the busy timeout.
    #[error(
        "{}: project is locked by another program (waited {waited_ms} ms); close it or retry",
        path.display()
    )]
    ProjectBusy { path: PathBuf, waited_ms: u64 },

    /// The project file (or its folder) cannot be written.
    #[error("{}: project is read-only ({detail})", path.display())]
    ProjectReadOnly { path: PathBuf, detail: String },

    /// No usable audio output (no sound card, device busy or unplugged). Playback is off;
    /// everything else works.
    #[error("audio output: {0}")]
    AudioDevice(String),
}

impl Error {
    /// A stable, machine-readable code for UIs and scripts. Never change an existing code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::UnsupportedAudio { .. } => "unsupported_audio",
            Error::Decode { .. } => "decode",
            Error::BadAudio { .. } => "bad_audio",
            Error::Parse { .. } => "parse",
            Error::InvalidInput(_) => "invalid_input",
            Error::Config(_) => "config",
            Error::Model(_) => "model",
            Error::Cancelled => "cancelled",
            Error::Store { .. } => "store",
            Error::NotAProject { .. } => "not_a_project",
            Error::ProjectTooNew { .. } => "project_too_new",
            Error::ProjectBusy { .. } => "project_busy",
            Error::ProjectReadOnly { .. } => "project_read_only",
            Error::AudioDevice(_) => "audio_device",
        }
    }

    /// Helper for I/O errors on a path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause: source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file() {
        let e = Error::Parse {
            path: "beats.csv".into(),
            line: 3,
            detail: "not a number: 'x'".into(),
        };
        assert_eq!(e.to_string(), "beats.csv:3: not a number: 'x'");
        assert_eq!(e.code(), "parse");
    }
}
