//! `lite`: our own small branch for laptops (same idea as the paper branch: log-VQT in, one
//! sigmoid activation per frame out, time resolution never reduced, "same" zero padding in
//! time so chunked inference with a halo is exact).
//!
//! Layout (defaults), per branch:
//!
//! | stage | layer | out (channels × bins) | params | MAC / frame |
//! |---|---|---|---|---|
//! | stem | 3×3 conv (freq × time) 1→8, weights shared across frequency, ReLU | 8 × 96 | 80 | 6,912 |
//! | fold | max-pool ×3 over frequency, frequency folded into channels | 256 × 1 | — | — |
//! | front | Conv1d 256→64, k 3, ReLU, dropout 0.1 | 64 | 49,216 | 49,152 |
//! | tcn ×6 | x + dropout(ReLU(Conv1d 64→64, k 5, dilation 1, 2, 4, 8, 16, 32)) | 64 | 6 × 20,544 | 6 × 20,480 |
//! | head | Conv1d 64→1, k 1, sigmoid | 1 | 65 | 64 |
//! | total | | | 172,625 | 179,008 |
//!
//! Receptive field: 1 (stem) + 1 (front) + 2 · (1+2+4+8+16+32) (tcn) = ±128 frames, 257
//! frames ≈ 4.1 s (the paper branch: ±68, 2.2 s).
//!
//! Why this shape (measured on flex, 2-core machine): the first version ran the stem as a
//! burn `Conv2d` + `max_pool2d`; that one 7 k-MAC layer took two thirds of the inference time
//! (3-min song 0.54 s vs 0.18 s without a stem) and a third of a training step (0.80 s vs
//! 0.59 s). The same 3×3 conv computed as a Conv1d over time on the stack of each bin with its
//! two neighbours (`[B·96, 3, T]`), then a max over groups of 3 bins, costs 0.22 s / 0.47 s.
//! A stem with frequency-shared weights keeps the paper's local, pitch-shift-tolerant
//! features; all temporal modelling is 1-D, whose backward pass is cheap.

use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Dropout, DropoutConfig, PaddingConfig1d};
use burn::tensor::Device;
use burn::tensor::Tensor;
use burn::tensor::activation::{relu, sigmoid};
use serde::{Deserialize, Serialize};

use super::N_BINS;
use crate::{Error, Result};

/// Configuration of the lite branch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LiteConfig {
    /// Channels of the frequency-local 2-D stem (3×3 conv over the 96 bins). 0 = no stem: the
    /// bins go straight into the channels of the first 1-D conv.
    pub stem_channels: usize,
    /// Frequency max-pool factor after the stem (must divide 96). 3 = one semitone-triplet,
    /// as the paper's first pool.
    pub stem_pool: usize,
    /// Width of the 1-D layers.
    pub channels: usize,
    /// Time kernel of the first 1-D conv (odd).
    pub front_kernel: usize,
    /// Time kernel of the dilated TCN convs (odd).
    pub tcn_kernel: usize,
    /// Dilation of each residual TCN layer (spec §7 sketch: 1…32, receptive field ≈ 4.1 s).
    pub dilations: Vec<usize>,
    /// Dropout after the front conv and every TCN conv, training only (paper: 0.1).
    pub dropout: f64,
    /// A second 1×1 head beside the beat head giving a downbeat activation (issue 21, the
    /// summed-head idea of madmom's and Beat This!'s downbeat networks, as a separate head on
    /// shared features). `false` for lite v1 and v2, whose sidecars do not name it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub downbeat_head: bool,
}

impl Default for LiteConfig {
    fn default() -> Self {
        Self {
            stem_channels: 8,
            stem_pool: 3,
            channels: 64,
            front_kernel: 3,
            tcn_kernel: 5,
            dilations: vec![1, 2, 4, 8, 16, 32],
            dropout: 0.1,
            downbeat_head: false,
        }
    }
}

