//! `model` stage: the ZeroNS network in burn, its weight files, and whole-song inference.
//!
//! The network (spec §2) has two branches with the same architecture and unshared weights:
//! `anchor` reads the log-VQT of the non-percussive stem, `postve` that of the percussive stem;
//! each maps `[B, 1, 96, T]` to a `[B, T]` sigmoid curve at 62.5 fps, and downstream the two
//! curves are combined by element-wise max (mean as an option).
//!
//! Two architectures, picked by [`ModelConfig::architecture`]:
//!
//! - [`paper`]: the authors' `DS_CNN` exactly — 8 Conv2d, frequency max-pools ×3/×4/×8,
//!   ReLU, dropout 0.1, Conv1d head + sigmoid. 13,409,601 parameters and 207 M MAC per frame
//!   per branch; receptive field 137 frames (±68). Imports the published PyTorch checkpoint
//!   ([`import_pytorch`]).
//! - [`lite`]: our laptop design (see [`lite`] for the layer table): a 3×3 stem with 8
//!   channels shared across frequency, a ×3 frequency pool, frequency folded into 256
//!   channels, a Conv1d to 64 channels and six residual dilated Conv1d (kernel 5, dilations
//!   1…32), Conv1d head + sigmoid. 172,625 parameters and 0.18 M MAC per frame per branch
//!   (≈ 1,150× fewer than the paper branch); receptive field 257 frames (±128, 4.1 s).
//!
//! Measured speeds (flex CPU backend, release build, on the 2-core development machine while
//! other builds ran: load average 5–7, so a process got roughly a third of the machine;
//! ranges are quiet → loaded readings, ratios matter more than absolutes):
//!
//! | what | lite | paper |
//! |---|---|---|
//! | inference, 3-min song (11,251 frames), both branches, chunked | 0.16–0.46 s (bench 0.46 s) | ≈ 4.5 min (30 s clip: 45 s in the bench; 35 s window: 56 s, peak RSS 0.34 GB) |
//! | one Adam step, 2 branches × 16 crops × 313 frames, NT-Xent | 0.47–1.2 s (bench 0.84 s; RSS 136 MB, flat over 20 steps) | 402 s (peak RSS 2.9 GB) |
//!
//! The lite design follows from those measurements: on flex the 2-D convolutions (forward and
//! even more so backward) cost far more per MAC than 1-D convolutions, so the only frequency-
//! local layer is a tiny 3×3 stem computed as a 1-D conv, and all temporal modelling is 1-D.
//! At ≈ 1 s per step, one pass over 2,000 pretraining clips takes about half an hour.
//!
//! Files: [`save_model`] writes a burnpack `.bpk` plus a `MODEL.json` sidecar
//! ([`ModelManifest`]: format version, architecture, expected features, sha256 of the weights,
//! parent model, provenance); [`load_model`] checks all of it. [`infer`] runs a model over a
//! whole song in fixed-size chunks with a halo of at least the receptive field, which gives the
//! same result as one pass over the whole song with bounded memory.

pub mod bars;
mod device;
mod infer;
mod io;
pub(crate) use io::record_bytes;
pub mod lite;
mod net;
pub mod paper;
pub mod soup;
mod split;

pub use device::{
    ALLOW_SOFTWARE_GPU_ENV, ComputeDevice, DeviceChoice, SelectedDevice, select_device,
};
pub use infer::{InferConfig, ModelActivations, infer, infer_with_progress};
pub use io::{
    FINETUNED_METHOD, FeatureSpec, INSTALLED_MODEL_DIR, LoadedModel, MANIFEST_FILE, MODEL_ENV,
    MODEL_FORMAT_VERSION, ModelManifest, Provenance, WEIGHTS_FILE, bundled_model_dir,
    import_pytorch, load_model, load_model_on, save_model,
};
pub use lite::{LiteBranch, LiteConfig};
pub use net::{Branch, ZeroNs, ZeroNsOutput};
pub use paper::{PaperBranch, PaperConfig, PaperTrunk};
pub use split::{BranchTop, LiteTop, PaperTop};

