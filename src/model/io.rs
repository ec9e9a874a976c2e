//! Weight files: our burnpack `.bpk` + `MODEL.json` sidecar, and the authors' PyTorch
//! checkpoint (gzip of `torch.save(state_dict)`).

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{ModuleSnapshot, ModuleStore, PytorchStore};
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bars::{BarModel, BarsSpec};
use super::net::ZeroNs;
use super::paper::PAPER_KERNELS;
use super::{Architecture, Combine, ModelConfig, N_BINS, PaperConfig};
use crate::{Error, Result};

/// Version of the `MODEL.json` layout this build writes and reads.
pub const MODEL_FORMAT_VERSION: u32 = 1;
/// File name of the sidecar when a model is saved into a directory.
pub const MANIFEST_FILE: &str = "MODEL.json";
/// File name of the weights when a model is saved into a directory.
pub const WEIGHTS_FILE: &str = "model.bpk";
/// Largest uncompressed PyTorch checkpoint [`import_pytorch`] accepts (the published
/// two-branch file is ≈ 107 MB).
const MAX_CHECKPOINT_BYTES: u64 = 1 << 30;

/// The input features a model expects: ZeroNS's log-VQT (spec §1). Plain data, compared by
/// the pipeline with what the `features` stage is configured to compute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FeatureSpec {
    /// Transform name: `log_vqt` = ln(|VQT| + ε).
    pub kind: String,
    /// Audio rate the transform runs at (paper code: 16 kHz).
    pub sample_rate_hz: u32,
    /// Hop in samples (paper code: 256 → 62.5 fps).
    pub hop_length: usize,
    /// Frequency bins (paper code: 96 = 8 octaves).
    pub n_bins: usize,
    /// Lowest bin centre (paper code: C0 = 16.3516 Hz).
    pub fmin_hz: f64,
    /// Bins per octave (paper code: 12).
    pub bins_per_octave: usize,
    /// ε inside the log (paper code: `10e-10` = 1e-9; the paper text says 1e-10).
    pub log_epsilon: f64,
}

impl Default for FeatureSpec {
    fn default() -> Self {
        Self {
            kind: "log_vqt".into(),
            sample_rate_hz: 16_000,
            hop_length: 256,
            n_bins: N_BINS,
            fmin_hz: 16.351_597_831_287_414,
            bins_per_octave: 12,
            log_epsilon: 1e-9,
        }
    }
}

impl FeatureSpec {
    /// Frames per second.
    pub fn fps(&self) -> f64 {
        f64::from(self.sample_rate_hz) / self.hop_length.max(1) as f64
    }
}

/// [`Provenance::method`] of a model fine-tuned on a user's corrections
/// ([`crate::train::finetune`]).
pub const FINETUNED_METHOD: &str = "finetuned";

/// How a model came to be. Free-form; every field optional.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct Provenance {
    /// `imported-pytorch`, `pretrained-syncpred`, `finetuned`, `random-init` …
    pub method: String,
    /// Where the weights came from (a file name, a URL).
    pub source: Option<String>,
    /// sha256 of the source file, hex.
    pub source_sha256: Option<String>,
    /// Training data, in words.
    pub data: Option<String>,
    /// Optimiser steps taken.
    pub steps: Option<u64>,
    /// Epochs taken.
    pub epochs: Option<u64>,
    /// Seconds since the Unix epoch when the model was made.
    pub created_unix_s: Option<u64>,
    /// Anything else.
    pub notes: Option<String>,
    /// Further fields, kept as they are.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Provenance {
    /// True for a model fine-tuned on a user's corrections.
    pub fn is_finetuned(&self) -> bool {
        self.method == FINETUNED_METHOD
    }
}

/// The `MODEL.json` sidecar.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelManifest {
    /// Layout version ([`MODEL_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Content id: `zn-` + the first 16 hex digits of the weights' sha256.
    #[serde(default)]
    pub id: String,
    /// A human name.
    #[serde(default)]
    pub name: Option<String>,
    /// Architecture of the network the weights fit.
    pub model: ModelConfig,
    /// Input features the network expects.
    #[serde(default)]
    pub features: FeatureSpec,
    /// Weights file name, in the sidecar's directory.
    pub weights_file: String,
    /// sha256 of the weights file, hex.
    pub weights_sha256: String,
    /// Id of the model this one was trained from (fine-tuning), if any.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// How it was made.
    #[serde(default)]
    pub provenance: Provenance,
    /// The bar classifier stored with the network ([`super::bars`]), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bars: Option<BarsSpec>,
}

