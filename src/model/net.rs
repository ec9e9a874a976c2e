//! The two-branch network (`Pretext_CNN` / `Down_CNN` in the authors' code).

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::lite::{LiteBranch, new_downbeat_head};
use super::paper::PaperBranch;
use super::{Architecture, Combine, ModelConfig};
use crate::Result;

/// One branch: the paper's `DS_CNN` or our lite design.
// Two of these exist per model; boxing would only add an indirection to the module tree.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Branch {
    /// The authors' 8-conv trunk.
    Paper(PaperBranch),
    /// Small stem + dilated 1-D TCN.
    Lite(LiteBranch),
}

impl Branch {
    /// Sets the bias of the 1×1 output head to `value` (the pre-sigmoid offset): a negative
    /// value makes a fresh network's outputs start small, so the paper's raw-cosine NT-Xent
    /// has a gradient from the first step (all outputs ≈ 0.5 make every cosine ≈ 1).
    pub fn with_head_bias(self, value: f32) -> Self {
        self.map_head(|w, b| (w, b.zeros_like() + value))
    }

    /// Re-calibrates the output head's pre-sigmoid value `z = w·h + b` to `sign · z + shift`
    /// (`sign` = ±1): flips an activation that learned dips into one with peaks, and moves
    /// its baseline, without touching the features.
    pub fn with_head_affine(self, sign: f32, shift: f32) -> Self {
        self.map_head(|w, b| (w * sign, b * sign + shift))
    }

    fn map_head(self, f: impl Fn(Tensor<3>, Tensor<1>) -> (Tensor<3>, Tensor<1>)) -> Self {
        let apply = |conv: burn::nn::conv::Conv1d| {
            let mut conv = conv;
            if let Some(bias) = conv.bias.take() {
                // Computed on the parameters' values: detach to make fresh leaves again (an
                // autodiff device refuses to track a non-leaf tensor as a parameter).
                let (w, b) = f(conv.weight.val(), bias.val());
                conv.weight = burn::module::Param::from_tensor(w.detach());
                conv.bias = Some(burn::module::Param::from_tensor(b.detach()));
            }
            conv
        };
        match self {
            Branch::Paper(mut b) => {
                b.fc1 = apply(b.fc1);
                Branch::Paper(b)
            }
            Branch::Lite(mut b) => {
                b.head = apply(b.head);
                Branch::Lite(b)
            }
        }
    }

    /// `[B, 1, 96, T]` → `[B, T]` activation in (0, 1).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Branch::Paper(b) => b.forward(x),
            Branch::Lite(b) => b.forward(x),
        }
    }

    /// [`Branch::forward`] and, where the branch has a downbeat head, its activation.
    pub fn forward_with_downbeat(&self, x: Tensor<4>) -> (Tensor<2>, Option<Tensor<2>>) {
        match self {
            Branch::Paper(b) => (b.forward(x), None),
            Branch::Lite(b) => b.forward_with_downbeat(x),
        }
    }

    /// Whether this branch has a downbeat head.
    pub fn has_downbeat_head(&self) -> bool {
        matches!(self, Branch::Lite(b) if b.downbeat.is_some())
    }
}

/// The ZeroNS network: two branches with the same architecture and unshared weights.
#[derive(Module, Debug)]
pub struct ZeroNs {
    /// Branch fed with the non-percussive stem's log-VQT (vocals + bass + other).
    pub anchor: Branch,
    /// Branch fed with the percussive stem's log-VQT (drums).
    pub postve: Branch,
    /// How the two curves combine downstream.
    #[module(skip)]
    pub combine: Combine,
}

/// Outputs of [`ZeroNs::forward`], each `[B, T]`.
#[derive(Debug, Clone)]
pub struct ZeroNsOutput {
    /// Non-percussive branch.
    pub anchor: Tensor<2>,
    /// Percussive branch.
    pub postve: Tensor<2>,
    /// Element-wise max (or mean) of the two.
    pub combined: Tensor<2>,
    /// The two branches' downbeat activations combined the same way, where the network has
    /// downbeat heads.
    pub downbeat: Option<Tensor<2>>,
}

impl ZeroNs {
    /// Builds a freshly initialised network (validates the config first).
    pub fn new(config: &ModelConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let branch = || match &config.architecture {
            Architecture::Paper(c) => Branch::Paper(c.init(device)),
            Architecture::Lite(c) => Branch::Lite(c.init(device)),
        };
        Ok(Self {
            anchor: branch(),
            postve: branch(),
            combine: config.combine,
        })
    }

    /// Both branches and their combination. Inputs are `[B, 1, 96, T]` log-VQTs of the
    /// non-percussive and percussive stems.
    pub fn forward(&self, non_percussive: Tensor<4>, percussive: Tensor<4>) -> ZeroNsOutput {
        self.output(
            self.anchor.forward_with_downbeat(non_percussive),
            self.postve.forward_with_downbeat(percussive),
        )
    }

