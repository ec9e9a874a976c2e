//! Fuzzes the Traktor importer: it must never panic, and whatever it accepts must satisfy
//! the beat-list invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zerons::formats::{BeatFormat, decode_beats, parse_collection};

fuzz_target!(|data: &[u8]| {
    let source = std::path::Path::new("fuzz");
    if let Ok(beats) = decode_beats(data, BeatFormat::Traktor, source) {
        beats.validate().expect("accepted beats break the invariants");
    }
    if BeatFormat::Traktor.is_collection()
        && let Ok(text) = std::str::from_utf8(data)
        && let Ok(tracks) = parse_collection(text, BeatFormat::Traktor, source)
    {
        for t in tracks {
            t.beats.validate().expect("accepted track breaks the invariants");
        }
    }
});