/// A network in memory with its description.
#[derive(Debug)]
pub struct LoadedModel {
    /// The network, on [`LoadedModel::device`].
    pub network: ZeroNs,
    /// Its description. `id` and `weights_sha256` are those of the file it was loaded from,
    /// empty for a model never saved; [`save_model`] returns the updated sidecar.
    pub manifest: ModelManifest,
    /// Where the network's tensors live.
    pub device: Device,
    /// The bar classifier that goes with it (on the same device), if any.
    pub bars: Option<BarModel>,
}

impl LoadedModel {
    /// Wraps a network (e.g. one just trained) with a fresh sidecar.
    pub fn new(
        network: ZeroNs,
        config: ModelConfig,
        provenance: Provenance,
        parent_id: Option<String>,
        device: Device,
    ) -> Self {
        Self {
            network,
            manifest: ModelManifest {
                format_version: MODEL_FORMAT_VERSION,
                id: String::new(),
                name: None,
                model: config,
                features: FeatureSpec::default(),
                weights_file: WEIGHTS_FILE.into(),
                weights_sha256: String::new(),
                parent_id,
                provenance,
                bars: None,
            },
            device,
            bars: None,
        }
    }

    /// The same model with `bars` as its bar classifier (e.g. a fine-tuned network keeps its
    /// parent's).
    pub fn with_bars(mut self, bars: Option<BarModel>) -> Self {
        self.bars = bars;
        self
    }

    /// The architecture.
    pub fn config(&self) -> &ModelConfig {
        &self.manifest.model
    }

