//! Our model files (burnpack `.bpk` + `MODEL.json`): round trip, and every way a file can be
//! wrong is a clear error.

use std::fs;
use std::path::Path;

use burn::tensor::Device;
use zerons::model::{
    Architecture, LiteConfig, LoadedModel, MANIFEST_FILE, ModelConfig, ModelManifest, Provenance,
    WEIGHTS_FILE, ZeroNs, load_model, save_model,
};

fn lite_model(channels: usize) -> LoadedModel {
    let config = ModelConfig {
        architecture: Architecture::Lite(LiteConfig {
            channels,
            ..LiteConfig::default()
        }),
        ..ModelConfig::default()
    };
    let device = Device::flex();
    let network = ZeroNs::new(&config, &device).unwrap();
    let provenance = Provenance {
        method: "random-init".into(),
        steps: Some(0),
        ..Provenance::default()
    };
    LoadedModel::new(
        network,
        config,
        provenance,
        Some("zn-parent".into()),
        device,
    )
}

fn write_manifest(dir: &Path, m: &ModelManifest) {
    fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_vec_pretty(m).unwrap(),
    )
    .unwrap();
}

#[test]
fn save_load_round_trip_keeps_weights_and_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let model = lite_model(16);
    let saved = save_model(&model, dir.path()).unwrap();
    assert!(dir.path().join(WEIGHTS_FILE).is_file());
    assert_eq!(saved.parent_id.as_deref(), Some("zn-parent"));
    assert_eq!(saved.provenance.method, "random-init");
    assert_eq!(saved.features.n_bins, 96);
    assert_eq!(saved.features.fps(), 62.5);

    for path in [
        dir.path().to_path_buf(),
        dir.path().join(MANIFEST_FILE),
        dir.path().join(WEIGHTS_FILE),
    ] {
        let loaded = load_model(&path).unwrap();
        assert_eq!(loaded.manifest, saved);
        // Same bytes again → same content id.
        let again = save_model(&loaded, dir.path().join("copy.json")).unwrap();
        assert_eq!(again.id, saved.id);
        assert_eq!(again.weights_file, "copy.bpk");
    }
    // `copy.bpk` finds its own `copy.json`; a weights file its sidecar does not name is refused.
    let copy = load_model(dir.path().join("copy.bpk")).unwrap();
    assert_eq!(copy.manifest.weights_file, "copy.bpk");
    fs::copy(dir.path().join(WEIGHTS_FILE), dir.path().join("stray.bpk")).unwrap();
    let e = load_model(dir.path().join("stray.bpk")).unwrap_err();
    assert_eq!(e.code(), "model", "{e}");

    // A different network has a different id.
    let other = save_model(&lite_model(16), dir.path().join("other")).unwrap();
    assert_ne!(other.id, saved.id);
}

