//! Weight-space combinations of networks that share one architecture and one start: a
//! "model soup" (Wortsman et al., ICML 2022: the weights of models fine-tuned from one start,
//! averaged) and the interpolation of a fine-tuned network back toward its base (WiSE-FT,
//! Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022).
//!
//! Every float parameter is combined, in the module's visiting order; buffers that are not
//! parameters come from the first network.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

use crate::{Error, Result};

/// Collects every float parameter's values, in the module's visiting order.
struct Collect {
    values: Vec<Vec<f32>>,
    error: Option<String>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        match param.val().into_data().try_into_vec::<f32>() {
            Ok(v) => self.values.push(v),
            Err(e) => {
                self.error = Some(format!("parameter {}: {e:?}", self.values.len()));
                self.values.push(Vec::new());
            }
        }
    }
}

/// Every float parameter's values, in the module's visiting order (what the combinations
/// below combine).
pub fn parameters<M: Module>(network: &M) -> Result<Vec<Vec<f32>>> {
    let mut c = Collect {
        values: Vec::new(),
        error: None,
    };
    network.visit(&mut c);
    match c.error {
        Some(e) => Err(Error::Model(format!("reading the weights: {e}"))),
        None => Ok(c.values),
    }
}

/// Replaces every float parameter, in the same order, by the given values.
struct Replace {
    values: Vec<Vec<f32>>,
    next: usize,
    error: Option<String>,
}

impl ModuleMapper for Replace {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let i = self.next;
        self.next += 1;
        let Some(values) = self.values.get_mut(i).map(std::mem::take) else {
            self.error.get_or_insert(format!("parameter {i} missing"));
            return param;
        };
        let tensor = param.val();
        let shape = tensor.dims();
        if shape.iter().product::<usize>() != values.len() {
            self.error
                .get_or_insert(format!("parameter {i}: shape {shape:?} does not fit"));
            return param;
        }
        let device = tensor.device();
        let data = TensorData::new(values, shape);
        param.map(|_| Tensor::<D>::from_data(data, &device))
    }
}

/// The weighted mean of the networks' (or any modules') parameters (weights are normalised to sum to 1; a
/// negative weight is allowed, e.g. for extrapolation). The first network supplies the
/// structure and everything that is not a float parameter. [`Error::Model`] when the
/// networks' parameters differ in number or shape, or the weights are not finite or sum to 0.
pub fn weighted_average<M: Module>(networks: &[(&M, f64)]) -> Result<M> {
    let Some((first, _)) = networks.first() else {
        return Err(Error::Model("no network to average".into()));
    };
    let total: f64 = networks.iter().map(|(_, w)| w).sum();
    if !total.is_finite() || total.abs() < 1e-12 || networks.iter().any(|(_, w)| !w.is_finite()) {
        return Err(Error::Model(format!(
            "soup weights must be finite and not sum to 0 (sum {total})"
        )));
    }
    let mut sum: Option<Vec<Vec<f64>>> = None;
    for (k, (network, weight)) in networks.iter().enumerate() {
        let params = parameters(*network)?;
        let acc = sum.get_or_insert_with(|| params.iter().map(|v| vec![0.0; v.len()]).collect());
        if acc.len() != params.len() || acc.iter().zip(&params).any(|(a, b)| a.len() != b.len()) {
            return Err(Error::Model(format!(
                "network {} does not have the first network's architecture",
                k + 1
            )));
        }
        let w = weight / total;
        for (a, b) in acc.iter_mut().zip(&params) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += w * f64::from(*y);
            }
        }
    }
    let values = sum
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.into_iter().map(|x| x as f32).collect())
        .collect();
    let mut mapper = Replace {
        values,
        next: 0,
        error: None,
    };
    let out = (*first).clone().map(&mut mapper);
    match mapper.error {
        Some(e) => Err(Error::Model(format!("combining the weights: {e}"))),
        None => Ok(out),
    }
}

/// `base + lambda × (tuned − base)`, parameter by parameter: 0 gives the base, 1 the tuned
/// network (WiSE-FT's interpolation). [`Error::Model`] when the architectures differ or
/// `lambda` is not finite.
pub fn interpolate<M: Module>(base: &M, tuned: &M, lambda: f64) -> Result<M> {
    if !lambda.is_finite() {
        return Err(Error::Model(format!(
            "interpolation factor must be finite (got {lambda})"
        )));
    }
    weighted_average(&[(tuned, lambda), (base, 1.0 - lambda)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Device, ModelConfig, ZeroNs};

    fn net(seed: u64) -> ZeroNs {
        let device = Device::flex();
        device.seed(seed);
        match ZeroNs::new(&ModelConfig::lite(), &device) {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        }
    }

    fn flat(n: &ZeroNs) -> Vec<f32> {
        parameters(n).unwrap_or_default().concat()
    }

    #[test]
    fn interpolation_ends_are_the_two_networks_and_the_middle_is_their_mean() {
        let _rng = crate::test_rng_lock();
        let (a, b) = (net(1), net(2));
        let (fa, fb) = (flat(&a), flat(&b));
        assert!(!fa.is_empty() && fa != fb, "two different starts");
        let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-6);
        assert!(close(&flat(&interpolate(&a, &b, 0.0).unwrap()), &fa));
        assert!(close(&flat(&interpolate(&a, &b, 1.0).unwrap()), &fb));
        let mid = flat(&interpolate(&a, &b, 0.5).unwrap());
        let want: Vec<f32> = fa.iter().zip(&fb).map(|(p, q)| 0.5 * (p + q)).collect();
        assert!(close(&mid, &want));
        let quarter = flat(&interpolate(&a, &b, 0.25).unwrap());
        let want: Vec<f32> = fa
            .iter()
            .zip(&fb)
            .map(|(p, q)| p + 0.25 * (q - p))
            .collect();
        assert!(close(&quarter, &want));
    }

    #[test]
    fn mismatched_architectures_and_bad_weights_are_errors() {
        let _rng = crate::test_rng_lock();
        let a = net(1);
        let device = Device::flex();
        let grown = match ModelConfig::lite().with_extra_dilations(&[64]) {
            Ok(c) => ZeroNs::new(&c, &device).unwrap(),
            Err(e) => panic!("{e}"),
        };
        assert!(matches!(interpolate(&a, &grown, 0.5), Err(Error::Model(_))));
        assert!(matches!(
            interpolate(&a, &a, f64::NAN),
            Err(Error::Model(_))
        ));
        assert!(matches!(
            weighted_average(&[(&a, 1.0), (&a, -1.0)]),
            Err(Error::Model(_))
        ));
        assert!(matches!(
            weighted_average::<ZeroNs>(&[]),
            Err(Error::Model(_))
        ));
    }
}
