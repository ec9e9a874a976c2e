//! PyTorch parity of the paper architecture and checkpoint import.
//!
//! Fixtures in `tests/fixtures/zerons_torch/` are copied from the project's golden set
//! (`golden/zerons_torch`, made by `golden/make_golden.py` with PyTorch 2.11): the authors'
//! two-branch `Pretext_CNN` layer structure and state-dict key names with channel widths ÷ 16,
//! seeded He-normal weights, saved as the authors published theirs (gzip of
//! `torch.save(state_dict)`), a fixed `[1, 1, 96, 300]` input pair and the eval-mode outputs.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use zerons::features::Spectrogram;
use zerons::model::{
    Architecture, InferConfig, ModelActivations, import_pytorch, infer, load_model, save_model,
};

mod common;
use common::model::max_abs_diff;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/zerons_torch")
        .join(name)
}

/// Minimal reader for NumPy `.npy` v1 files holding little-endian f32 in C order.
fn read_npy_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f4'"), "{header}");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let shape_str = header.split("'shape': (").nth(1).unwrap();
    let shape_str = &shape_str[..shape_str.find(')').unwrap()];
    let shape: Vec<usize> = shape_str
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let data: Vec<f32> = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(data.len(), shape.iter().product::<usize>());
    (shape, data)
}

fn spectrogram(name: &str) -> Spectrogram {
    let (shape, data) = read_npy_f32(&fixture(name));
    assert_eq!(shape, [1, 1, 96, 300]);
    // [1, 1, 96, T] in C order is bin-major, the Spectrogram layout.
    Spectrogram {
        data,
        n_bins: 96,
        n_frames: 300,
        fps: 62.5,
    }
}

fn check_against_torch(out: &ModelActivations, what: &str) {
    const TOL: f32 = 1e-4;
    for (got, file) in [
        (&out.anchor.values, "output_anchor.npy"),
        (&out.postve.values, "output_postve.npy"),
        (&out.combined.values, "output_max.npy"),
    ] {
        let (shape, want) = read_npy_f32(&fixture(file));
        assert_eq!(shape, [1, 300]);
        let d = max_abs_diff(got, &want);
        eprintln!("{what}: {file}: max |burn - torch| = {d:.3e}");
        assert!(d <= TOL, "{what}: {file}: max abs diff {d} > {TOL}");
    }
}

#[test]
fn imported_checkpoint_matches_pytorch() {
    let model = import_pytorch(fixture("tiny_pretext.pth.gz")).unwrap();
    match &model.config().architecture {
        Architecture::Paper(p) => assert_eq!(p.channels, [4, 4, 8, 8, 16, 16, 8, 8]),
        other => panic!("imported as {other:?}"),
    }
    assert_eq!(model.manifest.provenance.method, "imported-pytorch");
    // The golden outputs are not trivially flat: they must spread over (0, 1).
    let (_, want) = read_npy_f32(&fixture("output_max.npy"));
    let spread = want.iter().cloned().fold(f32::MIN, f32::max)
        - want.iter().cloned().fold(f32::MAX, f32::min);
    assert!(spread > 0.1, "golden outputs too flat: {spread}");

    let (xa, xp) = (
        spectrogram("input_anchor.npy"),
        spectrogram("input_postve.npy"),
    );
    let whole = infer(&model, &xa, &xp, &InferConfig::default()).unwrap();
    check_against_torch(&whole, "whole");
    // Chunked (cores of 50 frames, halo 68) must agree too.
    let chunked = InferConfig {
        chunk_frames: 50,
        chunks_per_batch: 2,
    };
    let out = infer(&model, &xa, &xp, &chunked).unwrap();
    check_against_torch(&out, "chunked");
}

#[test]
fn plain_pth_imports_and_burnpack_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(fixture("tiny_pretext.pth.gz")).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let pth = dir.path().join("tiny.pth");
    fs::File::create(&pth).unwrap().write_all(&raw).unwrap();
    let model = import_pytorch(&pth).unwrap();

    let (xa, xp) = (
        spectrogram("input_anchor.npy"),
        spectrogram("input_postve.npy"),
    );
    let before = infer(&model, &xa, &xp, &InferConfig::default()).unwrap();
    check_against_torch(&before, "plain .pth");

    let saved = save_model(&model, dir.path().join("m")).unwrap();
    assert!(saved.id.starts_with("zn-"));
    assert_eq!(saved.weights_sha256.len(), 64);
    let loaded = load_model(dir.path().join("m")).unwrap();
    assert_eq!(loaded.manifest, saved);
    let after = infer(&loaded, &xa, &xp, &InferConfig::default()).unwrap();
    assert_eq!(before, after, "burnpack round trip must be bit-exact");
}

#[test]
fn broken_checkpoints_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = import_pytorch(dir.path().join("nope.pth.gz")).unwrap_err();
    assert_eq!(missing.code(), "io");

    let gz = fs::read(fixture("tiny_pretext.pth.gz")).unwrap();
    let truncated = dir.path().join("truncated.pth.gz");
    fs::write(&truncated, &gz[..gz.len() / 2]).unwrap();
    let e = import_pytorch(&truncated).unwrap_err();
    assert_eq!(e.code(), "model", "{e}");

    let garbage = dir.path().join("garbage.pth");
    fs::write(&garbage, b"this is not a torch file").unwrap();
    let e = import_pytorch(&garbage).unwrap_err();
    assert_eq!(e.code(), "model", "{e}");
}