#[test]
fn broken_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let saved = save_model(&lite_model(16), d).unwrap();

    // Missing directory / files.
    let e = load_model(d.join("absent")).unwrap_err();
    assert_eq!(e.code(), "io", "{e}");

    // Checksum mismatch: flip one byte of the weights.
    let wpath = d.join(WEIGHTS_FILE);
    let good = fs::read(&wpath).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    fs::write(&wpath, &bad).unwrap();
    let e = load_model(d).unwrap_err();
    assert_eq!(e.code(), "model");
    assert!(e.to_string().contains("checksum"), "{e}");

    // Corrupt file whose checksum matches (written by something else): not readable.
    let garbage = b"definitely not a burnpack file".to_vec();
    fs::write(&wpath, &garbage).unwrap();
    let mut m = saved.clone();
    m.weights_sha256 = sha256_hex(&garbage);
    write_manifest(d, &m);
    let e = load_model(d).unwrap_err();
    assert_eq!(e.code(), "model", "{e}");

    // Truncated burnpack with a matching checksum.
    let cut = good[..good.len() / 3].to_vec();
    fs::write(&wpath, &cut).unwrap();
    m.weights_sha256 = sha256_hex(&cut);
    write_manifest(d, &m);
    let e = load_model(d).unwrap_err();
    assert_eq!(e.code(), "model", "{e}");

    // Good weights, but the sidecar names another architecture (wrong shapes).
    fs::write(&wpath, &good).unwrap();
    let mut wrong = saved.clone();
    if let Architecture::Lite(l) = &mut wrong.model.architecture {
        l.channels = 32;
    }
    write_manifest(d, &wrong);
    let e = load_model(d).unwrap_err();
    assert_eq!(e.code(), "model", "{e}");
    assert!(e.to_string().contains("fit"), "{e}");
    let mut paper = saved.clone();
    paper.model = ModelConfig::paper();
    write_manifest(d, &paper);
    assert_eq!(load_model(d).unwrap_err().code(), "model");

    // Invalid architecture values, future format, path tricks, malformed JSON.
    let mut invalid = saved.clone();
    if let Architecture::Lite(l) = &mut invalid.model.architecture {
        l.tcn_kernel = 4;
    }
    write_manifest(d, &invalid);
    assert_eq!(load_model(d).unwrap_err().code(), "model");
    let mut future = saved.clone();
    future.format_version = 99;
    write_manifest(d, &future);
    let e = load_model(d).unwrap_err();
    assert!(e.to_string().contains("version 99"), "{e}");
    let mut escape = saved.clone();
    escape.weights_file = "../model.bpk".into();
    write_manifest(d, &escape);
    assert_eq!(load_model(d).unwrap_err().code(), "model");
    fs::write(d.join(MANIFEST_FILE), b"{ not json").unwrap();
    let e = load_model(d).unwrap_err();
    assert!(e.to_string().contains("malformed"), "{e}");

    // And the intact pair still loads.
    write_manifest(d, &saved);
    load_model(d).unwrap();
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bar classifier travels with its network: saved beside it, named and checksummed in the
/// sidecar, loaded back with the same outputs, part of the content id; a damaged or missing
/// classifier file is a clear error naming it.
#[test]
fn bar_classifier_round_trip() {
    use zerons::model::bars::{BarModel, BarNetConfig};
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let cfg = BarNetConfig {
        context_beats: 2,
        hidden: 8,
    };
    let bars = BarModel {
        net: cfg.init(&device),
        config: cfg.clone(),
        notes: Some("test".into()),
    };
    let plain = save_model(&lite_model(16), dir.path().join("plain")).unwrap();
    assert!(plain.bars.is_none());
    let model = lite_model(16).with_bars(Some(bars.clone()));
    let saved = save_model(&model, dir.path().join("with")).unwrap();
    let spec = saved.bars.clone().unwrap();
    assert_eq!(spec.weights_file, "model.bars.bpk");
    assert_eq!(spec.net, cfg);
    assert_eq!(spec.notes.as_deref(), Some("test"));
    assert!(dir.path().join("with/model.bars.bpk").is_file());
    let loaded = load_model(dir.path().join("with")).unwrap();
    assert_eq!(loaded.manifest, saved);
    let rows: Vec<Vec<f32>> = (0..6)
        .map(|k| {
            (0..cfg.n_inputs())
                .map(|i| ((i * 7 + k) % 11) as f32 / 5.0 - 1.0)
                .collect()
        })
        .collect();
    let a = bars.probabilities_of(&rows, &device).unwrap();
    let b = loaded
        .bars
        .as_ref()
        .unwrap()
        .probabilities_of(&rows, &device)
        .unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-6, "{x} vs {y}");
    }
    // Saving it again keeps the id; a different classifier changes it.
    let again = save_model(&loaded, dir.path().join("again")).unwrap();
    assert_eq!(again.id, saved.id);
    let other = lite_model(16);
    let other_bars = BarModel {
        net: cfg.init(&device),
        ..bars.clone()
    };
    let a_net = save_model(&other.with_bars(None), dir.path().join("o1")).unwrap();
    let b_net = save_model(
        &load_model(dir.path().join("o1"))
            .unwrap()
            .with_bars(Some(other_bars)),
        dir.path().join("o2"),
    )
    .unwrap();
    assert_ne!(a_net.id, b_net.id);
    // Damaged and missing classifier files.
    let path = dir.path().join("with/model.bars.bpk");
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    fs::write(&path, &bytes).unwrap();
    let e = load_model(dir.path().join("with")).unwrap_err();
    assert_eq!(e.code(), "model");
    assert!(e.to_string().contains("model.bars.bpk"), "{e}");
    fs::remove_file(&path).unwrap();
    let e = load_model(dir.path().join("with")).unwrap_err();
    assert!(e.to_string().contains("model.bars.bpk"), "{e}");
    // A sidecar naming a path instead of a file, or another feature count.
    let mut m = saved.clone();
    m.bars.as_mut().unwrap().weights_file = "../x.bpk".into();
    write_manifest(&dir.path().join("with"), &m);
    assert_eq!(
        load_model(dir.path().join("with")).unwrap_err().code(),
        "model"
    );
    let mut m = saved.clone();
    m.bars.as_mut().unwrap().n_beat_features = 3;
    write_manifest(&dir.path().join("with"), &m);
    let e = load_model(dir.path().join("with")).unwrap_err();
    assert!(e.to_string().contains("features per beat"), "{e}");
}
