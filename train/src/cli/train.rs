//! `siamese-train train`: train an encoder, write it as int8, f32 and fully integer ONNX.

use super::{data_dir, face_finder, pooled, preset, qlinear_form, Preset};
use anyhow::{bail, Context, Result};
use siamese_train::eval::align_faces;
use siamese_train::export::{fold, to_onnx, WeightFormat};
use siamese_train::loss::LossKind;
use siamese_train::train::{load_split, train, TrainConfig};
use siamese_wasm::face::FaceFinder;
use siamese_wasm::runtime::metadata::ModelMetadata;
use siamese_wasm::verify::calibrate::eer;
use siamese_wasm::verify::metrics::Metric;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// A JSON TrainConfig (see `--print-config`); flags below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data root holding the datasets' folders (default ../shared/data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub steps: Option<usize>,
    #[arg(long, value_enum)]
    pub loss: Option<LossKind>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the resolved config and stop.
    #[arg(long)]
    pub print_config: bool,
    /// Face pictures: train and validate on the aligned crop of each picture's largest
    /// face, found by this detector (and --landmarks), as the library embeds them when
    /// loaded with `options.faces`; pictures without a face found are left out.
    #[arg(long, requires = "landmarks")]
    pub detector: Option<PathBuf>,
    #[arg(long, requires = "detector")]
    pub landmarks: Option<PathBuf>,
}

impl Args {
    /// The config: `--config`'s file or `--preset`'s, with the flags applied over it.
    fn config(&self) -> Result<TrainConfig> {
        let mut cfg = match (&self.config, self.preset) {
            (Some(path), _) => serde_json::from_str(&std::fs::read_to_string(path)?)
                .with_context(|| format!("parsing {}", path.display()))?,
            (None, Some(p)) => preset(p),
            (None, None) => bail!("give --preset or --config"),
        };
        if let Some(e) = self.epochs {
            cfg.epochs = e;
        }
        if let Some(s) = self.steps {
            cfg.steps_per_epoch = s;
        }
        if let Some(l) = self.loss {
            cfg.loss.kind = l;
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        Ok(cfg)
    }
}

pub fn run(a: Args) -> Result<()> {
    let cfg = a.config()?;
    if a.print_config {
        println!("{}", serde_json::to_string_pretty(&cfg)?);
        return Ok(());
    }
    let data = data_dir(a.data)?;
    let faces = face_finder(a.detector, a.landmarks)?;
    train_and_write(cfg, &data, &a.out, faces.as_ref())
}

fn train_and_write(
    cfg: TrainConfig,
    data: &Path,
    out: &Path,
    faces: Option<&FaceFinder>,
) -> Result<()> {
    let (mut train_ids, mut val) = load_split(data, &cfg)?;
    if let Some(finder) = faces {
        let align = |ids, what: &str| {
            let (ids, missed) = align_faces(ids, finder);
            eprintln!("faces aligned: none found in {missed} {what} pictures (left out)");
            ids
        };
        train_ids = align(train_ids, "training");
        for set in &mut val {
            *set = align(std::mem::take(set), "validation");
        }
    }
    let stem = out.with_extension("");
    // Logs go to runs/ (not committed: figures derived from the data stay out of the repo).
    std::fs::create_dir_all("runs")?;
    let log_path = PathBuf::from(format!("runs/{}.train-log.json", cfg.name));
    eprintln!(
        "encoder: {:?}, {:.1} MFLOPs per embedding",
        cfg.encoder,
        cfg.encoder.flops() as f64 / 1e6
    );
    let trained = train(&cfg, &train_ids, &val, Some(&log_path))?;
    // The threshold: the EER point of all validation pairs pooled.
    let pooled = pooled(&trained.val_scores);
    let impostors: Vec<f32> = pooled.random.iter().chain(&pooled.skilled).copied().collect();
    let cal = eer(&pooled.genuine, &impostors);
    let n_train: usize = train_ids.len();
    let meta = ModelMetadata {
        name: cfg.name.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        preprocess: cfg.preprocess,
        embedding_dim: cfg.encoder.embedding_dim,
        metric: Metric::Cosine,
        threshold: cal.threshold,
        training_data: format!(
            "{} training identities from {}{}{}{} (identity-disjoint split: {:.0}% of each set's identities held out, seed {}); {:?} loss; best epoch {} of {}",
            n_train,
            cfg.datasets.join(", "),
            if faces.is_some() { ", faces found and aligned" } else { "" },
            if cfg.turned_classes.is_empty() { String::new() } else { format!(", {}'s also turned by 90, 180 and 270 degrees as new identities", cfg.turned_classes.join(", ")) },
            if cfg.mirrored_classes.is_empty() { String::new() } else { format!(", {}'s also mirrored as new identities", cfg.mirrored_classes.join(", ")) },
            cfg.val_fraction * 100.0,
            cfg.seed,
            cfg.loss.kind,
            trained.best_epoch,
            cfg.epochs
        ),
        operating_points: None,
    };
    let net = fold(&trained.model, &cfg.encoder);
    let f32_path = stem.with_extension("f32.onnx");
    let f32_bytes = to_onnx(&net, WeightFormat::F32, &meta);
    std::fs::write(&f32_path, &f32_bytes)?;
    std::fs::write(out, to_onnx(&net, WeightFormat::Int8, &meta))?;
    // The fully integer form, measured against the shipped weight-only form (model card).
    std::fs::write(
        stem.with_extension("qlinear.onnx"),
        qlinear_form(&f32_bytes, &train_ids, &cfg.preprocess, 512)?,
    )?;
    std::fs::write(
        format!("runs/{}.train-config.json", cfg.name),
        serde_json::to_string_pretty(&cfg)?,
    )?;
    eprintln!(
        "best epoch {}; validation EER (pooled) {:.2}% at threshold {:.4}",
        trained.best_epoch,
        cal.eer * 100.0,
        cal.threshold
    );
    eprintln!(
        "wrote {} ({} bytes) and {} ({} bytes)",
        out.display(),
        std::fs::metadata(out)?.len(),
        f32_path.display(),
        std::fs::metadata(&f32_path)?.len()
    );
    Ok(())
}
