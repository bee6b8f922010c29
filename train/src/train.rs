//! The training loop: P x K batches, augmentation, online mining, Adam with a cosine
//! learning-rate schedule, per-epoch validation on held-out identities, and export of
//! the best epoch to ONNX.

use crate::augment::augmented_input;
use crate::data::{read_split, with_mirrored_copies, with_turned_copies, Identity};
use crate::eval::{embed_identities, pair_scores, Embedder, PairScores};
use crate::loss::{compute, LossParams};
use crate::model::{Encoder, EncoderConfig};
use crate::sampler::PkSampler;
use anyhow::{Context, Result};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use siamese_wasm::runtime::metadata::Preprocess;
use siamese_wasm::verify::calibrate::eer;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    pub name: String,
    /// Dataset folders, relative to the data root.
    pub datasets: Vec<String>,
    pub preprocess: Preprocess,
    pub encoder: EncoderConfig,
    pub loss: LossParams,
    /// Identities per batch, genuine samples per identity, forgeries per identity.
    pub p: usize,
    pub k: usize,
    pub forgeries: usize,
    pub epochs: usize,
    pub steps_per_epoch: usize,
    pub lr: f64,
    pub weight_decay: f32,
    /// Fraction of each dataset's identities (Omniglot: alphabets) held out.
    pub val_fraction: f64,
    pub seed: u64,
    /// Datasets whose training identities also count turned by one, two and three quarter
    /// turns, as new identities ([`crate::data::with_turned_copies`]; Omniglot's characters).
    #[serde(default)]
    pub turned_classes: Vec<String>,
    /// Datasets whose training identities (turned copies included) also count mirrored, as
    /// new identities ([`crate::data::with_mirrored_copies`]).
    #[serde(default)]
    pub mirrored_classes: Vec<String>,
    /// How often batches draw each training identity of a dataset, relative to an
    /// identity of weight 1 (the default): sets a dataset's share of the batches.
    #[serde(default)]
    pub draw_weights: std::collections::BTreeMap<String, f64>,
    /// Validating every epoch (to pick the best one) on at most about this many samples of
    /// each dataset: every n-th validation identity. None: all of them.
    #[serde(default)]
    pub val_samples_per_epoch: Option<usize>,
}

/// Every n-th identity of `ids`, n chosen so that about `cap` samples remain.
pub fn thinned(ids: &[Identity], cap: Option<usize>) -> Vec<Identity> {
    let total: usize = ids.iter().map(|i| i.samples.len()).sum();
    let every = cap.map_or(1, |c| total.div_ceil(c.max(1)).max(1));
    ids.iter().step_by(every).cloned().collect()
}

/// The prefix that keeps identity names of different datasets apart: the folder's name.
pub fn dataset_prefix(dir: &Path) -> String {
    format!("{}/", dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default())
}

/// Reads each of the config's datasets and splits it by identity with its fraction and
/// seed; training identities of its `turned_classes` and `mirrored_classes` get their
/// turned and mirrored copies.
pub fn load_split(
    data_root: &Path,
    cfg: &TrainConfig,
) -> Result<(Vec<Identity>, Vec<Vec<Identity>>)> {
    let mut train = vec![];
    let mut val = vec![];
    for d in &cfg.datasets {
        let dir = data_root.join(d);
        let (mut t, v) =
            read_split(&dir, &dataset_prefix(&dir), cfg.val_fraction, cfg.seed, |ids| {
                drop_unusable(ids, &cfg.preprocess)
            })
            .with_context(|| format!("reading {}", dir.display()))?;
        if cfg.turned_classes.contains(d) {
            t = with_turned_copies(t);
        }
        if cfg.mirrored_classes.contains(d) {
            t = with_mirrored_copies(t);
        }
        if let Some(w) = cfg.draw_weights.get(d) {
            t.iter_mut().for_each(|i| i.draw_weight *= w);
        }
        eprintln!(
            "{d}: {} training identities ({} samples), {} validation identities ({} samples)",
            t.len(),
            t.iter().map(|i| i.samples.len()).sum::<usize>(),
            v.len(),
            v.iter().map(|i| i.samples.len()).sum::<usize>()
        );
        train.extend(t);
        val.push(v);
    }
    Ok((train, val))
}

