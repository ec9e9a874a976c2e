//! Shared state of the running app.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use zerons::pipeline::CancelToken;
use zerons::store::{Project, TrackId};

use crate::decode_share::DecodeShare;
use crate::error::{AppError, AppResult};
use crate::playback::PlaybackSlot;

/// Encoded timeline per track, with the analysis it was made from.
type TimelineCache = HashMap<TrackId, (i64, Arc<Vec<u8>>)>;

/// State managed by Tauri (`app.manage`), shared by every command.
#[derive(Default)]
pub struct AppState {
    /// The open project. `Project` is `Send + Sync` and blocks: use it from blocking threads.
    project: RwLock<Option<Arc<Project>>>,
    /// Analysis jobs that may still be cancelled.
    jobs: Mutex<HashMap<u64, CancelToken>>,
    next_job: AtomicU64,
    /// Encoded timelines (waveform pyramid + curves) by track, valid for one analysis.
    timelines: Mutex<TimelineCache>,
    /// Projects that were replaced by another. Kept open until the app exits: a `Project`
    /// owns a tokio runtime, which must not be dropped on an async worker thread, and a
    /// command in flight may still hold the last handle to it.
    retired: Mutex<Vec<Arc<Project>>>,
    /// The audio player (opened on first use) and the track it holds.
    playback: Arc<PlaybackSlot>,
    /// Decodes shared by the waveform and the player when a song is selected.
    decodes: Arc<DecodeShare>,
    /// The project file the app was started with (a double-click in a file manager runs
    /// `zerons-studio FILE`), until the page asks for it once.
    launch_path: Mutex<Option<std::path::PathBuf>>,
}

impl AppState {
    /// The state of an app started with `args` (the command line after the program name):
    /// the first `.zerons` file named there is the project to open. Other arguments (a web
    /// driver's options, say) are not projects and are left alone.
    pub fn with_launch_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Self {
        let launch = args.into_iter().map(std::path::PathBuf::from).find(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case(zerons::store::PROJECT_EXTENSION))
        });
        Self {
            launch_path: Mutex::new(launch),
            ..Self::default()
        }
    }

    /// The project file the app was started with; `None` after the first call.
    pub fn take_launch_path(&self) -> Option<std::path::PathBuf> {
        self.launch_path.lock().ok().and_then(|mut p| p.take())
    }

    /// Decodes shared between concurrent readers of a file.
    pub fn decodes(&self) -> Arc<DecodeShare> {
        self.decodes.clone()
    }

    /// The open project, or `no_project`.
    pub fn project(&self) -> AppResult<Arc<Project>> {
        self.project
            .read()
            .map_err(|_| AppError::internal("project lock poisoned"))?
            .clone()
            .ok_or_else(AppError::no_project)
    }

    /// Replaces the open project (cancels nothing: running jobs hold their own handle
    /// and finish writing to the project they started with).
    pub fn set_project(&self, project: Project) -> AppResult<Arc<Project>> {
        let p = Arc::new(project);
        let old = self
            .project
            .write()
            .map_err(|_| AppError::internal("project lock poisoned"))?
            .replace(p.clone());
        if let (Some(old), Ok(mut retired)) = (old, self.retired.lock()) {
            // Closing a project for another: its file alone must be the whole project. On
            // a plain thread (this may be an async one, where the store cannot block).
            let closing = old.clone();
            let _ = std::thread::Builder::new()
                .name("zerons-checkpoint".into())
                .spawn(move || checkpoint_one(&closing, true));
            retired.push(old);
        }
        if let Ok(mut t) = self.timelines.lock() {
            t.clear();
        }
        Ok(p)
    }

    /// Every project this session opened: the current one first, then the retired ones.
    fn open_projects(&self) -> Vec<Arc<Project>> {
        let mut all: Vec<Arc<Project>> = self
            .project
            .read()
            .ok()
            .and_then(|p| p.clone())
            .into_iter()
            .collect();
        if let Ok(retired) = self.retired.lock() {
            all.extend(retired.iter().cloned());
        }
        all
    }

    /// Checkpoints every open project so that each `.zerons` file alone holds every edit:
    /// fully (`full`, on exit: waits for other programs up to the busy timeout) or only
    /// where something changed and without waiting (the periodic timer). Blocks: call it
    /// from a plain OS thread, never from an async one.
    pub fn checkpoint_projects(&self, full: bool) {
        for p in self.open_projects() {
            checkpoint_one(&p, full);
        }
    }

    /// The player slot, for worker threads.
    pub fn playback(&self) -> Arc<PlaybackSlot> {
        self.playback.clone()
    }

    /// Registers a cancellable job and returns its id and token.
    pub fn start_job(&self) -> (u64, CancelToken) {
        let id = self.next_job.fetch_add(1, Ordering::SeqCst) + 1;
        let token = CancelToken::new();
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.insert(id, token.clone());
        }
        (id, token)
    }

    /// Forgets a finished job.
    pub fn end_job(&self, id: u64) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.remove(&id);
        }
    }

    /// Cancels a job; false when it is unknown or already finished.
    pub fn cancel_job(&self, id: u64) -> bool {
        let Ok(jobs) = self.jobs.lock() else {
            return false;
        };
        match jobs.get(&id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// A cached timeline for `track` made from `analysis`.
    pub fn cached_timeline(&self, track: TrackId, analysis: i64) -> Option<Arc<Vec<u8>>> {
        let t = self.timelines.lock().ok()?;
        t.get(&track)
            .filter(|(a, _)| *a == analysis)
            .map(|(_, b)| b.clone())
    }

    /// Caches a timeline.
    pub fn cache_timeline(&self, track: TrackId, analysis: i64, bytes: Arc<Vec<u8>>) {
        if let Ok(mut t) = self.timelines.lock() {
            t.insert(track, (analysis, bytes));
        }
    }
}

/// Checkpoints one project (see [`AppState::checkpoint_projects`]); failures are logged,
/// the edits stay safe in the write-ahead log.
fn checkpoint_one(p: &Project, full: bool) {
    let result = if full {
        p.checkpoint().map(|_| ())
    } else {
        p.checkpoint_if_dirty().map(|_| ())
    };
    if let Err(e) = result {
        tracing::warn!("checkpoint of {} failed: {e}", p.path().display());
    }
}

#[cfg(test)]
mod launch_tests {
    use super::AppState;

    #[test]
    fn the_project_named_on_the_command_line_is_opened_once() {
        let args = [
            "--automation",
            "about:blank",
            "/music/Study.ZERONS",
            "/x/other.zerons",
        ];
        let state = AppState::with_launch_args(args.map(std::ffi::OsString::from));
        assert_eq!(
            state.take_launch_path(),
            Some(std::path::PathBuf::from("/music/Study.ZERONS"))
        );
        assert_eq!(state.take_launch_path(), None);
        let none = AppState::with_launch_args(["song.mp3"].map(std::ffi::OsString::from));
        assert_eq!(none.take_launch_path(), None);
    }
}