    /// Moves the network to another device.
    pub fn to_device(self, device: &Device) -> Self {
        Self {
            network: self.network.to_device(device),
            manifest: self.manifest,
            device: device.clone(),
            bars: self.bars.map(|b| b.to_device(device)),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn model_err(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Model(format!("{}: {what}", path.display()))
}

/// `(manifest path, weights path)` for a save target: a `.json` file names the sidecar (the
/// weights go beside it as `<stem>.bpk`); anything else is a directory holding
/// [`MANIFEST_FILE`] and [`WEIGHTS_FILE`].
fn save_paths(path: &Path) -> (PathBuf, PathBuf) {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        (
            path.to_path_buf(),
            path.with_file_name(format!("{stem}.bpk")),
        )
    } else {
        (path.join(MANIFEST_FILE), path.join(WEIGHTS_FILE))
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so a crash never
/// leaves a half-written file under the final name.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Saves `model` as burnpack weights plus a `MODEL.json` sidecar.
///
/// `path` is a directory (created if needed; files [`MANIFEST_FILE`] and [`WEIGHTS_FILE`])
/// or a `*.json` sidecar path (weights beside it as `<stem>.bpk`). Returns the sidecar as
/// written, with the weights' sha256 and the content id filled in.
pub fn save_model(model: &LoadedModel, path: impl AsRef<Path>) -> Result<ModelManifest> {
    let path = path.as_ref();
    let _span = tracing::info_span!("save_model", path = %path.display()).entered();
    let (manifest_path, weights_path) = save_paths(path);
    if let Some(dir) = manifest_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let bytes = record_bytes(&model.network, &weights_path)?;
    let sha = sha256_hex(&bytes);
    write_atomic(&weights_path, &bytes)?;

    let mut manifest = model.manifest.clone();
    manifest.format_version = MODEL_FORMAT_VERSION;
    // The content id covers the bar classifier too, when there is one.
    manifest.bars = None;
    let mut id_hasher = Sha256::new();
    id_hasher.update(&bytes[..]);
    if let Some(bars) = &model.bars {
        let bars_path = bars_weights_path(&weights_path);
        let bars_bytes = record_bytes(&bars.net, &bars_path)?;
        id_hasher.update(&bars_bytes[..]);
        write_atomic(&bars_path, &bars_bytes)?;
        manifest.bars = Some(BarsSpec {
            net: bars.config.clone(),
            n_beat_features: crate::features::beat_sync::N_BEAT_FEATURES,
            weights_file: bars_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            weights_sha256: sha256_hex(&bars_bytes),
            notes: bars.notes.clone(),
        });
    }
    let id_sha = if model.bars.is_some() {
        hex(&id_hasher.finalize())
    } else {
        sha.clone()
    };
    manifest.id = format!("zn-{}", &id_sha[..16]);
    manifest.weights_sha256 = sha;
    manifest.weights_file = weights_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| WEIGHTS_FILE.into());
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| model_err(&manifest_path, format!("cannot serialise sidecar: {e}")))?;
    write_atomic(&manifest_path, &json)?;
    tracing::info!(id = %manifest.id, "model saved");
    Ok(manifest)
}

/// Loads a model saved by [`save_model`] onto the CPU (flex) device.
///
/// `path` is the model directory, its sidecar (`MODEL.json` or `<name>.json`), or its `.bpk`
/// (the sidecar is then `<name>.json` beside it if present, else `MODEL.json`). Every problem — missing or unreadable file, malformed
/// sidecar, unsupported format version, checksum mismatch, weights that do not fit the
/// architecture — is an [`Error`], never a panic.
pub fn load_model(path: impl AsRef<Path>) -> Result<LoadedModel> {
    load_model_on(path, &Device::flex())
}

/// [`load_model`] onto a given device.
pub fn load_model_on(path: impl AsRef<Path>, device: &Device) -> Result<LoadedModel> {
    let path = path.as_ref();
    let _span = tracing::info_span!("load_model", path = %path.display()).entered();
    let weights_named = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("bpk"));
    let manifest_path = if path.is_dir() {
        path.join(MANIFEST_FILE)
    } else if weights_named {
        // `<stem>.json` beside it (saved with a `.json` target), else the directory's
        // MODEL.json.
        let own = path.with_extension("json");
        if own.is_file() {
            own
        } else {
            path.with_file_name(MANIFEST_FILE)
        }
    } else {
        path.to_path_buf()
    };
    let text = fs::read(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    let manifest: ModelManifest = serde_json::from_slice(&text)
        .map_err(|e| model_err(&manifest_path, format!("malformed model sidecar: {e}")))?;
    if manifest.format_version != MODEL_FORMAT_VERSION {
        return Err(model_err(
            &manifest_path,
            format!(
                "model format version {} is not supported (this build reads {MODEL_FORMAT_VERSION})",
                manifest.format_version
            ),
        ));
    }
    manifest
        .model
        .validate()
        .map_err(|e| model_err(&manifest_path, e))?;
    if manifest.features.n_bins != N_BINS {
        return Err(model_err(
            &manifest_path,
            format!(
                "the network needs {N_BINS}-bin features, the sidecar says {}",
                manifest.features.n_bins
            ),
        ));
    }
    check_file_name(&manifest_path, "weights_file", &manifest.weights_file)?;
    let weights_path = manifest_path.with_file_name(&manifest.weights_file);
    if weights_named && path.file_name() != weights_path.file_name() {
        return Err(model_err(
            &manifest_path,
            format!(
                "describes {}, not {}",
                manifest.weights_file,
                path.display()
            ),
        ));
    }
    let bytes = read_checksummed(&weights_path, &manifest.weights_sha256, MANIFEST_FILE)?;
    let network = network_from_burnpack(bytes, &manifest.model, device)
        .map_err(|e| model_err(&weights_path, e))?;
    let bars = match &manifest.bars {
        Some(spec) => Some(load_bars(&manifest_path, spec, device)?),
        None => None,
    };
    tracing::info!(id = %manifest.id, bars = bars.is_some(), "model loaded");
    Ok(LoadedModel {
        network,
        manifest,
        device: device.clone(),
        bars,
    })
}

/// A sidecar field naming a weights file must hold a plain file name (no folder, not empty).
fn check_file_name(manifest_path: &Path, field: &str, name: &str) -> Result<()> {
    let p = Path::new(name);
    if name.is_empty() || p.components().count() != 1 || p.file_name().is_none() {
        return Err(model_err(
            manifest_path,
            format!("{field} must be a plain file name, got {name:?}"),
        ));
    }
    Ok(())
}

/// The bytes of `path`, whose sha256 must be `expected` (as `sidecar` says).
fn read_checksummed(path: &Path, expected: &str, sidecar: &str) -> Result<Vec<u8>> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let sha = sha256_hex(&bytes);
    if !sha.eq_ignore_ascii_case(expected) {
        return Err(model_err(
            path,
            format!(
                "checksum mismatch: the file's sha256 is {sha}, {sidecar} expects {expected} \
                 (file corrupt or replaced)"
            ),
        ));
    }
    Ok(bytes)
}

/// A module's weights as burnpack bytes (`path` names the file they are for, in errors).
pub(crate) fn record_bytes<M: Module>(module: &M, path: &Path) -> Result<burn::tensor::Bytes> {
    module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| model_err(path, format!("cannot serialise weights: {e}")))
}