impl LiteConfig {
    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Config(format!("lite model: {what}")));
        if self.channels == 0 {
            return bad("channels must be positive".into());
        }
        if self.stem_channels > 0 && (self.stem_pool == 0 || !N_BINS.is_multiple_of(self.stem_pool))
        {
            return bad(format!(
                "stem_pool must divide {N_BINS}, got {}",
                self.stem_pool
            ));
        }
        for (name, k) in [
            ("front_kernel", self.front_kernel),
            ("tcn_kernel", self.tcn_kernel),
        ] {
            if k % 2 == 0 {
                return bad(format!("{name} must be odd, got {k}"));
            }
        }
        if self.dilations.contains(&0) {
            return bad(format!(
                "dilations must be positive, got {:?}",
                self.dilations
            ));
        }
        if self.dilations.len() > 64 || self.dilations.iter().any(|&d| d > 4096) {
            return bad(format!(
                "too many or too large dilations: {:?}",
                self.dilations
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        Ok(())
    }

    /// Input channels of the first 1-D conv.
    fn folded_channels(&self) -> usize {
        if self.stem_channels == 0 {
            N_BINS
        } else {
            self.stem_channels * (N_BINS / self.stem_pool.max(1))
        }
    }

    /// Frames of context each side of an output frame.
    pub fn half_receptive_field_frames(&self) -> usize {
        let stem = usize::from(self.stem_channels > 0);
        stem + (self.front_kernel / 2)
            + self
                .dilations
                .iter()
                .map(|d| d * (self.tcn_kernel / 2))
                .sum::<usize>()
    }

    /// Multiply–accumulates per output frame of one branch.
    pub fn macs_per_frame(&self) -> u64 {
        let c = self.channels as u64;
        let stem = (9 * self.stem_channels * N_BINS) as u64;
        let front = (self.folded_channels() * self.front_kernel) as u64 * c;
        let tcn = self.dilations.len() as u64 * self.tcn_kernel as u64 * c * c;
        let heads = if self.downbeat_head { 2 } else { 1 };
        stem + front + tcn + heads * c
    }

    /// Builds a freshly initialised branch (PyTorch-default Kaiming-uniform init).
    pub fn init(&self, device: &Device) -> LiteBranch {
        let stem = (self.stem_channels > 0).then(|| {
            Conv1dConfig::new(3, self.stem_channels, 3)
                .with_padding(PaddingConfig1d::Explicit(1, 1))
                .init(device)
        });
        let c = self.channels;
        let front = Conv1dConfig::new(self.folded_channels(), c, self.front_kernel)
            .with_padding(PaddingConfig1d::Explicit(
                self.front_kernel / 2,
                self.front_kernel / 2,
            ))
            .init(device);
        let tcn = self
            .dilations
            .iter()
            .map(|&d| new_tcn_layer(c, self.tcn_kernel, d, device))
            .collect();
        LiteBranch {
            stem,
            stem_pool: self.stem_pool,
            front,
            tcn,
            head: Conv1dConfig::new(c, 1, 1).init(device),
            downbeat: self.downbeat_head.then(|| new_downbeat_head(c, device)),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// A fresh residual TCN conv `C → C` with dilation `d` and "same" padding (PyTorch-default
/// init).
fn new_tcn_layer(channels: usize, kernel: usize, dilation: usize, device: &Device) -> Conv1d {
    let pad = dilation * (kernel / 2);
    Conv1dConfig::new(channels, channels, kernel)
        .with_dilation(dilation)
        .with_padding(PaddingConfig1d::Explicit(pad, pad))
        .init(device)
}

/// Scale of the weights and bias of a TCN layer appended to a trained branch
/// ([`LiteBranch::grown_to`]): small enough that the residual layer starts close to
/// the identity, so the grown model begins where the trained one stands, and not zero, so that
/// the ReLU passes gradients from the first step.
pub const EXTRA_LAYER_INIT_SCALE: f32 = 0.05;

/// A fresh downbeat head `C → 1` whose outputs start small (pre-sigmoid bias −2.5, sigmoid ≈
/// 0.08: downbeats are a quarter of the beats or fewer, and a head starting at 0.5 would spend
/// its first steps learning the base rate).
pub(crate) fn new_downbeat_head(channels: usize, device: &Device) -> Conv1d {
    let mut conv = Conv1dConfig::new(channels, 1, 1).init(device);
    if let Some(bias) = conv.bias.take() {
        let b = bias.val().zeros_like() - 2.5;
        conv.bias = Some(burn::module::Param::from_tensor(b.detach()));
    }
    conv
}

/// The lite branch (see the module docs for the layout).
#[derive(Module, Debug)]
pub struct LiteBranch {
    /// Optional 3×3 conv over (frequency, time), weights shared across frequency, stored as a
    /// Conv1d over time with the 3 neighbouring bins as input channels.
    pub stem: Option<Conv1d>,
    /// Frequency pool after the stem.
    pub stem_pool: usize,
    /// First 1-D conv over time, frequency folded into channels.
    pub front: Conv1d,
    /// Residual dilated 1-D convs.
    pub tcn: Vec<Conv1d>,
    /// Conv1d C → 1, kernel 1, then sigmoid.
    pub head: Conv1d,
    /// Optional downbeat head, Conv1d C → 1, kernel 1, then sigmoid, on the same features as
    /// the beat head ([`LiteConfig::downbeat_head`]).
    pub downbeat: Option<Conv1d>,
    /// Dropout (training only).
    pub dropout: Dropout,
}

impl LiteBranch {
    /// This branch grown to `config`: residual TCN layers for the dilations that `config`
    /// lists beyond this branch's layers are appended above its last one (a longer receptive
    /// field for a trained branch, issue 18). They start near the identity
    /// ([`EXTRA_LAYER_INIT_SCALE`]), so the grown branch begins where the trained one stands.
    /// Errors when `config` does not extend this branch's layers.
    pub fn grown_to(mut self, config: &LiteConfig, device: &Device) -> Result<Self> {
        let channels = self.head.weight.dims()[1];
        let have = self.tcn.len();
        let same_layers = self
            .tcn
            .iter()
            .zip(&config.dilations)
            .all(|(conv, &d)| conv.weight.dims()[2] == config.tcn_kernel && conv.dilation == d);
        if config.dilations.len() < have || !same_layers || channels != config.channels {
            return Err(Error::Config(format!(
                "lite model: dilations {:?} (kernel {}, {} channels) do not extend this \
                 branch's {have} TCN layers",
                config.dilations, config.tcn_kernel, config.channels
            )));
        }
        for &d in &config.dilations[have..] {
            let mut conv = new_tcn_layer(channels, config.tcn_kernel, d, device);
            let w = conv.weight.val() * EXTRA_LAYER_INIT_SCALE;
            conv.weight = burn::module::Param::from_tensor(w.detach());
            if let Some(bias) = conv.bias.take() {
                let b = bias.val() * EXTRA_LAYER_INIT_SCALE;
                conv.bias = Some(burn::module::Param::from_tensor(b.detach()));
            }
            self.tcn.push(conv);
        }
        Ok(self)
    }

    /// `[B, 1, 96, T]` log-VQT → `[B, T]` activation in (0, 1).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let [b, _, _, n] = x.dims();
        let x = self.forward_stream(x, self.tcn.len());
        sigmoid(self.head.forward(x)).reshape([b, n])
    }

    /// [`LiteBranch::forward`] and, with a downbeat head, the downbeat activation `[B, T]`.
    pub fn forward_with_downbeat(&self, x: Tensor<4>) -> (Tensor<2>, Option<Tensor<2>>) {
        self.heads(self.forward_stream(x, self.tcn.len()))
    }

    /// The beat head and, with one, the downbeat head on the features `[B, C, T]` below them
    /// ([`LiteBranch::forward_stream`] with every TCN layer): `[B, T]` activations.
    pub fn heads(&self, h: Tensor<3>) -> (Tensor<2>, Option<Tensor<2>>) {
        let [b, _, n] = h.dims();
        let downbeat = self
            .downbeat
            .as_ref()
            .map(|d| sigmoid(d.forward(h.clone())).reshape([b, n]));
        (sigmoid(self.head.forward(h)).reshape([b, n]), downbeat)
    }

    /// The downbeat head alone on the beat features `[B, C, T]` (the residual stream below the
    /// heads, [`LiteBranch::forward_stream`] with every TCN layer); `None` without a head.
    pub fn downbeat_from_features(&self, h: Tensor<3>) -> Option<Tensor<2>> {
        let [b, _, n] = h.dims();
        let d = self.downbeat.as_ref()?;
        Some(sigmoid(d.forward(h)).reshape([b, n]))
    }

    /// `[B, 1, F, T]` → `[B, F/pool · stem_channels, T]`: the stem, pooled and folded (or the
    /// bins as channels without a stem).
    pub(crate) fn stem_out(&self, x: Tensor<4>) -> Tensor<3> {
        let [b, _, _, n] = x.dims();
        match &self.stem {
            Some(stem) => {
                let [_, _, f, _] = x.dims();
                let x: Tensor<3> = x.reshape([b, f, n]);
                // 3×3 conv shared across frequency, as a Conv1d over time on the stack of each
                // bin with its two neighbours (zero beyond the ends): [B·96, 3, T].
                let zero = Tensor::<3>::zeros([b, 1, n], &x.device());
                let padded = Tensor::cat(vec![zero.clone(), x, zero], 1);
                let stack = Tensor::stack::<4>(
                    vec![
                        padded.clone().narrow(1, 0, f),
                        padded.clone().narrow(1, 1, f),
                        padded.narrow(1, 2, f),
                    ],
                    2,
                );
                let h = stem.forward(stack.reshape([b * f, 3, n]));
                let c = h.dims()[1];
                let p = self.stem_pool.max(1);
                // Max-pool groups of `p` adjacent bins, fold frequency into channels.
                let h: Tensor<5> = h.reshape([b, f / p, p, c, n]);
                relu(h.max_dim(2)).reshape([b, (f / p) * c, n])
            }
            None => {
                let [_, _, f, _] = x.dims();
                x.reshape([b, f, n])
            }
        }
    }
}
