//! Progress bars on stderr and Ctrl-C → cancellation.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use zerons::pipeline::{CancelToken, Progress};

/// A bar over `n_files` files; each file's stage moves it fractionally.
pub struct FilesBar {
    bar: ProgressBar,
}

impl FilesBar {
    pub fn new(n_files: usize) -> Self {
        let bar = ProgressBar::new(n_files as u64 * 100);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos_files} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "pos_files",
                move |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}/{}", s.pos() / 100, n_files);
                },
            ),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    /// Callback for the engine's progress reports on file `index`.
    pub fn update(&self, index: usize, name: &str, p: Progress) {
        self.bar
            .set_position(index as u64 * 100 + (p.fraction * 100.0) as u64);
        self.bar.set_message(format!("{name}: {}", p.stage.label()));
    }

    /// Print a line above the bar.
    pub fn println(&self, line: impl AsRef<str>) {
        self.bar.suspend(|| eprintln!("{}", line.as_ref()));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A cancel token that Ctrl-C sets (the second Ctrl-C exits at once).
pub fn ctrl_c_token() -> CancelToken {
    let token = CancelToken::new();
    let t = token.clone();
    let _ = ctrlc::set_handler(move || {
        if t.is_cancelled() {
            std::process::exit(130);
        }
        eprintln!("\ncancelling after the current stage (Ctrl-C again to quit now)…");
        t.cancel();
    });
    token
}

impl FilesBar {
    /// Run `f` (which writes to stdout) with the bar hidden.
    pub fn suspend_stdout<T>(&self, f: impl FnOnce() -> T) -> T {
        self.bar.suspend(f)
    }
}