/// burn's runtime device (re-exported so callers need not depend on burn).
pub use burn::tensor::Device;

use serde::{Deserialize, Serialize};

use crate::Result;

/// Frequency bins of the input log-VQT (96 = 8 octaves × 12 from C0; spec §1).
pub const N_BINS: usize = 96;

/// Frames per second of the input and output (16 kHz / hop 256; spec §1).
pub const FPS: f64 = 62.5;

/// How the two branch curves are combined.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Element-wise max (paper and code default: keeps working when one stem is silent).
    #[default]
    Max,
    /// Element-wise mean (present in the authors' code, unused there).
    Mean,
}

/// Which branch architecture, with its sizes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Architecture {
    /// The authors' `DS_CNN` (see [`paper`]).
    Paper(PaperConfig),
    /// Our small stem + dilated TCN (see [`lite`]).
    Lite(LiteConfig),
}

impl Default for Architecture {
    fn default() -> Self {
        Architecture::Lite(LiteConfig::default())
    }
}

/// Configuration of the `model` stage's network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct ModelConfig {
    /// Branch architecture (default: `lite`, the one that trains on a laptop).
    pub architecture: Architecture,
    /// Combination of the two branch curves (default: max, as the paper).
    pub combine: Combine,
}

impl ModelConfig {
    /// The authors' full-width architecture.
    pub fn paper() -> Self {
        Self {
            architecture: Architecture::Paper(PaperConfig::default()),
            combine: Combine::Max,
        }
    }

    /// Our default lite architecture.
    pub fn lite() -> Self {
        Self {
            architecture: Architecture::Lite(LiteConfig::default()),
            combine: Combine::Max,
        }
    }

    /// Checks every size; [`crate::Error::Config`] on a bad value.
    pub fn validate(&self) -> Result<()> {
        match &self.architecture {
            Architecture::Paper(c) => c.validate(),
            Architecture::Lite(c) => c.validate(),
        }
    }

    /// Frames of input context each side of an output frame: the minimum halo for exact
    /// chunked inference.
    pub fn half_receptive_field_frames(&self) -> usize {
        match &self.architecture {
            Architecture::Paper(_) => paper::PAPER_HALF_RF_FRAMES,
            Architecture::Lite(c) => c.half_receptive_field_frames(),
        }
    }

    /// Whether the network has a downbeat output ([`LiteConfig::downbeat_head`]).
    pub fn has_downbeat_head(&self) -> bool {
        matches!(&self.architecture, Architecture::Lite(c) if c.downbeat_head)
    }

    /// This config with a downbeat head (see [`ZeroNs::with_downbeat_heads`]);
    /// [`crate::Error::Config`] for the paper architecture, which has none.
    pub fn with_downbeat_head(mut self) -> Result<Self> {
        match &mut self.architecture {
            Architecture::Lite(c) => {
                c.downbeat_head = true;
                Ok(self)
            }
            Architecture::Paper(_) => Err(crate::Error::Config(
                "the paper architecture has no downbeat head; use a lite model".into(),
            )),
        }
    }

    /// This config with residual TCN layers of the given dilations appended (lite only; the
    /// network follows with [`ZeroNs::grown_to`]).
    pub fn with_extra_dilations(mut self, dilations: &[usize]) -> Result<Self> {
        match &mut self.architecture {
            Architecture::Lite(c) => {
                c.dilations.extend_from_slice(dilations);
                c.validate()?;
                Ok(self)
            }
            Architecture::Paper(_) => Err(crate::Error::Config(
                "the paper architecture has a fixed trunk; grow a lite model".into(),
            )),
        }
    }

