//! The bar classifier: which beats are downbeats, from beat-synchronous features (issue 21).
//!
//! A small multilayer perceptron beside the beat network, after Krebs, Böck, Dorfer & Widmer,
//! "Downbeat tracking using beat-synchronous features and recurrent neural networks" (ISMIR
//! 2016; madmom's `RNNBarProcessor`): the input is the z-scored features of a beat and of the
//! [`BarNetConfig::context_beats`] beats either side of it
//! ([`crate::features::beat_sync`]), the output the probability that the beat is a downbeat.
//! The beats come first (decoded, or the user's), so the classifier decides only the bar,
//! and a tracker's beat errors do not reach its training (it learns from exact bar lines of
//! the renders, [`crate::train::bars`]). The meter and phase are then voted per phase on its
//! outputs ([`crate::tracking::meter::choose_meter_from_values`]).
//!
//! Stored beside the network: weights `<weights stem>.bars.bpk`, described by
//! [`super::ModelManifest::bars`] (architecture, feature count, sha256). A model without it
//! falls back to the network's downbeat head, if any.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::features::Spectrogram;
use crate::features::beat_sync::{
    N_BEAT_FEATURES, beat_features, normalize_per_song, with_context,
};
use crate::{Error, Result};

/// Architecture of the bar classifier.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BarNetConfig {
    /// Beats either side of a beat whose features it also reads (default 4: a 4/4 bar
    /// either side, so that the pattern's period is visible).
    pub context_beats: usize,
    /// Hidden units (default 64).
    pub hidden: usize,
}

impl Default for BarNetConfig {
    fn default() -> Self {
        Self {
            context_beats: 4,
            hidden: 64,
        }
    }
}

impl BarNetConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if self.context_beats > 16 {
            return Err(Error::Config(format!(
                "bar classifier: context_beats must be at most 16 (got {})",
                self.context_beats
            )));
        }
        if !(1..=1024).contains(&self.hidden) {
            return Err(Error::Config(format!(
                "bar classifier: hidden must be in 1..=1024 (got {})",
                self.hidden
            )));
        }
        Ok(())
    }

    /// Inputs per beat: [`N_BEAT_FEATURES`] × (2 × context + 1).
    pub fn n_inputs(&self) -> usize {
        N_BEAT_FEATURES * (2 * self.context_beats + 1)
    }

    /// A network with random weights.
    pub fn init(&self, device: &Device) -> BarNet {
        BarNet {
            hidden: LinearConfig::new(self.n_inputs(), self.hidden).init(device),
            out: LinearConfig::new(self.hidden, 1).init(device),
        }
    }
}

/// The perceptron: inputs → ReLU hidden layer → one logit.
#[derive(Module, Debug)]
pub struct BarNet {
    /// Inputs → hidden.
    pub hidden: Linear,
    /// Hidden → downbeat logit.
    pub out: Linear,
}

impl BarNet {
    /// `[beats, inputs]` → downbeat logits `[beats, 1]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(relu(self.hidden.forward(x)))
    }
}

/// What [`super::ModelManifest::bars`] records about the classifier stored with a model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BarsSpec {
    /// Architecture.
    pub net: BarNetConfig,
    /// Features per beat it was trained on (must equal [`N_BEAT_FEATURES`]).
    pub n_beat_features: usize,
    /// Weights file (burnpack), beside the sidecar.
    pub weights_file: String,
    /// sha256 of the weights file.
    pub weights_sha256: String,
    /// How it was trained (data, steps, scores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// A bar classifier in memory.
#[derive(Debug, Clone)]
pub struct BarModel {
    /// The perceptron.
    pub net: BarNet,
    /// Its architecture.
    pub config: BarNetConfig,
    /// How it was trained.
    pub notes: Option<String>,
}

impl BarModel {
    /// The same classifier on another device.
    pub fn to_device(self, device: &Device) -> Self {
        Self {
            net: self.net.to_device(device),
            ..self
        }
    }

    /// Inputs for a song's beats: features, z-scored over the song, with context.
    pub fn inputs(
        &self,
        percussive: &Spectrogram,
        non_percussive: &Spectrogram,
        beats_s: &[f64],
    ) -> Result<Vec<Vec<f32>>> {
        song_inputs(percussive, non_percussive, beats_s, &self.config)
    }

    /// The probability that each beat is a downbeat.
    pub fn downbeat_probabilities(
        &self,
        percussive: &Spectrogram,
        non_percussive: &Spectrogram,
        beats_s: &[f64],
        device: &Device,
    ) -> Result<Vec<f64>> {
        let rows = self.inputs(percussive, non_percussive, beats_s)?;
        self.probabilities_of(&rows, device)
    }

    /// The probability of each row of inputs (from [`BarModel::inputs`]).
    pub fn probabilities_of(&self, rows: &[Vec<f32>], device: &Device) -> Result<Vec<f64>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let x = input_tensor(rows, self.config.n_inputs(), device)?;
        let p = sigmoid(self.net.forward(x));
        let v = p
            .try_to_vec_as::<f32>()
            .map_err(|e| Error::Model(format!("cannot read the bar classifier's output: {e:?}")))?;
        Ok(v.into_iter().map(f64::from).collect())
    }
}

/// Features of a song's beats, z-scored over the song, with `config.context_beats` of context.
pub fn song_inputs(
    percussive: &Spectrogram,
    non_percussive: &Spectrogram,
    beats_s: &[f64],
    config: &BarNetConfig,
) -> Result<Vec<Vec<f32>>> {
    let mut rows = beat_features(percussive, non_percussive, beats_s)?;
    normalize_per_song(&mut rows);
    Ok(with_context(&rows, config.context_beats))
}

/// Rows of equal width `n_inputs` as a `[rows, n_inputs]` tensor.
pub(crate) fn input_tensor<R: AsRef<[f32]>>(
    rows: &[R],
    n_inputs: usize,
    device: &Device,
) -> Result<Tensor<2>> {
    if let Some(r) = rows.iter().find(|r| r.as_ref().len() != n_inputs) {
        return Err(Error::Model(format!(
            "bar classifier: {} inputs per beat, expected {n_inputs}",
            r.as_ref().len()
        )));
    }
    let data: Vec<f32> = rows.iter().flat_map(|r| r.as_ref()).copied().collect();
    Ok(Tensor::<2>::from_data(
        TensorData::new(data, [rows.len(), n_inputs]),
        device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_ranges() {
        let device = Device::flex();
        let cfg = BarNetConfig {
            context_beats: 1,
            hidden: 8,
        };
        cfg.validate().unwrap();
        let model = BarModel {
            net: cfg.init(&device),
            config: cfg.clone(),
            notes: None,
        };
        let rows = vec![vec![0.5f32; cfg.n_inputs()]; 5];
        let p = model.probabilities_of(&rows, &device).unwrap();
        assert_eq!(p.len(), 5);
        assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(model.probabilities_of(&[], &device).unwrap().is_empty());
        assert!(model.probabilities_of(&[vec![0.0; 3]], &device).is_err());
        for bad in [
            BarNetConfig {
                context_beats: 17,
                ..cfg.clone()
            },
            BarNetConfig {
                hidden: 0,
                ..cfg.clone()
            },
        ] {
            assert!(bad.validate().is_err());
        }
    }
}
