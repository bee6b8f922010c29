//! `siamese-train preview`: a PNG grid of what the encoder sees.

use super::{preset, Preset};
use anyhow::Result;
use siamese_train::augment::{augmented_input, plain_input};
use siamese_train::data::read_identities;
use siamese_train::train::dataset_prefix;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum)]
    pub preset: Preset,
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 6)]
    pub identities: usize,
    /// Draw Omniglot's strokes rather than its pictures.
    #[arg(long)]
    pub strokes: bool,
}

pub fn run(a: Args) -> Result<()> {
    let Args { preset: p, data, out, identities, strokes } = a;
    let cfg = preset(p).preprocess;
    let mut ids = read_identities(&data, &dataset_prefix(&data))?;
    ids.truncate(identities);
    if strokes {
        ids.iter_mut()
            .flat_map(|i| i.samples.iter_mut())
            .filter(|s| s.strokes.is_some())
            .for_each(|s| s.image = None);
    }
    let mut rng = rand::thread_rng();
    let (h, w, cols) = (cfg.height, cfg.width, 6);
    let mut grid = image::GrayImage::new((w * cols) as u32, (h * ids.len()) as u32);
    for (r, id) in ids.iter().enumerate() {
        for c in 0..cols {
            let s = &id.samples[c.min(id.samples.len() - 1) % id.samples.len()];
            let x = if c < 3 { plain_input(s, &cfg)? } else { augmented_input(s, &cfg, &mut rng)? };
            let (lo, hi) = x.iter().fold((f32::MAX, f32::MIN), |a, &v| (a.0.min(v), a.1.max(v)));
            for (k, v) in x.iter().enumerate() {
                let g = ((v - lo) / (hi - lo).max(1e-6) * 255.0) as u8;
                grid.put_pixel(
                    (c * w + k % w) as u32,
                    (r * h + k / w) as u32,
                    image::Luma([255 - g]),
                );
            }
        }
    }
    grid.save(&out)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