    /// The output from each branch's beat and downbeat activations: combined as configured.
    fn output(
        &self,
        (anchor, anchor_db): (Tensor<2>, Option<Tensor<2>>),
        (postve, postve_db): (Tensor<2>, Option<Tensor<2>>),
    ) -> ZeroNsOutput {
        let combined = self.combine.apply(anchor.clone(), postve.clone());
        let downbeat = match (anchor_db, postve_db) {
            (Some(a), Some(p)) => Some(self.combine.apply(a, p)),
            _ => None,
        };
        ZeroNsOutput {
            anchor,
            postve,
            combined,
            downbeat,
        }
    }

    /// [`ZeroNs::forward`] together with both branches' features below the heads `[B, C, T]`
    /// (lite only; `None` for the paper branch), on the caller's device: for a head trained
    /// beside the beat head on the same features (base training's tempo head).
    pub fn forward_with_features(
        &self,
        non_percussive: Tensor<4>,
        percussive: Tensor<4>,
    ) -> Option<(ZeroNsOutput, Tensor<3>, Tensor<3>)> {
        let (Branch::Lite(a), Branch::Lite(p)) = (&self.anchor, &self.postve) else {
            return None;
        };
        let fa = a.forward_stream(non_percussive, a.tcn.len());
        let fp = p.forward_stream(percussive, p.tcn.len());
        let out = self.output(a.heads(fa.clone()), p.heads(fp.clone()));
        Some((out, fa, fp))
    }

    /// Both branches' features below the heads `[B, C, T]` (lite only), for training the
    /// downbeat heads alone: computed by an inference copy, they carry no autodiff graph.
    pub fn head_features(
        &self,
        non_percussive: Tensor<4>,
        percussive: Tensor<4>,
    ) -> Option<(Tensor<3>, Tensor<3>)> {
        match (&self.anchor, &self.postve) {
            (Branch::Lite(a), Branch::Lite(p)) => Some((
                a.forward_stream(non_percussive, a.tcn.len()),
                p.forward_stream(percussive, p.tcn.len()),
            )),
            _ => None,
        }
    }

    /// The combined downbeat activation from [`ZeroNs::head_features`]; `None` unless both
    /// branches have a downbeat head.
    pub fn downbeat_from_features(
        &self,
        anchor: Tensor<3>,
        postve: Tensor<3>,
    ) -> Option<Tensor<2>> {
        let head = |b: &Branch, h| match b {
            Branch::Lite(l) => l.downbeat_from_features(h),
            Branch::Paper(_) => None,
        };
        let a = head(&self.anchor, anchor)?;
        let p = head(&self.postve, postve)?;
        Some(self.combine.apply(a, p))
    }

    /// Channels of the features below the heads (lite only).
    pub fn feature_channels(&self) -> Option<usize> {
        match &self.anchor {
            Branch::Lite(b) => Some(b.head.weight.dims()[1]),
            Branch::Paper(_) => None,
        }
    }

    /// Whether both branches have downbeat heads.
    pub fn has_downbeat_head(&self) -> bool {
        self.anchor.has_downbeat_head() && self.postve.has_downbeat_head()
    }

    /// This network grown to `config` (lite only): both branches get the residual TCN layers
    /// that `config` lists beyond theirs, starting near the identity ([`LiteBranch::grown_to`];
    /// base training with a longer receptive field from a trained model, issue 18).
    pub fn grown_to(self, config: &ModelConfig, device: &Device) -> Result<Self> {
        let not_lite = || crate::Error::Config("only a lite model can grow TCN layers".into());
        let Architecture::Lite(lite) = &config.architecture else {
            return Err(not_lite());
        };
        let grow = |b: Branch| match b {
            Branch::Lite(l) => Ok(Branch::Lite(l.grown_to(lite, device)?)),
            Branch::Paper(_) => Err(not_lite()),
        };
        Ok(Self {
            anchor: grow(self.anchor)?,
            postve: grow(self.postve)?,
            combine: self.combine,
        })
    }

    /// This network with fresh downbeat heads added to lite branches that lack one (base
    /// training from lite v1 or v2, issue 21); the paper branch has none. The model's config
    /// must then say `downbeat_head: true` ([`ModelConfig::with_downbeat_head`]).
    pub fn with_downbeat_heads(mut self, device: &Device) -> Self {
        for branch in [&mut self.anchor, &mut self.postve] {
            if let Branch::Lite(b) = branch
                && b.downbeat.is_none()
            {
                let channels = b.head.weight.dims()[1];
                b.downbeat = Some(new_downbeat_head(channels, device));
            }
        }
        self
    }
}

impl Combine {
    /// Combines two `[B, T]` curves.
    pub fn apply(self, a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
        match self {
            Combine::Max => a.max_pair(b),
            Combine::Mean => (a + b) * 0.5,
        }
    }
}
