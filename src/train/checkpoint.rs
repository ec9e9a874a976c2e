//! Training checkpoints shared by the resumable loops ([`super::syncpred`], [`super::base`]):
//! a model directory (`MODEL.json` + `model.bpk`), optionally the Adam state (`optim.bpk`),
//! and the loop's own state (`state.json`), replaced as a whole through a sibling temporary
//! directory so that a run killed mid-write still has its previous checkpoint.

use std::fs;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::model::{LoadedModel, save_model};
use crate::{Error, Result};

/// The loop's state in a checkpoint directory.
pub(crate) const STATE_FILE: &str = "state.json";
/// The optimiser's state in a checkpoint directory.
pub(crate) const OPTIM_FILE: &str = "optim.bpk";

/// Writes `model`, `optim` (if given) and `state_json` as the checkpoint `dir`; `extra`
/// writes whatever else the loop keeps (a training-only head) into the new directory first.
pub(crate) fn write_checkpoint(
    dir: &Path,
    model: &LoadedModel,
    optim: Option<&burn::optim::ModuleOptimizer>,
    state_json: &[u8],
    extra: &dyn Fn(&Path) -> Result<()>,
) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    save_model(model, &tmp)?;
    if let Some(optim) = optim {
        optim
            .save(tmp.join(OPTIM_FILE))
            .map_err(|e| Error::InvalidInput(format!("cannot save the optimiser: {e:?}")))?;
    }
    extra(&tmp)?;
    fs::write(tmp.join(STATE_FILE), state_json).map_err(|e| Error::io(&tmp, e))?;
    let old = dir.with_extension("old");
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    if dir.exists() {
        fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
    }
    fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(())
}

/// Reads the `state.json` of the checkpoint `dir`.
pub(crate) fn read_state<T: DeserializeOwned>(dir: &Path) -> Result<T> {
    let path = dir.join(STATE_FILE);
    let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Parse {
        path,
        line: 0,
        detail: e.to_string(),
    })
}
