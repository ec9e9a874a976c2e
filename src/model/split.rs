//! Splitting a branch into a frozen lower part and a trainable top, for fine-tuning with the
//! lower part's features computed once and cached (spec §7, "cheap alternative").
//!
//! `top_layers` counts the trunk layers kept trainable above the cut, the 1×1 head always
//! being trainable:
//!
//! - lite: the last `top_layers` residual TCN convs (0…6). The cached feature is the `[B, C, T]`
//!   residual stream below them.
//! - paper: cv7 and/or cv8 (0…2), the layers after the last frequency pool, so the cached
//!   feature is the `[B, C, T]` output of the layer below (frequency already collapsed to 1).
//!   Deeper cuts would cache 2-D feature maps, which is no cheaper than training end to end.
//!
//! [`Branch::forward_bottom`] followed by [`BranchTop::forward`] equals [`Branch::forward`]
//! (tested), and [`Branch::with_top`] writes trained top weights back into a branch.

use burn::module::Module;
use burn::nn::Dropout;
use burn::nn::conv::{Conv1d, Conv2d};
use burn::tensor::Tensor;
use burn::tensor::activation::{relu, sigmoid};

use super::lite::LiteBranch;
use super::net::Branch;
use super::paper::PaperBranch;
use crate::{Error, Result};

/// Trainable top of a lite branch.
#[derive(Module, Debug)]
pub struct LiteTop {
    /// The last residual TCN convs.
    pub tcn: Vec<Conv1d>,
    /// Conv1d C → 1 + sigmoid.
    pub head: Conv1d,
    /// The downbeat head, when the branch has one (trained with the beat head).
    pub downbeat: Option<Conv1d>,
    /// Dropout after each conv (training only).
    pub dropout: Dropout,
}

/// Trainable top of a paper branch.
#[derive(Module, Debug)]
pub struct PaperTop {
    /// cv7 and/or cv8 (1×k Conv2d over time on the collapsed-frequency map).
    pub convs: Vec<Conv2d>,
    /// Conv1d head + sigmoid.
    pub fc1: Conv1d,
    /// Dropout after each conv (training only).
    pub dropout: Dropout,
}

/// The trainable top of one branch.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum BranchTop {
    /// Lite.
    Lite(LiteTop),
    /// Paper.
    Paper(PaperTop),
}

impl Branch {
    /// Largest valid `top_layers` for this branch.
    pub fn max_top_layers(&self) -> usize {
        match self {
            Branch::Lite(b) => b.tcn.len(),
            Branch::Paper(_) => 2,
        }
    }

    fn check_top(&self, top_layers: usize) -> Result<()> {
        if top_layers > self.max_top_layers() {
            return Err(Error::Config(format!(
                "fine-tuning: top_layers {top_layers} is more than this architecture allows ({})",
                self.max_top_layers()
            )));
        }
        Ok(())
    }

    /// `[B, 1, 96, T]` → `[B, C, T]`: the branch up to the cut below its top `top_layers`.
    pub fn forward_bottom(&self, x: Tensor<4>, top_layers: usize) -> Result<Tensor<3>> {
        self.check_top(top_layers)?;
        Ok(match self {
            Branch::Lite(b) => {
                let keep = b.tcn.len() - top_layers;
                b.forward_stream(x, keep)
            }
            Branch::Paper(b) => b.forward_layers(x, 8 - top_layers),
        })
    }

    /// A copy of the top `top_layers` layers and the head, to train on cached features.
    pub fn top(&self, top_layers: usize) -> Result<BranchTop> {
        self.check_top(top_layers)?;
        Ok(match self {
            Branch::Lite(b) => BranchTop::Lite(LiteTop {
                tcn: b.tcn[b.tcn.len() - top_layers..].to_vec(),
                head: b.head.clone(),
                downbeat: b.downbeat.clone(),
                dropout: b.dropout.clone(),
            }),
            Branch::Paper(b) => {
                let t = &b.pretrained;
                let convs = [&t.cv7, &t.cv8];
                BranchTop::Paper(PaperTop {
                    convs: convs[2 - top_layers..]
                        .iter()
                        .map(|c| (*c).clone())
                        .collect(),
                    fc1: b.fc1.clone(),
                    dropout: b.dropout.clone(),
                })
            }
        })
    }

    /// This branch with its top replaced by `top` (as returned by [`Branch::top`], trained).
    pub fn with_top(self, top: BranchTop) -> Result<Branch> {
        match (self, top) {
            (Branch::Lite(mut b), BranchTop::Lite(t)) if t.tcn.len() <= b.tcn.len() => {
                let keep = b.tcn.len() - t.tcn.len();
                b.tcn.truncate(keep);
                b.tcn.extend(t.tcn);
                b.head = t.head;
                if t.downbeat.is_some() {
                    b.downbeat = t.downbeat;
                }
                Ok(Branch::Lite(b))
            }
            (Branch::Paper(mut b), BranchTop::Paper(t)) if t.convs.len() <= 2 => {
                let mut convs = t.convs.into_iter();
                if convs.len() == 2
                    && let Some(c) = convs.next()
                {
                    b.pretrained.cv7 = c;
                }
                if let Some(c) = convs.next() {
                    b.pretrained.cv8 = c;
                }
                b.fc1 = t.fc1;
                Ok(Branch::Paper(b))
            }
            _ => Err(Error::Model(
                "fine-tuning: the trained top does not fit this branch's architecture".into(),
            )),
        }
    }
}

