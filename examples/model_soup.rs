//! A "model soup" (Wortsman et al., ICML 2022: the weights of models fine-tuned from one
//! start, averaged): every float parameter of the first model replaced by the weighted mean of
//! that parameter over all the given models, which must share the architecture. The first
//! model's description and bar classifier are kept; the provenance notes the ingredients.
//!
//! ```sh
//! cargo run --release --example model_soup -- OUT_DIR MODEL_A[=WEIGHT] MODEL_B[=WEIGHT] ...
//! ```
//!
//! A study tool for issue 18's candidates (both shipped-model candidates start from lite v1);
//! a soup is a candidate like any other (`scripts/DEVSET.md` rules 7 and 8).

use std::path::PathBuf;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use zerons::model::{load_model, save_model};

/// Collects every float parameter's values, in the module's visiting order.
struct Collect(Vec<Vec<f32>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = param
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        self.0.push(values);
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
        let Some(values) = self.values.get(i) else {
            self.error = Some(format!("parameter {i} missing"));
            return param;
        };
        let tensor = param.val();
        let shape = tensor.dims();
        if shape.iter().product::<usize>() != values.len() {
            self.error = Some(format!("parameter {i}: shape {shape:?} does not fit"));
            return param;
        }
        let device = tensor.device();
        let data = TensorData::new(values.clone(), shape);
        param.map(|_| Tensor::<D>::from_data(data, &device))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: model_soup OUT MODEL[=W] MODEL[=W] ...")?,
    );
    let mut ingredients = Vec::new();
    for a in args {
        let (path, weight) = match a.rsplit_once('=') {
            Some((p, w)) => (p.to_string(), w.parse::<f64>()?),
            None => (a.clone(), 1.0),
        };
        ingredients.push((path, weight));
    }
    if ingredients.len() < 2 {
        return Err("a soup needs at least two models".into());
    }
    let total: f64 = ingredients.iter().map(|(_, w)| w).sum();
    let mut sum: Option<Vec<Vec<f64>>> = None;
    let mut first = None;
    for (path, weight) in &ingredients {
        let model = load_model(path).map_err(|e| format!("{path}: {e}"))?;
        let mut c = Collect(Vec::new());
        model.network.visit(&mut c);
        let acc = sum.get_or_insert_with(|| c.0.iter().map(|v| vec![0.0; v.len()]).collect());
        if acc.len() != c.0.len() || acc.iter().zip(&c.0).any(|(a, b)| a.len() != b.len()) {
            return Err(format!("{path}: not the first model's architecture").into());
        }
        for (a, b) in acc.iter_mut().zip(&c.0) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += weight / total * f64::from(*y);
            }
        }
        if first.is_none() {
            first = Some(model);
        }
    }
    let (Some(mut model), Some(sum)) = (first, sum) else {
        return Err("no model".into());
    };
    let mut mapper = Replace {
        values: sum
            .into_iter()
            .map(|v| v.into_iter().map(|x| x as f32).collect())
            .collect(),
        next: 0,
        error: None,
    };
    model.network = model.network.map(&mut mapper);
    if let Some(e) = mapper.error {
        return Err(e.into());
    }
    let recipe: Vec<String> = ingredients
        .iter()
        .map(|(p, w)| format!("{p} × {:.3}", w / total))
        .collect();
    let notes = model.manifest.provenance.notes.take().unwrap_or_default();
    model.manifest.provenance.notes = Some(format!(
        "model soup (weights averaged) of {}; first ingredient's notes: {notes}",
        recipe.join(", ")
    ));
    model.manifest.parent_id = None;
    model.manifest.name = None;
    let manifest = save_model(&model, &out)?;
    println!("{} -> {}", recipe.join(" + "), manifest.id);
    Ok(())
}