/// Where the bar classifier's weights go for a network saved at `weights_path`:
/// `<stem>.bars.bpk` beside it.
fn bars_weights_path(weights_path: &Path) -> PathBuf {
    let stem = weights_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    weights_path.with_file_name(format!("{stem}.bars.bpk"))
}

/// Loads the bar classifier that `spec` (in the sidecar at `manifest_path`) describes,
/// checking its file name, checksum, feature count and shapes.
fn load_bars(manifest_path: &Path, spec: &BarsSpec, device: &Device) -> Result<BarModel> {
    spec.net
        .validate()
        .map_err(|e| model_err(manifest_path, e))?;
    if spec.n_beat_features != crate::features::beat_sync::N_BEAT_FEATURES {
        return Err(model_err(
            manifest_path,
            format!(
                "the bar classifier reads {} features per beat; this build computes {}",
                spec.n_beat_features,
                crate::features::beat_sync::N_BEAT_FEATURES
            ),
        ));
    }
    check_file_name(manifest_path, "bars.weights_file", &spec.weights_file)?;
    let path = manifest_path.with_file_name(&spec.weights_file);
    let bytes = read_checksummed(&path, &spec.weights_sha256, "the sidecar")?;
    let record = burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| model_err(&path, format!("not a readable burnpack file: {e}")))?;
    let net = spec
        .net
        .init(device)
        .try_load_record(record.cast_to_module_dtype())
        .map_err(|e| {
            model_err(
                &path,
                format!(
                    "weights do not fit the bar classifier in the sidecar: {}",
                    shorten(&e.to_string(), 400)
                ),
            )
        })?;
    Ok(BarModel {
        net,
        config: spec.net.clone(),
        notes: spec.notes.clone(),
    })
}

fn network_from_burnpack(
    bytes: Vec<u8>,
    config: &ModelConfig,
    device: &Device,
) -> std::result::Result<ZeroNs, String> {
    let record = burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| format!("not a readable burnpack file: {e}"))?;
    let network = ZeroNs::new(config, device).map_err(|e| e.to_string())?;
    network
        .try_load_record(record.cast_to_module_dtype())
        .map_err(|e| {
            format!(
                "weights do not fit the architecture in the sidecar: {}",
                shorten(&e.to_string(), 400)
            )
        })
}

/// `s` cut to at most `max` bytes (on a char boundary), with an ellipsis when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} … ({} more bytes)", &s[..end], s.len() - end)
}