/// Drops samples with nothing to encode (a blank scan, an empty trajectory), saying so,
/// so one bad file cannot stop a long run.
pub fn drop_unusable(mut ids: Vec<Identity>, cfg: &Preprocess) -> Vec<Identity> {
    for id in &mut ids {
        id.samples.retain(|s| match crate::augment::plain_input(s, cfg) {
            Ok(_) => true,
            Err(e) => {
                eprintln!("skipping {}: {e}", s.origin);
                false
            }
        });
    }
    ids
}

/// Embeds with a burn encoder, in evaluation mode.
pub struct BurnEmbedder<'a> {
    pub model: &'a Encoder,
    pub config: &'a EncoderConfig,
    pub device: Device,
}

impl Embedder for BurnEmbedder<'_> {
    fn embed(&self, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        let (h, w, d) = (self.config.height, self.config.width, self.config.embedding_dim);
        let flat: Vec<f32> = inputs.iter().flatten().copied().collect();
        let x =
            Tensor::<4>::from_data(TensorData::new(flat, [inputs.len(), 1, h, w]), &self.device);
        let e = self
            .model
            .forward(x)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(e.chunks(d).map(|c| c.to_vec()).collect())
    }
}

/// Pair scores per validation dataset, with its name.
pub type DatasetScores = Vec<(String, PairScores)>;

pub struct Trained {
    pub model: Encoder,
    /// Per validation dataset: its name and pair scores of the best epoch.
    pub val_scores: DatasetScores,
    pub best_epoch: usize,
    pub log: Vec<EpochLog>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub loss: f32,
    pub active: f32,
    pub mean_pos_dist: f32,
    pub mean_neg_dist: f32,
    pub lr: f64,
    pub val_eer: Vec<(String, f64)>,
    pub seconds: f64,
}

