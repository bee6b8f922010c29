//! `siamese-train operating-points`: measure named thresholds on validation writers and write them into models.

use super::{data_dir, face_finder, preset, read, Preset};
use anyhow::Result;
use siamese_train::data::read_split;
use siamese_train::eval::{
    align_faces, embed_identities, template_scores, PairScores, TractEmbedder,
};
use siamese_train::operating::{macro_curve, operating_points, with_operating_points};
use siamese_train::train::{dataset_prefix, drop_unusable, TrainConfig};
use siamese_wasm::face::FaceFinder;
use siamese_wasm::verify::calibrate::rates_at;
use siamese_wasm::verify::gallery::TemplateScoring;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, required = true, num_args = 1..)]
    pub model: Vec<PathBuf>,
    #[arg(long, value_enum)]
    pub preset: Preset,
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value_t = 5)]
    pub enrol: usize,
    #[arg(long, default_value = "far1")]
    pub default: String,
    /// Face pictures: the aligned crop of each picture's largest face, found by this
    /// detector (and --landmarks), as the library embeds them with `options.faces`.
    #[arg(long, requires = "landmarks")]
    pub detector: Option<PathBuf>,
    #[arg(long, requires = "detector")]
    pub landmarks: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    let data = data_dir(a.data)?;
    let faces = face_finder(a.detector, a.landmarks)?;
    let cfg = preset(a.preset);
    a.model
        .iter()
        .try_for_each(|m| measure_and_write(m, &cfg, &data, a.enrol, &a.default, faces.as_ref()))
}

/// Template scores of each of `cfg`'s datasets' validation identities for `model`.
fn validation_template_scores(
    embedder: &TractEmbedder,
    cfg: &TrainConfig,
    data: &Path,
    enrol: usize,
    faces: Option<&FaceFinder>,
) -> Result<Vec<(String, PairScores)>> {
    let mut out = vec![];
    for d in &cfg.datasets {
        let dir = data.join(d);
        let (_, val) =
            read_split(&dir, &dataset_prefix(&dir), cfg.val_fraction, cfg.seed, |ids| ids)?;
        let val = match faces {
            Some(f) => {
                let (aligned, missed) = align_faces(val, f);
                eprintln!("{d}: no face found in {missed} validation pictures (left out)");
                aligned
            }
            None => drop_unusable(val, &embedder.0.meta.preprocess),
        };
        let set = embed_identities(&val, &embedder.0.meta.preprocess, embedder)?;
        // A set with fewer samples per identity (cross-device: four) enrols all but one.
        let k = enrol
            .min(set.iter().map(|e| e.genuine.len()).min().unwrap_or(1).saturating_sub(1))
            .max(1);
        if k < enrol {
            eprintln!("{d}: templates of {k} (its identities have {} samples)", k + 1);
        }
        out.push((d.clone(), template_scores(&set, k, TemplateScoring::default())));
    }
    Ok(out)
}

fn measure_and_write(
    model: &Path,
    cfg: &TrainConfig,
    data: &Path,
    enrol: usize,
    default: &str,
    faces: Option<&FaceFinder>,
) -> Result<()> {
    let bytes = read(model)?;
    let embedder = TractEmbedder(siamese_train::eval::load_encoder(&bytes)?);
    let sets = validation_template_scores(&embedder, cfg, data, enrol, faces)?;
    // Against skilled forgeries where the data has them (signatures); else against other
    // people (faces).
    let has_skilled = sets.iter().any(|(_, s)| !s.skilled.is_empty());
    let used: Vec<(&String, &PairScores)> = sets
        .iter()
        .filter(|(_, s)| !s.genuine.is_empty() && (!has_skilled || !s.skilled.is_empty()))
        .map(|(n, s)| (n, s))
        .collect();
    let names: Vec<&str> = used.iter().map(|(n, _)| n.as_str()).collect();
    let queries: usize = used.iter().map(|(_, s)| s.genuine.len()).sum();
    let used_scores: Vec<&PairScores> = used.iter().map(|(_, s)| *s).collect();
    let curve = if has_skilled {
        macro_curve(&used_scores, |s| &s.skilled)
    } else {
        macro_curve(&used_scores, |s| &s.random)
    };
    let kind = if has_skilled {
        "skilled forgeries of the validation writers"
    } else {
        "other people among the validation subjects"
    };
    let description = format!(
        "{kind} of {} (each set weighted equally; {queries} genuine queries), templates of {enrol}",
        names.join(", ")
    );
    let points = operating_points(&curve, default, description)?;
    for p in &points.points {
        eprintln!(
            "{}: threshold {:.4}, FAR {:.2}%, FRR {:.2}% (mean over sets)",
            p.name,
            p.threshold,
            p.far * 100.0,
            p.frr * 100.0
        );
        for (name, s) in &sets {
            let g = rates_at(&s.genuine, &s.skilled, p.threshold);
            let r = rates_at(&s.genuine, &s.random, p.threshold);
            eprintln!("    {name:<26} skilled accepted {:>6.2}%  random accepted {:>6.2}%  genuine rejected {:>6.2}%", g.far * 100.0, r.far * 100.0, g.frr * 100.0);
        }
    }
    std::fs::write(model, with_operating_points(&bytes, points)?)?;
    eprintln!("wrote the operating points into {}", model.display());
    Ok(())
}