/// Imports the authors' PyTorch checkpoint (`shift_pret_cnn_16.pth.gz`, or the same file
/// un-gzipped) onto the CPU device.
///
/// The file is a `torch.save(state_dict)` of `Pretext_CNN`: keys
/// `{anchor,postve}.pretrained.cv{1..8}.{weight,bias}` and `{anchor,postve}.fc1.{weight,bias}`.
/// The channel widths are read from the tensor shapes, so a narrower copy of the architecture
/// imports too; kernels must be the paper's.
pub fn import_pytorch(path: impl AsRef<Path>) -> Result<LoadedModel> {
    let path = path.as_ref();
    let _span = tracing::info_span!("import_pytorch", path = %path.display()).entered();
    let raw = fs::read(path).map_err(|e| Error::io(path, e))?;
    let source_sha256 = sha256_hex(&raw);
    // gzip magic 1f 8b: decompress to a temporary file for the reader (the published file
    // inflates to ≈ 107 MB; refuse anything past MAX_CHECKPOINT_BYTES).
    let tmp = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut tmp = tempfile::Builder::new()
            .suffix(".pth")
            .tempfile()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let mut inflate =
            flate2::read::GzDecoder::new(raw.as_slice()).take(MAX_CHECKPOINT_BYTES + 1);
        let n = std::io::copy(&mut inflate, &mut tmp)
            .map_err(|e| model_err(path, format!("corrupt gzip stream: {e}")))?;
        if n > MAX_CHECKPOINT_BYTES {
            return Err(model_err(
                path,
                format!(
                    "inflates to more than {MAX_CHECKPOINT_BYTES} bytes: not a ZeroNS checkpoint"
                ),
            ));
        }
        tmp.flush().map_err(|e| Error::io(tmp.path(), e))?;
        Some(tmp)
    } else {
        None
    };
    drop(raw);
    let pth = tmp.as_ref().map(|t| t.path()).unwrap_or(path);

    let device = Device::flex();
    let mut store = PytorchStore::from_file(pth);
    let shapes: BTreeMap<String, Vec<usize>> = store
        .get_all_tensors()
        .map_err(|e| model_err(path, format!("not a readable PyTorch checkpoint: {e}")))?
        .iter()
        .map(|(k, t)| (k.clone(), t.shape.to_vec()))
        .collect();
    let config = paper_config_from_shapes(&shapes).map_err(|e| model_err(path, e))?;
    let mut network = ZeroNs::new(&config, &device)?;
    let result = network.load_from(&mut store).map_err(|e| {
        model_err(
            path,
            format!("weights do not fit: {}", shorten(&e.to_string(), 400)),
        )
    })?;
    if !result.unused.is_empty() {
        return Err(model_err(
            path,
            format!("unexpected tensors in the checkpoint: {:?}", result.unused),
        ));
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let provenance = Provenance {
        method: "imported-pytorch".into(),
        source: Some(file_name),
        source_sha256: Some(source_sha256),
        created_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs()),
        ..Provenance::default()
    };
    tracing::info!(params = network.num_params(), "PyTorch checkpoint imported");
    Ok(LoadedModel::new(network, config, provenance, None, device))
}

/// Reads the paper architecture's widths from checkpoint tensor shapes, checking every key,
/// kernel and in/out chaining.
fn paper_config_from_shapes(
    shapes: &BTreeMap<String, Vec<usize>>,
) -> std::result::Result<ModelConfig, String> {
    let get = |key: &str| {
        shapes
            .get(key)
            .ok_or_else(|| format!("not a ZeroNS checkpoint: tensor {key} is missing"))
    };
    let mut widths = None;
    for branch in ["anchor", "postve"] {
        let mut channels = [0usize; 8];
        let mut c_in = 1;
        for (i, k) in PAPER_KERNELS.iter().enumerate() {
            let key = format!("{branch}.pretrained.cv{}.weight", i + 1);
            let w = get(&key)?;
            let c_out = match w.as_slice() {
                [o, ci, kf, kt] if *ci == c_in && [*kf, *kt] == *k && *o > 0 => *o,
                _ => {
                    return Err(format!(
                        "{key} has shape {w:?}, expected [_, {c_in}, {}, {}]",
                        k[0], k[1]
                    ));
                }
            };
            let bkey = format!("{branch}.pretrained.cv{}.bias", i + 1);
            if get(&bkey)? != &vec![c_out] {
                return Err(format!(
                    "{bkey} has shape {:?}, expected [{c_out}]",
                    get(&bkey)?
                ));
            }
            channels[i] = c_out;
            c_in = c_out;
        }
        let fw = get(&format!("{branch}.fc1.weight"))?;
        if fw != &vec![1, c_in, 1] {
            return Err(format!(
                "{branch}.fc1.weight has shape {fw:?}, expected [1, {c_in}, 1]"
            ));
        }
        let fb = get(&format!("{branch}.fc1.bias"))?;
        if fb != &vec![1] {
            return Err(format!("{branch}.fc1.bias has shape {fb:?}, expected [1]"));
        }
        match widths {
            None => widths = Some(channels),
            Some(w) if w != channels => {
                return Err(format!(
                    "the two branches differ in width: anchor {w:?}, postve {channels:?}"
                ));
            }
            Some(_) => {}
        }
    }
    Ok(ModelConfig {
        architecture: Architecture::Paper(PaperConfig {
            channels: widths.unwrap_or_default(),
            ..PaperConfig::default()
        }),
        combine: Combine::Max,
    })
}

