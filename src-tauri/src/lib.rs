//! ZeroNS Studio desktop shell: thin Tauri commands over the `zerons` engine.
//!
//! - [`commands`]: projects, tracks, timeline and beats (raw binary, see [`wire`]),
//!   edits as store revisions, undo/redo, export.
//! - [`jobs`]: background analysis with per-song progress through a `Channel` and cancel.
//! - [`playback`]: the song with clicks on its beats (cpal), transport commands.
//! - [`finetune`]: fine-tuning on corrected songs, before/after, active model, re-tracking.
//! - [`dialogs`]: native file dialogs with an environment test hook.
//! - [`error`]: the serialisable error with a stable code every command returns.
//!
//! Invariant: no command does blocking work (SQLite, decoding, DSP) on the main thread.

pub mod adopt;
pub mod commands;
pub mod decode_share;
pub mod dialogs;
pub mod error;
pub mod export;
pub mod finetune;
pub mod jobs;
pub mod playback;
pub mod state;
pub mod wire;

use tauri::Manager;

/// How often the open projects are checkpointed while the app runs (each `.zerons` file
/// alone is then at most this old; closing and exiting checkpoint everything).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Builds and runs the app.
pub fn run() {
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(state::AppState::with_launch_args(
            std::env::args_os().skip(1),
        ))
        .setup(|app| {
            let handle = app.handle().clone();
            std::thread::Builder::new()
                .name("zerons-checkpoint".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(CHECKPOINT_EVERY);
                        handle.state::<state::AppState>().checkpoint_projects(false);
                    }
                })?;
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::project_new,
            commands::project_open,
            commands::project_current,
            commands::launch_project,
            commands::recent_projects,
            commands::list_tracks,
            commands::track_state,
            commands::relink_track,
            commands::remove_track,
            commands::import_beat_file,
            commands::timeline,
            commands::beats,
            commands::model_beats,
            commands::corrected_until,
            commands::continue_beats,
            commands::commit_beats,
            commands::confirm_beats,
            commands::quit_app,
            commands::undo,
            commands::redo,
            export::export_formats,
            export::export_track,
            export::export_project,
            export::straighten_beats,
            jobs::add_tracks,
            jobs::cancel_job,
            dialogs::pick_path,
            finetune::finetune_info,
            finetune::finetune_start,
            adopt::preview_model,
            adopt::adopt_model,
            adopt::rollback_adoption,
            finetune::retrack,
            commands::set_project_settings,
            playback::playback_load,
            playback::playback_control,
            playback::playback_state,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("ZeroNS Studio could not start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        // The window closes or the app quits: make every project file whole (write-ahead
        // log checkpointed) right then. At the window's close too, not only at Exit: a
        // window closed by the system or a WebDriver may end the process before Exit (the
        // e2e test saw a copied .zerons miss the last edits).
        let closing = matches!(
            event,
            tauri::RunEvent::Exit
                | tauri::RunEvent::WindowEvent {
                    event: tauri::WindowEvent::CloseRequested { .. }
                        | tauri::WindowEvent::Destroyed,
                    ..
                }
        );
        if closing {
            checkpoint_now(handle);
        }
    });
}

/// Checkpoints every open project and waits for it, on a plain thread: the store blocks, and
/// the event loop's callback may run inside an async runtime.
fn checkpoint_now(handle: &tauri::AppHandle) {
    let handle = handle.clone();
    let done = std::thread::Builder::new()
        .name("zerons-exit".into())
        .spawn(move || handle.state::<state::AppState>().checkpoint_projects(true));
    if let Ok(thread) = done {
        let _ = thread.join();
    }
}
