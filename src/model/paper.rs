//! The authors' `DS_CNN` branch, layer for layer (`models/models.py` in deezer/zeroNoteSamba;
//! spec §2). Module paths equal the PyTorch state-dict keys (`pretrained.cv1.weight` …
//! `fc1.bias`), so a checkpoint maps onto it without renaming.

use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig, Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, PaddingConfig1d, PaddingConfig2d};
use burn::tensor::Device;
use burn::tensor::Tensor;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Kernels `[freq, time]` of cv1…cv8 (paper code; spec §2 table).
pub const PAPER_KERNELS: [[usize; 2]; 8] = [
    [3, 11],
    [7, 13],
    [5, 15],
    [9, 17],
    [3, 19],
    [5, 21],
    [1, 23],
    [1, 25],
];

/// Frequency max-pool factor after each conv (1 = none): ×3 after cv2, ×4 after cv4, ×8 after
/// cv6, which takes 96 bins down to 1 (spec §2).
pub const PAPER_POOLS: [usize; 8] = [1, 3, 1, 4, 1, 8, 1, 1];

/// Frames of context each side of an output frame: Σ (k_time − 1)/2 = 68 (spec §2: 137-frame
/// receptive field, ≈ 2.19 s).
pub const PAPER_HALF_RF_FRAMES: usize = 68;

/// Configuration of the paper branch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PaperConfig {
    /// Output channels of cv1…cv8. Default: the authors' 64, 64, 128, 128, 256, 256, 128, 128
    /// (13,409,601 parameters per branch). Any positive widths keep the structure (the golden
    /// test checkpoint uses the same widths ÷ 16).
    pub channels: [usize; 8],
    /// Element-wise dropout after every trunk conv, active only in training (paper code: 0.1).
    pub dropout: f64,
}

impl Default for PaperConfig {
    fn default() -> Self {
        Self {
            channels: [64, 64, 128, 128, 256, 256, 128, 128],
            dropout: 0.1,
        }
    }
}

impl PaperConfig {
    /// Checks widths and dropout.
    pub fn validate(&self) -> Result<()> {
        if self.channels.contains(&0) {
            return Err(Error::Config(format!(
                "paper model: every channel width must be positive, got {:?}",
                self.channels
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!(
                "paper model: dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        Ok(())
    }

    /// Multiply–accumulates per output frame of one branch on a 96-bin input.
    pub fn macs_per_frame(&self) -> u64 {
        let mut bins = super::N_BINS as u64;
        let mut c_in = 1u64;
        let mut macs = 0u64;
        for ((k, &c_out), pool) in PAPER_KERNELS.iter().zip(&self.channels).zip(PAPER_POOLS) {
            macs += bins * c_in * c_out as u64 * (k[0] * k[1]) as u64;
            bins /= pool as u64;
            c_in = c_out as u64;
        }
        macs + c_in
    }

    /// Builds a freshly initialised branch (PyTorch-default Kaiming-uniform init).
    pub fn init(&self, device: &Device) -> PaperBranch {
        let mut c_in = 1;
        let mut convs = Vec::with_capacity(8);
        for (k, &c_out) in PAPER_KERNELS.iter().zip(&self.channels) {
            convs.push(
                Conv2dConfig::new([c_in, c_out], *k)
                    .with_padding(PaddingConfig2d::Explicit(
                        k[0] / 2,
                        k[1] / 2,
                        k[0] / 2,
                        k[1] / 2,
                    ))
                    .init(device),
            );
            c_in = c_out;
        }
        let mut it = convs.into_iter();
        // Eight convs were just pushed.
        let mut next = || it.next().unwrap_or_else(|| unreachable!());
        let pretrained = PaperTrunk {
            cv1: next(),
            cv2: next(),
            cv3: next(),
            cv4: next(),
            cv5: next(),
            cv6: next(),
            cv7: next(),
            cv8: next(),
        };
        PaperBranch {
            pretrained,
            fc1: Conv1dConfig::new(c_in, 1, 1)
                .with_padding(PaddingConfig1d::Valid)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// The eight-conv trunk (`_CNN` in the authors' code, attribute `pretrained`).
#[derive(Module, Debug)]
pub struct PaperTrunk {
    /// 1 → c1, 3×11.
    pub cv1: Conv2d,
    /// c1 → c2, 7×13, then max-pool ×3 over frequency.
    pub cv2: Conv2d,
    /// c2 → c3, 5×15.
    pub cv3: Conv2d,
    /// c3 → c4, 9×17, then max-pool ×4.
    pub cv4: Conv2d,
    /// c4 → c5, 3×19.
    pub cv5: Conv2d,
    /// c5 → c6, 5×21, then max-pool ×8 (frequency collapsed to 1).
    pub cv6: Conv2d,
    /// c6 → c7, 1×23.
    pub cv7: Conv2d,
    /// c7 → c8, 1×25.
    pub cv8: Conv2d,
}

/// One `DS_CNN` branch: trunk, then a 1×1 Conv1d head (`fc1`) and a sigmoid.
#[derive(Module, Debug)]
pub struct PaperBranch {
    /// The conv trunk.
    pub pretrained: PaperTrunk,
    /// Head: Conv1d c8 → 1, kernel 1.
    pub fc1: Conv1d,
    /// Dropout after every trunk conv (training only).
    pub dropout: Dropout,
}

impl PaperBranch {
    /// `[B, 1, 96, T]` log-VQT → `[B, T]` activation in (0, 1).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.trunk_forward(x, 8);
        let [b, c, _, n] = x.dims();
        let x: Tensor<3> = x.reshape([b, c, n]);
        let y = sigmoid(self.fc1.forward(x));
        y.reshape([b, n])
    }

    /// The first `layers` trunk convs (each with its pool, ReLU and dropout): `[B, C, F', T]`.
    pub(crate) fn trunk_forward(&self, x: Tensor<4>, layers: usize) -> Tensor<4> {
        let t = &self.pretrained;
        let convs = [
            &t.cv1, &t.cv2, &t.cv3, &t.cv4, &t.cv5, &t.cv6, &t.cv7, &t.cv8,
        ];
        let mut x = x;
        for (conv, pool) in convs.into_iter().zip(PAPER_POOLS).take(layers) {
            x = conv.forward(x);
            if pool > 1 {
                x = max_pool2d(x, MaxPoolOptions::new([pool, 1]));
            }
            x = self.dropout.forward(relu(x));
        }
        x
    }
}