fn lr_at(cfg: &TrainConfig, step: usize, total: usize) -> f64 {
    // Short linear warm-up, then cosine decay to 5% of the peak.
    let warm = (total / 50).max(1);
    if step < warm {
        return cfg.lr * (step + 1) as f64 / warm as f64;
    }
    let t = (step - warm) as f64 / (total - warm).max(1) as f64;
    cfg.lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

pub fn validate(
    model: &Encoder,
    cfg: &TrainConfig,
    val: &[Vec<Identity>],
    device: &Device,
) -> Result<DatasetScores> {
    let valid = model.valid();
    let embedder = BurnEmbedder { model: &valid, config: &cfg.encoder, device: device.clone() };
    let mut out = vec![];
    for (name, ids) in cfg.datasets.iter().zip(val) {
        let set = embed_identities(ids, &cfg.preprocess, &embedder)?;
        out.push((name.clone(), pair_scores(&set, cfg.seed)));
    }
    Ok(out)
}

pub fn train(
    cfg: &TrainConfig,
    train_ids: &[Identity],
    val: &[Vec<Identity>],
    log_path: Option<&PathBuf>,
) -> Result<Trained> {
    let device = Device::default().autodiff();
    device.seed(cfg.seed);
    let mut model = Encoder::new(&cfg.encoder, &device);
    let mut optim = AdamConfig::new()
        .with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(cfg.weight_decay)))
        .init();
    let sampler = PkSampler::new(train_ids, cfg.p, cfg.k, cfg.forgeries);
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let total = cfg.epochs * cfg.steps_per_epoch;
    let mut best: Option<(f64, usize, Encoder, DatasetScores)> = None;
    let mut log = vec![];
    let eval_device = Device::default();
    let val: Vec<Vec<Identity>> =
        val.iter().map(|v| thinned(v, cfg.val_samples_per_epoch)).collect();
    let val = &val[..];
    for epoch in 1..=cfg.epochs {
        let start = Instant::now();
        let bar = ProgressBar::new(cfg.steps_per_epoch as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({eta})")
                .unwrap()
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epoch}/{}", cfg.epochs));
        let (mut sum_loss, mut sum_active, mut sum_pos, mut sum_neg) =
            (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for step in 0..cfg.steps_per_epoch {
            let global = (epoch - 1) * cfg.steps_per_epoch + step;
            let (picks, labels) = sampler.batch(&mut rng);
            let seeds: Vec<u64> = picks.iter().map(|_| rng.gen()).collect();
            let inputs: Vec<Vec<f32>> = picks
                .par_iter()
                .zip(&seeds)
                .map(|(&(i, j), &s)| {
                    augmented_input(
                        &train_ids[i].samples[j],
                        &cfg.preprocess,
                        &mut rand::rngs::StdRng::seed_from_u64(s),
                    )
                })
                .collect::<Result<_>>()?;
            let n = inputs.len();
            let flat: Vec<f32> = inputs.into_iter().flatten().collect();
            let x = Tensor::<4>::from_data(
                TensorData::new(flat, [n, 1, cfg.encoder.height, cfg.encoder.width]),
                &device,
            );
            let out = compute(&cfg.loss, model.forward(x), &labels);
            let loss_value: f32 = out.loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(out.loss.backward(), &model);
            let lr = lr_at(cfg, global, total);
            model = optim.step(lr, model, grads);
            sum_loss += loss_value;
            sum_active += out.active;
            sum_pos += out.mean_pos_dist;
            sum_neg += out.mean_neg_dist;
            bar.set_message(format!(
                "loss {:.4} active {:.2} d+ {:.3} d- {:.3}",
                sum_loss / (step + 1) as f32,
                sum_active / (step + 1) as f32,
                sum_pos / (step + 1) as f32,
                sum_neg / (step + 1) as f32
            ));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let scores = validate(&model, cfg, val, &eval_device)?;
        let val_eer: Vec<(String, f64)> = scores
            .iter()
            .map(|(name, s)| {
                let imp: Vec<f32> = s.random.iter().chain(&s.skilled).copied().collect();
                (name.clone(), eer(&s.genuine, &imp).eer)
            })
            .collect();
        let mean_eer = val_eer.iter().map(|(_, e)| e).sum::<f64>() / val_eer.len() as f64;
        let steps = cfg.steps_per_epoch as f32;
        let entry = EpochLog {
            epoch,
            loss: sum_loss / steps,
            active: sum_active / steps,
            mean_pos_dist: sum_pos / steps,
            mean_neg_dist: sum_neg / steps,
            lr: lr_at(cfg, epoch * cfg.steps_per_epoch - 1, total),
            val_eer: val_eer.clone(),
            seconds: start.elapsed().as_secs_f64(),
        };
        eprintln!(
            "epoch {epoch:>3}  loss {:.4}  active {:.3}  d+ {:.3}  d- {:.3}  lr {:.2e}  val EER {}  ({:.0}s)",
            entry.loss,
            entry.active,
            entry.mean_pos_dist,
            entry.mean_neg_dist,
            entry.lr,
            val_eer.iter().map(|(n, e)| format!("{n} {:.2}%", e * 100.0)).collect::<Vec<_>>().join(", "),
            entry.seconds
        );
        log.push(entry);
        if let Some(p) = log_path {
            std::fs::write(p, serde_json::to_string_pretty(&log)?)?;
        }
        if best.as_ref().is_none_or(|b| mean_eer <= b.0) {
            best = Some((mean_eer, epoch, model.clone(), scores));
        }
    }
    let (_, best_epoch, model, val_scores) = best.context("no epochs")?;
    Ok(Trained { model: model.valid(), val_scores, best_epoch, log })
}
