//! The trainer's commands, one file each: its flags (`Args`, parsed by clap) and what it
//! does (`run`); what several share is here.

pub mod convert_faceapi;
pub mod eval;
pub mod operating_points;
pub mod preview;
pub mod quantize;
pub mod train;

use anyhow::{Context, Result};
use clap::ValueEnum;
use siamese_train::augment::plain_input;
use siamese_train::data::{shared_data_dir, Identity};
use siamese_train::eval::PairScores;
use siamese_train::export::read_f32_onnx;
use siamese_train::loss::{LossKind, LossParams};
use siamese_train::model::EncoderConfig;
use siamese_train::qlinear::{calibrate, to_qlinear_onnx};
use siamese_train::train::TrainConfig;
use siamese_wasm::face::FaceFinder;
use siamese_wasm::runtime::metadata::Preprocess;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, ValueEnum)]
pub enum Preset {
    /// Handwriting and signatures: Omniglot + SVC2004 + SigComp2011.
    Signature,
    /// Faces: AT&T + Extended Yale B.
    Face,
}

pub fn preset(p: Preset) -> TrainConfig {
    match p {
        Preset::Signature => TrainConfig {
            name: "signature".into(),
            datasets: [
                "omniglot",
                "svc2004/task2",
                "sigcomp2011",
                "cedar",
                "bhsig260-bengali",
                "cross-device-signatures",
            ]
            .map(String::from)
            .to_vec(),
            preprocess: Preprocess::ink(64, 128),
            encoder: EncoderConfig {
                height: 64,
                width: 128,
                channels: vec![16, 32, 64, 128],
                embedding_dim: 128,
            },
            loss: LossParams { kind: LossKind::Circle, margin: 0.25, scale: 32.0 },
            p: 24,
            k: 4,
            forgeries: 2,
            epochs: 20,
            steps_per_epoch: 100,
            lr: 2e-3,
            weight_decay: 1e-4,
            val_fraction: 0.25,
            seed: 7,
            turned_classes: vec!["omniglot".into()],
            mirrored_classes: vec!["omniglot".into()],
            // Omniglot's 700-odd training characters against about 200 signature writers:
            // a weight of 0.3 gives each half of the batches. A cross-device writer has
            // ten identities (one per name), so a tenth each counts the writer once.
            draw_weights: [
                ("omniglot".to_string(), 0.3),
                ("cross-device-signatures".to_string(), 0.1),
            ]
            .into(),
            val_samples_per_epoch: Some(1000),
        },
        Preset::Face => TrainConfig {
            name: "face".into(),
            datasets: vec!["att_faces".into(), "yaleb".into()],
            preprocess: Preprocess::face(64, 64),
            encoder: EncoderConfig {
                height: 64,
                width: 64,
                channels: vec![16, 32, 64, 128],
                embedding_dim: 128,
            },
            loss: LossParams { kind: LossKind::Circle, margin: 0.25, scale: 32.0 },
            p: 16,
            k: 4,
            forgeries: 0,
            epochs: 12,
            steps_per_epoch: 100,
            lr: 2e-3,
            weight_decay: 1e-4,
            val_fraction: 0.25,
            seed: 7,
            turned_classes: vec![],
            mirrored_classes: vec![],
            draw_weights: Default::default(),
            val_samples_per_epoch: None,
        },
    }
}

/// `--data`, or `../shared/data` where it exists.
pub fn data_dir(data: Option<PathBuf>) -> Result<PathBuf> {
    data.or_else(shared_data_dir).context("no --data and no ../shared/data")
}

pub fn pooled(scores: &[(String, PairScores)]) -> PairScores {
    let mut p = PairScores { genuine: vec![], random: vec![], skilled: vec![] };
    for (_, s) in scores {
        p.genuine.extend(&s.genuine);
        p.random.extend(&s.random);
        p.skilled.extend(&s.skilled);
    }
    p
}

/// The fully integer form of the float model `f32_bytes`, calibrated on `n` samples spread
/// evenly over the training identities (plain inputs, no augmentation).
pub fn qlinear_form(
    f32_bytes: &[u8],
    train_ids: &[Identity],
    preprocess: &Preprocess,
    n: usize,
) -> Result<Vec<u8>> {
    let (net, meta) = read_f32_onnx(f32_bytes)?;
    let samples: Vec<_> = train_ids.iter().flat_map(|i| &i.samples).collect();
    let step = (samples.len() / n.max(1)).max(1);
    let inputs = samples
        .iter()
        .step_by(step)
        .take(n)
        .map(|s| plain_input(s, preprocess))
        .collect::<Result<Vec<_>>>()?;
    let ranges = calibrate(f32_bytes, net.convs.len(), &inputs)?;
    eprintln!("calibrated on {} training samples: {ranges:?}", inputs.len());
    Ok(to_qlinear_onnx(&net, &ranges, &meta))
}

/// The face finder of `--detector` and `--landmarks`, when given.
pub fn face_finder(
    detector: Option<PathBuf>,
    landmarks: Option<PathBuf>,
) -> Result<Option<FaceFinder>> {
    Ok(match (detector, landmarks) {
        (Some(d), Some(l)) => Some(FaceFinder::from_bytes(&read(&d)?, &read(&l)?)?),
        _ => None,
    })
}

/// The bytes of the file at `p`, or an error that names it.
pub fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}