    /// Multiply–accumulates per frame for one branch.
    pub fn macs_per_frame(&self) -> u64 {
        match &self.architecture {
            Architecture::Paper(c) => c.macs_per_frame(),
            Architecture::Lite(c) => c.macs_per_frame(),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::tensor::{Device, Tensor};

    use super::*;

    #[test]
    fn paper_branch_has_the_published_parameter_count() {
        let _rng = crate::test_rng_lock();
        let model = ZeroNs::new(&ModelConfig::paper(), &Device::flex()).unwrap();
        // Spec §2: 13,409,601 per branch (paper: "13.4M"), 26,819,202 in all.
        assert_eq!(model.anchor.num_params(), 13_409_601);
        assert_eq!(model.num_params(), 26_819_202);
    }

    #[test]
    fn paper_macs_and_receptive_field_match_the_spec() {
        let c = ModelConfig::paper();
        // Spec §2: 207.0 M MAC per frame per branch.
        let macs = c.macs_per_frame() as f64 / 1e6;
        assert!((macs - 207.0).abs() < 0.1, "{macs}");
        let rf: usize = paper::PAPER_KERNELS.iter().map(|k| k[1] / 2).sum();
        assert_eq!(rf, 68);
        assert_eq!(c.half_receptive_field_frames(), 68);
    }

    #[test]
    fn lite_sizes_are_as_documented() {
        let _rng = crate::test_rng_lock();
        let c = ModelConfig::lite();
        let model = ZeroNs::new(&c, &Device::flex()).unwrap();
        assert_eq!(model.anchor.num_params(), 172_625);
        assert_eq!(c.macs_per_frame(), 6_912 + 49_152 + 6 * 20_480 + 64);
        assert_eq!(c.half_receptive_field_frames(), 128);
    }

    #[test]
    fn forward_shapes_and_range() {
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        for config in [ModelConfig::lite(), tiny_paper()] {
            let model = ZeroNs::new(&config, &device).unwrap();
            let x = Tensor::<4>::random(
                [2, 1, N_BINS, 50],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &device,
            );
            let out = model.forward(x.clone(), x.clone() * 0.5);
            assert_eq!(out.anchor.dims(), [2, 50]);
            assert_eq!(out.postve.dims(), [2, 50]);
            let a = out.anchor.try_to_vec_as::<f32>().unwrap();
            let p = out.postve.try_to_vec_as::<f32>().unwrap();
            let m = out.combined.try_to_vec_as::<f32>().unwrap();
            for ((a, p), m) in a.iter().zip(&p).zip(&m) {
                assert!(*a > 0.0 && *a < 1.0);
                assert_eq!(*m, a.max(*p));
            }
        }
    }

    #[test]
    fn config_round_trips_through_json_and_rejects_bad_values() {
        let _rng = crate::test_rng_lock();
        let c = tiny_paper();
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"kind\":\"paper\""), "{json}");
        let back: ModelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        // Missing fields take defaults.
        let lite: ModelConfig =
            serde_json::from_str(r#"{"architecture":{"kind":"lite"}}"#).unwrap();
        assert_eq!(lite, ModelConfig::lite());

        let mut bad = ModelConfig::lite();
        if let Architecture::Lite(l) = &mut bad.architecture {
            l.stem_pool = 5;
        }
        assert_eq!(bad.validate().unwrap_err().code(), "config");
        let mut bad = ModelConfig::paper();
        if let Architecture::Paper(p) = &mut bad.architecture {
            p.channels[3] = 0;
        }
        assert!(ZeroNs::new(&bad, &Device::flex()).is_err());
    }

    /// The paper structure at widths ÷ 16 (as the golden checkpoint).
    pub(crate) fn tiny_paper() -> ModelConfig {
        ModelConfig {
            architecture: Architecture::Paper(PaperConfig {
                channels: [4, 4, 8, 8, 16, 16, 8, 8],
                dropout: 0.1,
            }),
            combine: Combine::Max,
        }
    }
}
