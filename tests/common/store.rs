//! Project-store helpers shared by `tests/store.rs` and `tests/store_provenance.rs`.

use std::path::{Path, PathBuf};

use zerons::store::{Project, ProjectSettings, TrackMeta};

/// A 30-s stereo song's metadata.
pub fn meta() -> TrackMeta {
    TrackMeta {
        duration_s: 30.0,
        sample_rate_hz: 44_100,
        channels: 2,
    }
}

/// A new project `p.zerons` in `dir`.
pub fn new_project(dir: &Path) -> (PathBuf, Project) {
    let path = dir.join("p.zerons");
    let p = Project::create(&path, "test", &ProjectSettings::default()).unwrap();
    (path, p)
}

/// Runs raw SQL on a file, outside the store (to fake other programs and versions).
pub fn raw_exec(path: &Path, sql: &'static str) {
    use sqlx::{ConnectOptions, Executor};
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        c.execute(sql).await.unwrap();
    });
}
