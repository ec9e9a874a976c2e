//! The error every command returns: a stable machine-readable `code`, a readable
//! `message` and a `hint` saying what to do next.

use serde::Serialize;

/// A UI-facing error. Engine errors keep the engine's code ([`zerons::Error::code`]);
/// errors raised by the shell itself use the codes listed in [`AppError::app`].
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AppError {
    /// Stable code: never change an existing one (the UI and tests match on it).
    pub code: String,
    /// What went wrong, naming the file when there is one.
    pub message: String,
    /// What the user can do about it (may be empty).
    pub hint: String,
}

impl AppError {
    /// An error of the shell itself. Codes: `no_project`, `no_beats`, `already_added`,
    /// `conflict`, `bad_request`, `unknown_format`, `internal`.
    pub fn app(code: &str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// No project is open.
    pub fn no_project() -> Self {
        Self::app(
            "no_project",
            "no project is open",
            "Create a new project or open one first.",
        )
    }

    /// A request from the page that does not follow the command's contract.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::app(
            "bad_request",
            message,
            "This is a bug in ZeroNS Studio; please report it.",
        )
    }

    /// A background task died (panicked or was dropped).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::app(
            "internal",
            message,
            "This is a bug in ZeroNS Studio; please report it. Your edits are saved.",
        )
    }
}

/// Runs `work`, turning a panic into an `internal` error, so that a background job that hits
/// a bug still ends with a `Failed` event (and the page stops waiting) instead of dying silently.
pub fn guarded<T>(what: &str, work: impl FnOnce() -> AppResult<T>) -> AppResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into());
            Err(AppError::internal(format!(
                "{what} stopped on an internal error: {detail}"
            )))
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for AppError {}

impl From<zerons::Error> for AppError {
    fn from(e: zerons::Error) -> Self {
        // A song's file that went away while the app runs: say so, and how to fix it,
        // instead of the system's "No such file or directory (os error 2)".
        if let zerons::Error::Io { path, cause } = &e
            && cause.kind() == std::io::ErrorKind::NotFound
        {
            return Self::app(
                "missing_file",
                format!(
                    "{} is missing: it was moved, renamed or deleted",
                    path.display()
                ),
                "Put the file back, or find it with the song's badge in the list (relink).",
            );
        }
        let code = e.code();
        let hint = match code {
            "io" => "Check that the file exists and that you may read and write it.",
            "unsupported_audio" => {
                "Convert the file to WAV, FLAC, MP3, AAC or Ogg Vorbis and add it again."
            }
            "decode" => "The file may be corrupt or truncated: export it again from its source.",
            "bad_audio" => "Choose a recording with audible music, of a reasonable length.",
            "parse" => "Fix the file at the line shown, or export it again from its tool.",
            "invalid_input" => "Undo the last change or correct the value, then try again.",
            "config" => "Check the project settings (tempo range, meter).",
            "model" => "Import the model again, or remove it to use the default activation.",
            "cancelled" => "",
            "store" => "The project file may be damaged: reopen it, or restore a backup copy.",
            "not_a_project" => "Choose a ZeroNS project file (.zerons).",
            "project_too_new" => "Update ZeroNS Studio to open this project.",
            "project_busy" => "Close the other program that uses this project, then try again.",
            "project_read_only" => {
                "Fix the file's permissions, or create a new project in a writable folder."
            }
            "audio_device" => {
                "Playback is off; editing, analysis and export work as usual. Connect speakers \
                 or headphones, then select the song again."
            }
            _ => "",
        };
        // The audio driver's own words (ALSA's) mean nothing to the user: they go to the log.
        let message = if code == "audio_device" {
            tracing::warn!("audio output: {e}");
            "The audio output failed".to_string()
        } else {
            e.to_string()
        };
        Self {
            code: code.into(),
            message,
            hint: hint.into(),
        }
    }
}

/// Result of every command.
pub type AppResult<T> = std::result::Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_says_so_in_plain_words() {
        let e = AppError::from(zerons::Error::io(
            std::path::Path::new("/music/song.mp3"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
        assert_eq!(e.code, "missing_file");
        assert!(e.message.contains("/music/song.mp3") && e.message.contains("moved"));
        assert!(!e.message.contains("os error"), "{}", e.message);
        assert!(e.hint.contains("relink"), "{}", e.hint);
    }

    #[test]
    fn engine_errors_keep_their_code_and_get_a_hint() {
        let e: AppError = zerons::Error::ProjectBusy {
            path: "/tmp/p.zerons".into(),
            waited_ms: 5000,
        }
        .into();
        assert_eq!(e.code, "project_busy");
        assert!(e.message.contains("/tmp/p.zerons"), "{}", e.message);
        assert!(e.hint.starts_with("Close"), "{}", e.hint);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["code"], "project_busy");
    }

    #[test]
    fn audio_device_errors_are_said_in_user_words() {
        let e: AppError = zerons::Error::AudioDevice(
            "alsa:default: ALSA function 'snd_pcm_open' failed with error 'ENOENT'".into(),
        )
        .into();
        assert_eq!(e.code, "audio_device");
        for text in [&e.message, &e.hint] {
            assert!(
                !text.contains("ALSA") && !text.contains("ZERONS_"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_panicking_job_becomes_an_internal_error() {
        let e = guarded("fine-tuning", || -> AppResult<()> { panic!("boom {}", 7) }).unwrap_err();
        assert_eq!(e.code, "internal");
        assert!(
            e.message.contains("fine-tuning") && e.message.contains("boom 7"),
            "{}",
            e.message
        );
        assert_eq!(guarded("x", || Ok(3)), Ok(3));
        let e = guarded("x", || -> AppResult<()> { Err(AppError::no_project()) }).unwrap_err();
        assert_eq!(e.code, "no_project");
    }
}
