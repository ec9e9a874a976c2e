//! The two-branch network (`Pretext_CNN` / `Down_CNN` in the authors' code).

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::lite::LiteBranch;
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
    /// `[B, 1, 96, T]` → `[B, T]` activation in (0, 1).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Branch::Paper(b) => b.forward(x),
            Branch::Lite(b) => b.forward(x),
        }
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
        let anchor = self.anchor.forward(non_percussive);
        let postve = self.postve.forward(percussive);
        let combined = self.combine.apply(anchor.clone(), postve.clone());
        ZeroNsOutput {
            anchor,
            postve,
            combined,
        }
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
