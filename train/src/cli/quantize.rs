//! `siamese-train quantize`: the fully integer form of a float model.

use super::{data_dir, preset, qlinear_form, read, Preset};
use anyhow::Result;
use siamese_train::train::load_split;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long, value_enum)]
    pub preset: Preset,
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    /// How many training samples to calibrate on (spread evenly over all of them).
    #[arg(long, default_value_t = 512)]
    pub calibration: usize,
}

pub fn run(a: Args) -> Result<()> {
    let Args { model, preset: p, data, out, calibration } = a;
    let cfg = preset(p);
    let data = data_dir(data)?;
    let (train_ids, _) = load_split(&data, &cfg)?;
    let bytes = read(&model)?;
    let q = qlinear_form(&bytes, &train_ids, &cfg.preprocess, calibration)?;
    std::fs::write(&out, &q)?;
    eprintln!("wrote {} ({} bytes)", out.display(), q.len());
    Ok(())
}
