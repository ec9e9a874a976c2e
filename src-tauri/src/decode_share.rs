//! One decode for concurrent readers of the same file.
//!
//! Selecting a song asks for its waveform (`timeline`) and loads it into the player
//! (`playback_load`) at the same time; both decode the whole file with the same settings,
//! which for a 10-minute MP3 is over a second of CPU each. A caller that arrives while another
//! is decoding the same path waits for that decode and shares its result. Nothing is kept
//! once the callers are done with it (a 2-hour DJ set decoded is over a gigabyte), so a later
//! caller decodes again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use zerons::audio::DecodedAudio;

/// A decode in flight or just finished: `None` when it failed (each caller then decodes for
/// itself, to report its own error).
type Cell = OnceLock<Option<Arc<DecodedAudio>>>;

/// See the module docs.
#[derive(Default)]
pub struct DecodeShare {
    cells: Mutex<HashMap<PathBuf, Weak<Cell>>>,
}

impl DecodeShare {
    /// The decoded file at `path`: shared with a caller decoding it right now, else decoded
    /// with `decode`.
    pub fn get<E>(
        &self,
        path: &Path,
        decode: impl Fn() -> Result<DecodedAudio, E>,
    ) -> Result<Arc<DecodedAudio>, E> {
        let cell: Arc<Cell> = {
            let Ok(mut cells) = self.cells.lock() else {
                return decode().map(Arc::new);
            };
            cells.retain(|_, w| w.strong_count() > 0);
            match cells.get(path).and_then(Weak::upgrade) {
                Some(cell) => cell,
                None => {
                    let cell = Arc::new(Cell::new());
                    cells.insert(path.to_path_buf(), Arc::downgrade(&cell));
                    cell
                }
            }
        };
        let mut first_error = None;
        let shared = cell.get_or_init(|| match decode() {
            Ok(d) => Some(Arc::new(d)),
            Err(e) => {
                first_error = Some(e);
                None
            }
        });
        match (shared, first_error) {
            (Some(d), _) => Ok(d.clone()),
            (None, Some(e)) => Err(e),
            (None, None) => decode().map(Arc::new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use zerons::audio::Signal;

    fn audio() -> DecodedAudio {
        DecodedAudio {
            signal: Signal::new(vec![0.0; 16], 8_000),
            source_channels: 2,
            codec: "test".into(),
            skipped_packets: 0,
        }
    }

    #[test]
    fn concurrent_callers_share_one_decode_and_nothing_is_kept() {
        let share = Arc::new(DecodeShare::default());
        let decodes = Arc::new(AtomicUsize::new(0));
        let slow = {
            let decodes = decodes.clone();
            move || -> Result<DecodedAudio, String> {
                decodes.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(200));
                Ok(audio())
            }
        };
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (share, slow) = (share.clone(), slow.clone());
                std::thread::spawn(move || share.get(Path::new("/a.mp3"), slow).unwrap())
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            decodes.load(Ordering::SeqCst),
            1,
            "one decode for three callers"
        );
        assert!(Arc::ptr_eq(&results[0], &results[2]));
        drop(results);
        // Done: a new caller decodes again (nothing held), another path is separate.
        share.get(Path::new("/a.mp3"), slow.clone()).unwrap();
        share.get(Path::new("/b.mp3"), slow).unwrap();
        assert_eq!(decodes.load(Ordering::SeqCst), 3);
        assert!(share.cells.lock().unwrap().len() <= 1);
    }

    #[test]
    fn each_caller_gets_its_own_error() {
        let share = DecodeShare::default();
        let e = share
            .get(Path::new("/bad.mp3"), || -> Result<DecodedAudio, String> {
                Err("corrupt".into())
            })
            .unwrap_err();
        assert_eq!(e, "corrupt");
        assert!(
            share
                .get(Path::new("/bad.mp3"), || Ok::<_, String>(audio()))
                .is_ok()
        );
    }
}