impl BranchTop {
    /// `[B, C, T]` cached feature → `[B, T]` activation in (0, 1).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        self.forward_heads(x, false).0
    }

    /// [`BranchTop::forward`] and, where the top has a downbeat head, its activation.
    pub fn forward_with_downbeat(&self, x: Tensor<3>) -> (Tensor<2>, Option<Tensor<2>>) {
        self.forward_heads(x, true)
    }

    fn forward_heads(&self, x: Tensor<3>, downbeat: bool) -> (Tensor<2>, Option<Tensor<2>>) {
        let [b, _, n] = x.dims();
        match self {
            BranchTop::Lite(t) => {
                let mut x = x;
                for conv in &t.tcn {
                    let h = t.dropout.forward(relu(conv.forward(x.clone())));
                    x = x + h;
                }
                let d = t
                    .downbeat
                    .as_ref()
                    .filter(|_| downbeat)
                    .map(|d| sigmoid(d.forward(x.clone())).reshape([b, n]));
                (sigmoid(t.head.forward(x)).reshape([b, n]), d)
            }
            BranchTop::Paper(t) => {
                let mut x = x;
                for conv in &t.convs {
                    let c = x.dims()[1];
                    let h: Tensor<4> = x.reshape([b, c, 1, n]);
                    let h = t.dropout.forward(relu(conv.forward(h)));
                    let c = h.dims()[1];
                    x = h.reshape([b, c, n]);
                }
                (sigmoid(t.fc1.forward(x)).reshape([b, n]), None)
            }
        }
    }
}

impl LiteBranch {
    /// The residual stream `[B, C, T]` after the front conv and the first `tcn_layers` TCN
    /// convs.
    pub fn forward_stream(&self, x: Tensor<4>, tcn_layers: usize) -> Tensor<3> {
        let mut x = self
            .dropout
            .forward(relu(self.front.forward(self.stem_out(x))));
        for conv in self.tcn.iter().take(tcn_layers) {
            let h = self.dropout.forward(relu(conv.forward(x.clone())));
            x = x + h;
        }
        x
    }
}

impl PaperBranch {
    /// Output `[B, C, T]` of trunk layers cv1…cv`layers` (`layers` ≥ 6, so that frequency is
    /// collapsed).
    pub fn forward_layers(&self, x: Tensor<4>, layers: usize) -> Tensor<3> {
        let x = self.trunk_forward(x, layers);
        let [b, c, _, n] = x.dims();
        x.reshape([b, c, n])
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use crate::model::{ModelConfig, PaperConfig, ZeroNs};

    fn max_diff(a: Tensor<2>, b: Tensor<2>) -> f32 {
        let a = a.try_to_vec_as::<f32>().unwrap();
        let b = b.try_to_vec_as::<f32>().unwrap();
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn bottom_then_top_equals_the_whole_branch() {
        let _rng = crate::test_rng_lock();
        let device = Device::flex();
        let lite = ModelConfig::lite();
        let mut paper = ModelConfig::paper();
        if let crate::model::Architecture::Paper(p) = &mut paper.architecture {
            *p = PaperConfig {
                channels: [2, 2, 2, 2, 2, 2, 3, 3],
                ..p.clone()
            };
        }
        let with_downbeats = ModelConfig::lite().with_downbeat_head().unwrap();
        for config in [lite, paper, with_downbeats] {
            let net = burn::module::Module::valid(&ZeroNs::new(&config, &device).unwrap());
            let x = Tensor::<4>::random([1, 1, 96, 200], Distribution::Default, &device);
            let whole = net.anchor.forward(x.clone());
            for k in 0..=net.anchor.max_top_layers() {
                let h = net.anchor.forward_bottom(x.clone(), k).unwrap();
                let top = net.anchor.top(k).unwrap();
                let split = top.forward(h);
                assert!(max_diff(whole.clone(), split) < 1e-6, "top_layers {k}");
                let (_, whole_db) = net.anchor.forward_with_downbeat(x.clone());
                let (_, split_db) =
                    top.forward_with_downbeat(net.anchor.forward_bottom(x.clone(), k).unwrap());
                match (whole_db, split_db) {
                    (Some(w), Some(s)) => {
                        assert!(max_diff(w, s) < 1e-6, "downbeat, top_layers {k}")
                    }
                    (None, None) => {}
                    _ => panic!("the top lost or gained the downbeat head"),
                }
                // Writing the (unchanged) top back gives the same branch.
                let back = net
                    .anchor
                    .clone()
                    .with_top(net.anchor.top(k).unwrap())
                    .unwrap();
                assert!(max_diff(whole.clone(), back.forward(x.clone())) < 1e-6);
            }
            assert!(net.anchor.top(net.anchor.max_top_layers() + 1).is_err());
        }
    }
}
