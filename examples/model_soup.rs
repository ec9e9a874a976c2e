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

use zerons::model::soup::weighted_average;
use zerons::model::{load_model, save_model};

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
    let mut models = Vec::new();
    for (path, _) in &ingredients {
        models.push(load_model(path).map_err(|e| format!("{path}: {e}"))?);
    }
    let weighted: Vec<_> = models
        .iter()
        .zip(&ingredients)
        .map(|(m, (_, w))| (&m.network, *w))
        .collect();
    let network = weighted_average(&weighted)?;
    let mut model = models.swap_remove(0);
    model.network = network;
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