/// Environment variable that overrides the bundled model's location.
pub const MODEL_ENV: &str = "ZERONS_MODEL";

/// Where an installed copy keeps the shipped model, relative to its prefix (`/usr` for the
/// `.deb`: the binaries are `/usr/bin/zerons` and `/usr/bin/zerons-studio`).
pub const INSTALLED_MODEL_DIR: &str = "share/zerons/model";

/// Where the bundled (shipped) model lives, found at run time (never through a path fixed
/// at build time, so that a copy built on one machine works on another), in order:
/// 1. `$ZERONS_MODEL`, returned as given (a wrong path fails loudly when loaded);
/// 2. [`INSTALLED_MODEL_DIR`] under the prefix of `exe` (`PREFIX/bin/zerons` →
///    `PREFIX/share/zerons/model`): an installed copy;
/// 3. `assets/model` in a folder above `exe` (a build inside a source checkout,
///    `target/release/zerons`);
/// 4. `assets/model` in the current directory or a folder above it (`cargo run` inside a
///    source checkout whose build directory lives elsewhere).
///
/// The first directory that holds a [`MANIFEST_FILE`] wins; `None` when there is none.
pub fn bundled_model_dir(exe: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(MODEL_ENV) {
        return Some(PathBuf::from(p));
    }
    find_bundled(exe, std::env::current_dir().ok().as_deref())
}

fn find_bundled(exe: Option<&Path>, cwd: Option<&Path>) -> Option<PathBuf> {
    bundled_model_candidates(exe, cwd)
        .into_iter()
        .find(|p| p.join(MANIFEST_FILE).is_file())
}

/// The places [`bundled_model_dir`] looks at after `$ZERONS_MODEL`, in order.
fn bundled_model_candidates(exe: Option<&Path>, cwd: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(prefix) = exe.and_then(Path::parent).and_then(Path::parent) {
        out.push(prefix.join(INSTALLED_MODEL_DIR));
    }
    let checkouts = exe
        .and_then(Path::parent)
        .into_iter()
        .flat_map(Path::ancestors)
        .chain(cwd.into_iter().flat_map(Path::ancestors));
    out.extend(checkouts.map(|dir| dir.join("assets").join("model")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_at(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(MANIFEST_FILE), "{}").unwrap();
    }

    #[test]
    fn an_installed_copy_finds_its_model_under_its_prefix() {
        let root = tempfile::tempdir().unwrap();
        let exe = root.path().join("usr/bin/zerons-studio");
        model_at(&root.path().join("usr/share/zerons/model"));
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(
            find_bundled(Some(&exe), Some(elsewhere.path())),
            Some(root.path().join("usr/share/zerons/model"))
        );
    }

    #[test]
    fn a_build_in_a_checkout_finds_the_checkouts_model_and_nothing_is_fixed_at_build_time() {
        let checkout = tempfile::tempdir().unwrap();
        model_at(&checkout.path().join("assets/model"));
        let exe = checkout.path().join("target/release/zerons");
        let elsewhere = tempfile::tempdir().unwrap();
        let found = checkout.path().join("assets/model");
        assert_eq!(
            find_bundled(Some(&exe), Some(elsewhere.path())),
            Some(found.clone())
        );
        // A build directory outside the checkout: found from the working directory.
        let outside = tempfile::tempdir().unwrap();
        let exe = outside.path().join("release/zerons");
        let cwd = checkout.path().join("cli");
        assert_eq!(find_bundled(Some(&exe), Some(&cwd)), Some(found));
        // Neither: no model, even though this engine was built from a checkout that has one.
        assert_eq!(find_bundled(Some(&exe), Some(elsewhere.path())), None);
    }

    #[test]
    fn the_installed_model_comes_before_a_checkout() {
        let root = tempfile::tempdir().unwrap();
        model_at(&root.path().join("share/zerons/model"));
        model_at(&root.path().join("assets/model"));
        let exe = root.path().join("bin/zerons");
        assert_eq!(
            find_bundled(Some(&exe), None),
            Some(root.path().join("share/zerons/model"))
        );
    }
}
