//! File dialogs, opened from Rust (so the page needs no dialog permission), with a test
//! hook: when `ZERONS_TEST_PICK_<KIND>` is set, its value is returned instead of showing
//! a dialog (end-to-end tests cannot drive GTK dialogs). For `audio` the value is a
//! path list (`:`-separated on Unix).

use serde::Deserialize;
use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;

use crate::commands::blocking;
use crate::error::AppResult;

/// What the user is asked to pick.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PickKind {
    /// Where to create a new project file.
    NewProject,
    /// A project file to open.
    OpenProject,
    /// Audio files to add.
    Audio,
    /// A folder to export into.
    ExportDir,
    /// The file a moved or changed song is now (one audio file).
    Relink,
    /// A beat file to import into a song.
    BeatFile,
}

impl PickKind {
    fn env(self) -> &'static str {
        match self {
            PickKind::NewProject => "ZERONS_TEST_PICK_NEW_PROJECT",
            PickKind::OpenProject => "ZERONS_TEST_PICK_OPEN_PROJECT",
            PickKind::Audio => "ZERONS_TEST_PICK_AUDIO",
            PickKind::ExportDir => "ZERONS_TEST_PICK_EXPORT_DIR",
            PickKind::Relink => "ZERONS_TEST_PICK_RELINK",
            PickKind::BeatFile => "ZERONS_TEST_PICK_BEAT_FILE",
        }
    }
}

/// Audio extensions the decoder reads.
const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "aac", "aif", "aiff", "caf", "mkv",
    "webm",
];

/// Beat file extensions the importers read (`zerons::formats::read_beats`).
const BEAT_EXTENSIONS: &[&str] = &[
    "csv", "txt", "beats", "jams", "svl", "xml", "nml", "mid", "midi", "lab",
];

/// Asks the user for paths; `None` when the dialog was dismissed.
#[tauri::command]
pub async fn pick_path(app: AppHandle, kind: PickKind) -> AppResult<Option<Vec<String>>> {
    if let Some(v) = std::env::var_os(kind.env()) {
        let paths = std::env::split_paths(&v)
            .map(|p| p.display().to_string())
            .collect();
        return Ok(Some(paths));
    }
    blocking(move || {
        let d = app.dialog().file();
        let picked = match kind {
            PickKind::NewProject => d
                .set_title("New project")
                .add_filter("ZeroNS project", &["zerons"])
                .set_file_name("beats.zerons")
                .blocking_save_file()
                .map(|p| vec![p]),
            PickKind::OpenProject => d
                .set_title("Open project")
                .add_filter("ZeroNS project", &["zerons"])
                .blocking_pick_file()
                .map(|p| vec![p]),
            PickKind::Audio => d
                .set_title("Add songs")
                .add_filter("Audio", AUDIO_EXTENSIONS)
                .blocking_pick_files(),
            PickKind::ExportDir => d
                .set_title("Export beats to folder")
                .blocking_pick_folder()
                .map(|p| vec![p]),
            PickKind::Relink => d
                .set_title("Find the song's audio file")
                .add_filter("Audio", AUDIO_EXTENSIONS)
                .blocking_pick_file()
                .map(|p| vec![p]),
            PickKind::BeatFile => d
                .set_title("Import beats into the song")
                .add_filter("Beat files", BEAT_EXTENSIONS)
                .blocking_pick_file()
                .map(|p| vec![p]),
        };
        Ok(picked.map(|v| {
            v.into_iter()
                .filter_map(|p| p.into_path().ok())
                .map(|p| p.display().to_string())
                .collect()
        }))
    })
    .await
}
