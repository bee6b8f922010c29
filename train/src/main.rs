//! `siamese-train`: trains, evaluates and exports siamese-wasm's encoders.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use siamese_train::augment::{augmented_input, plain_input};
use siamese_train::data::Identity;
use siamese_train::data::{
    detect_layout, read_all, read_identities, read_oneshot_runs, read_split, shared_data_dir,
    split_by_identity, Layout,
};
use siamese_train::eval::align_faces;
use siamese_train::eval::{
    at_operating_points, dynamics_report, embed_identities, joint_scores, oneshot_accuracy,
    pair_scores, runs_accuracy, template_scores, trajectories, verify_report, write_plots,
    PairScores, Report, TractEmbedder,
};
use siamese_train::export::{fold, read_f32_onnx, to_onnx, WeightFormat};
use siamese_train::faceapi::{
    detector_onnx, landmarks_onnx, recognition_onnx, WeightMap, RECOGNITION_SIZE,
};
use siamese_train::loss::{LossKind, LossParams};
use siamese_train::model::EncoderConfig;
use siamese_train::operating::{macro_curve, operating_points, with_operating_points};
use siamese_train::qlinear::{calibrate, to_qlinear_onnx};
use siamese_train::train::{dataset_prefix, drop_unusable, load_split, train, TrainConfig};
use siamese_wasm::face::FaceFinder;
use siamese_wasm::runtime::encoder::Encoder as TractEncoder;
use siamese_wasm::runtime::metadata::{ModelMetadata, Preprocess};
use siamese_wasm::verify::calibrate::{eer, rates_at};
use siamese_wasm::verify::gallery::TemplateScoring;
use siamese_wasm::verify::metrics::Metric;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "siamese-train", about = "Train, evaluate and export siamese-wasm encoders")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Preset {
    /// Handwriting and signatures: Omniglot + SVC2004 + SigComp2011.
    Signature,
    /// Faces: AT&T + Extended Yale B.
    Face,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Protocol {
    Verify,
    Oneshot,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Split {
    /// Every identity in DIR (held-out data).
    All,
    /// The validation identities training held out (same fraction and seed).
    Val,
    Train,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train an encoder and write it as int8 (OUT) and f32 (OUT with .f32.onnx) ONNX.
    Train {
        #[arg(long, value_enum)]
        preset: Option<Preset>,
        /// A JSON TrainConfig (see `--print-config`); flags below override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data root holding the datasets' folders (default ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        epochs: Option<usize>,
        #[arg(long)]
        steps: Option<usize>,
        #[arg(long, value_enum)]
        loss: Option<LossKind>,
        #[arg(long)]
        seed: Option<u64>,
        /// Print the resolved config and stop.
        #[arg(long)]
        print_config: bool,
        /// Face pictures: train and validate on the aligned crop of each picture's largest
        /// face, found by this detector (and --landmarks), as the library embeds them when
        /// loaded with `options.faces`; pictures without a face found are left out.
        #[arg(long, requires = "landmarks")]
        detector: Option<PathBuf>,
        #[arg(long, requires = "detector")]
        landmarks: Option<PathBuf>,
    },
    /// Write a PNG grid of model inputs (rows: identities; plain, then augmented), to see
    /// what the encoder sees.
    Preview {
        #[arg(long, value_enum)]
        preset: Preset,
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 6)]
        identities: usize,
        /// Draw Omniglot's strokes rather than its pictures.
        #[arg(long)]
        strokes: bool,
    },
    /// Write the fully integer form (QLinearConv, u8 activations, i8 per-channel weights) of
    /// a float model (`.f32.onnx`), its ranges calibrated on the preset's training identities.
    Quantize {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, value_enum)]
        preset: Preset,
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// How many training samples to calibrate on (spread evenly over all of them).
        #[arg(long, default_value_t = 512)]
        calibration: usize,
    },
    /// Evaluate an ONNX encoder on a dataset folder.
    Eval {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// Evaluate each of these folders of --data apart (comma-separated), reported under
        /// `per_dataset`.
        #[arg(long, value_delimiter = ',')]
        datasets: Vec<String>,
        #[arg(long, value_enum, default_value = "verify")]
        protocol: Protocol,
        #[arg(long)]
        json: Option<PathBuf>,
        /// Where to write the ROC and histogram SVGs (default: next to --json).
        #[arg(long)]
        plots: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "all")]
        split: Split,
        #[arg(long, default_value_t = 0.25)]
        val_fraction: f64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        #[arg(long, default_value_t = 20)]
        ways: usize,
        #[arg(long, default_value_t = 1)]
        shots: usize,
        #[arg(long, default_value_t = 400)]
        episodes: usize,
        /// Verify queries against templates of this many enrolled genuine samples per
        /// identity (as the library does) instead of all sample pairs.
        #[arg(long)]
        enrol: Option<usize>,
        /// With --enrol: how a query is scored against the enrolled samples (centroid,
        /// mean-of-scores, max-of-scores, centroid-minus-spread, centroid-over-agreement).
        #[arg(long, default_value = "centroid", value_parser = parse_scoring)]
        template_scoring: TemplateScoring,
        /// Online signatures (every sample timed pen strokes): also report the motion
        /// (DTW) figures and the library's joint appearance-and-motion rule.
        #[arg(long)]
        dynamics: bool,
        /// Face pictures: find the largest face with this detector (and --landmarks) and
        /// evaluate its aligned crop, as the library does.
        #[arg(long, requires = "landmarks")]
        detector: Option<PathBuf>,
        #[arg(long, requires = "detector")]
        landmarks: Option<PathBuf>,
    },
    /// Measure operating points (the skilled-forgery EER point, FAR 1% and FAR 0.1%) on the
    /// preset's validation writers, scored as the library verifies (a template of --enrol
    /// samples per writer), and write them into each model's metadata, its threshold set to
    /// --default's. The false-accept rates are averaged over the datasets with skilled
    /// forgeries (each dataset counts once, whatever its size).
    OperatingPoints {
        #[arg(long, required = true, num_args = 1..)]
        model: Vec<PathBuf>,
        #[arg(long, value_enum)]
        preset: Preset,
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value_t = 5)]
        enrol: usize,
        #[arg(long, default_value = "far1")]
        default: String,
        /// Face pictures: the aligned crop of each picture's largest face, found by this
        /// detector (and --landmarks), as the library embeds them with `options.faces`.
        #[arg(long, requires = "landmarks")]
        detector: Option<PathBuf>,
        #[arg(long, requires = "detector")]
        landmarks: Option<PathBuf>,
    },
    /// Convert face-api.js's pretrained face networks (the npm package
    /// `@vladmandic/face-api`) to ONNX with int8 weights: OUT/face-detector.onnx,
    /// OUT/face-landmarks.onnx and OUT/face-recognition.onnx. The recogniser's threshold is
    /// the EER point over the face preset's training identities (AT&T + Yale B, faces
    /// detected and aligned; the networks were trained on none of them).
    ConvertFaceapi {
        /// The installed npm package.
        #[arg(long, default_value = "node_modules/@vladmandic/face-api")]
        package: PathBuf,
        /// Data root holding att_faces/ and yaleb/ (default ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value = "models")]
        out: PathBuf,
        /// Also write the float forms (X.f32.onnx).
        #[arg(long)]
        f32: bool,
        /// The detector's input side (a multiple of 32).
        #[arg(long, default_value_t = 128)]
        detector_size: usize,
        /// The detector's score threshold.
        #[arg(long, default_value_t = 0.5)]
        detector_threshold: f32,
    },
}

fn preset(p: Preset) -> TrainConfig {
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

fn pooled(scores: &[(String, PairScores)]) -> PairScores {
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
fn qlinear_form(
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
fn face_finder(
    detector: Option<PathBuf>,
    landmarks: Option<PathBuf>,
) -> Result<Option<FaceFinder>> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    Ok(match (detector, landmarks) {
        (Some(d), Some(l)) => Some(FaceFinder::from_bytes(&read(&d)?, &read(&l)?)?),
        _ => None,
    })
}

fn cmd_train(cfg: TrainConfig, data: &Path, out: &Path, faces: Option<&FaceFinder>) -> Result<()> {
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

#[allow(clippy::too_many_arguments)]
fn cmd_eval(
    model: &Path,
    data: &Path,
    datasets: &[String],
    protocol: Protocol,
    json: Option<PathBuf>,
    plots: Option<PathBuf>,
    split: Split,
    val_fraction: f64,
    seed: u64,
    ways: usize,
    shots: usize,
    episodes: usize,
    enrol: Option<(usize, TemplateScoring)>,
    dynamics: bool,
    faces: Option<&FaceFinder>,
) -> Result<()> {
    let bytes = std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
    let enc = siamese_train::eval::load_encoder(&bytes)?;
    let cfg = enc.meta.preprocess;
    let threshold = enc.meta.threshold;
    let points = enc.meta.operating_points.clone();
    let embedder = TractEmbedder(enc);
    let eval_dir = |data: &Path| -> Result<Report> {
        let layout = detect_layout(data)?;
        Ok(if layout == Layout::OneShotRuns {
            if protocol != Protocol::Oneshot {
                bail!("{} holds one-shot runs: use --protocol oneshot", data.display());
            }
            let runs = read_oneshot_runs(data)?;
            let acc = runs_accuracy(&runs, &cfg, &embedder)?;
            Report {
                oneshot_accuracy: Some(acc),
                oneshot: Some(format!(
                    "{} runs of {}-way 1-shot",
                    runs.len(),
                    runs[0].support.len()
                )),
                ..Default::default()
            }
        } else {
            let prefix = dataset_prefix(data);
            let ids = match split {
                Split::All => read_all(data, &prefix)?,
                Split::Val => read_split(data, &prefix, val_fraction, seed, |ids| ids)?.1,
                Split::Train => read_split(data, &prefix, val_fraction, seed, |ids| ids)?.0,
            };
            let total = ids.iter().map(|i| i.samples.len()).sum::<usize>();
            eprintln!("{} identities, {total} samples", ids.len());
            let (ids, no_face) = match faces {
                Some(f) => {
                    let (aligned, missed) = align_faces(ids, f);
                    eprintln!("no face found in {missed} of {total} pictures (left out)");
                    (aligned, Some((missed, total)))
                }
                None => (ids, None),
            };
            let set = embed_identities(&ids, &cfg, &embedder)?;
            let mut r = match protocol {
                Protocol::Verify => {
                    let scores = match enrol {
                        Some((k, scoring)) => template_scores(&set, k, scoring),
                        None => pair_scores(&set, seed),
                    };
                    let dir = plots
                        .clone()
                        .or_else(|| json.as_ref().and_then(|j| j.parent().map(Path::to_path_buf)));
                    if let Some(dir) = dir {
                        std::fs::create_dir_all(&dir)?;
                        let stem = json
                            .as_ref()
                            .and_then(|j| j.file_stem())
                            .map(|s| s.to_string_lossy().to_string())
                            .unwrap_or_else(|| "eval".into());
                        let title = format!(
                            "{} on {}",
                            model.file_name().unwrap().to_string_lossy(),
                            data.display()
                        );
                        write_plots(
                            &scores,
                            &title,
                            &dir.join(format!("{stem}.roc.svg")),
                            &dir.join(format!("{stem}.hist.svg")),
                        )?;
                    }
                    let mut r = verify_report(&scores, Some(threshold));
                    r.enrolled = enrol.map(|e| e.0);
                    if let Some(op) = &points {
                        r.far_at_operating_point = at_operating_points(&scores, op);
                    }
                    if dynamics {
                        let traj = trajectories(&ids)?.with_context(|| format!("--dynamics needs timed pen strokes for every sample; {} has samples without", data.display()))?;
                        r.dynamics = Some(Box::new(dynamics_report(
                            &joint_scores(&set, &traj, enrol.map(|e| e.0)),
                            threshold,
                            siamese_wasm::verify::dynamics::THRESHOLD,
                        )));
                    }
                    r
                }
                Protocol::Oneshot => {
                    let acc =
                        oneshot_accuracy(&set, ways, shots, episodes, seed).with_context(|| {
                            format!("fewer than {ways} identities with more than {shots} samples")
                        })?;
                    Report {
                        oneshot_accuracy: Some(acc),
                        oneshot: Some(format!("{ways}-way {shots}-shot, {episodes} episodes")),
                        ..Default::default()
                    }
                }
            };
            r.identities = ids.len();
            r.no_face = no_face;
            r
        })
    };
    let report = if datasets.is_empty() {
        eval_dir(data)?
    } else {
        let mut per_dataset = std::collections::BTreeMap::new();
        for d in datasets {
            eprintln!("== {d}");
            per_dataset.insert(d.clone(), eval_dir(&data.join(d))?);
        }
        Report { per_dataset, ..Default::default() }
    };
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(j) = json {
        std::fs::write(&j, &text)?;
    }
    Ok(())
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

fn cmd_operating_points(
    model: &Path,
    cfg: &TrainConfig,
    data: &Path,
    enrol: usize,
    default: &str,
    faces: Option<&FaceFinder>,
) -> Result<()> {
    let bytes = std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
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

fn parse_scoring(s: &str) -> Result<TemplateScoring, String> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| format!("unknown template scoring {s:?}"))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Train {
            preset: p,
            config,
            data,
            out,
            epochs,
            steps,
            loss,
            seed,
            print_config,
            detector,
            landmarks,
        } => {
            let mut cfg = match (config, p) {
                (Some(path), _) => serde_json::from_str(&std::fs::read_to_string(&path)?)
                    .with_context(|| format!("parsing {}", path.display()))?,
                (None, Some(p)) => preset(p),
                (None, None) => bail!("give --preset or --config"),
            };
            if let Some(e) = epochs {
                cfg.epochs = e;
            }
            if let Some(s) = steps {
                cfg.steps_per_epoch = s;
            }
            if let Some(l) = loss {
                cfg.loss.kind = l;
            }
            if let Some(s) = seed {
                cfg.seed = s;
            }
            if print_config {
                println!("{}", serde_json::to_string_pretty(&cfg)?);
                return Ok(());
            }
            let data = data.or_else(shared_data_dir).context("no --data and no ../shared/data")?;
            cmd_train(cfg, &data, &out, face_finder(detector, landmarks)?.as_ref())
        }
        Cmd::Preview { preset: p, data, out, identities, strokes } => {
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
                    let x = if c < 3 {
                        plain_input(s, &cfg)?
                    } else {
                        augmented_input(s, &cfg, &mut rng)?
                    };
                    let (lo, hi) =
                        x.iter().fold((f32::MAX, f32::MIN), |a, &v| (a.0.min(v), a.1.max(v)));
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
        Cmd::Quantize { model, preset: p, data, out, calibration } => {
            let cfg = preset(p);
            let data = data.or_else(shared_data_dir).context("no --data and no ../shared/data")?;
            let (train_ids, _) = load_split(&data, &cfg)?;
            let bytes =
                std::fs::read(&model).with_context(|| format!("reading {}", model.display()))?;
            let q = qlinear_form(&bytes, &train_ids, &cfg.preprocess, calibration)?;
            std::fs::write(&out, &q)?;
            eprintln!("wrote {} ({} bytes)", out.display(), q.len());
            Ok(())
        }
        Cmd::Eval {
            model,
            data,
            datasets,
            protocol,
            json,
            plots,
            split,
            val_fraction,
            seed,
            ways,
            shots,
            episodes,
            enrol,
            template_scoring,
            dynamics,
            detector,
            landmarks,
        } => {
            let faces = face_finder(detector, landmarks)?;
            let enrol = enrol.map(|k| (k, template_scoring));
            cmd_eval(
                &model,
                &data,
                &datasets,
                protocol,
                json,
                plots,
                split,
                val_fraction,
                seed,
                ways,
                shots,
                episodes,
                enrol,
                dynamics,
                faces.as_ref(),
            )
        }
        Cmd::OperatingPoints { model, preset: p, data, enrol, default, detector, landmarks } => {
            let data = data.or_else(shared_data_dir).context("no --data and no ../shared/data")?;
            let faces = face_finder(detector, landmarks)?;
            model.iter().try_for_each(|m| {
                cmd_operating_points(m, &preset(p), &data, enrol, &default, faces.as_ref())
            })
        }
        Cmd::ConvertFaceapi { package, data, out, f32, detector_size, detector_threshold } => {
            let data = data.or_else(shared_data_dir).context("no --data and no ../shared/data: the threshold is calibrated on the face training identities")?;
            cmd_convert_faceapi(&package, &data, &out, f32, detector_size, detector_threshold)
        }
    }
}

fn cmd_convert_faceapi(
    package: &Path,
    data: &Path,
    out: &Path,
    write_f32: bool,
    detector_size: usize,
    detector_threshold: f32,
) -> Result<()> {
    let pkg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(package.join("package.json")).with_context(
            || format!("{} is not the installed npm package (npm install)", package.display()),
        )?)?;
    let version = pkg["version"].as_str().unwrap_or("unknown").to_string();
    let manifest =
        |name: &str| WeightMap::read(&package.join(format!("model/{name}-weights_manifest.json")));
    let origin = |net: &str| {
        format!("face-api.js {net} with the weights of the npm package @vladmandic/face-api {version} (MIT), converted by siamese-train convert-faceapi")
    };
    let tag = format!("{}+faceapi-{version}", env!("CARGO_PKG_VERSION"));
    std::fs::create_dir_all(out)?;
    let write = |name: &str, int8: Vec<u8>, f32: Option<Vec<u8>>| -> Result<()> {
        let path = out.join(format!("{name}.onnx"));
        std::fs::write(&path, &int8)?;
        eprintln!("wrote {} ({} bytes)", path.display(), int8.len());
        if let Some(f) = f32 {
            let path = out.join(format!("{name}.f32.onnx"));
            std::fs::write(&path, &f)?;
            eprintln!("wrote {} ({} bytes)", path.display(), f.len());
        }
        Ok(())
    };
    let det_w = manifest("tiny_face_detector_model")?;
    let det_origin = origin("TinyFaceDetector");
    let (detector, det_flops) = detector_onnx(
        &det_w,
        WeightFormat::Int8,
        detector_size,
        detector_threshold,
        &tag,
        &det_origin,
    )?;
    let det_f32 = if write_f32 {
        Some(
            detector_onnx(
                &det_w,
                WeightFormat::F32,
                detector_size,
                detector_threshold,
                &tag,
                &det_origin,
            )?
            .0,
        )
    } else {
        None
    };
    let lm_w = manifest("face_landmark_68_tiny_model")?;
    let lm_origin = origin("FaceLandmark68TinyNet");
    let (landmarks, lm_flops) = landmarks_onnx(&lm_w, WeightFormat::Int8, &tag, &lm_origin)?;
    let lm_f32 = if write_f32 {
        Some(landmarks_onnx(&lm_w, WeightFormat::F32, &tag, &lm_origin)?.0)
    } else {
        None
    };
    eprintln!(
        "detector {:.1} MFLOPs at {detector_size}x{detector_size}; landmarks {:.1} MFLOPs",
        det_flops as f64 / 1e6,
        lm_flops as f64 / 1e6
    );
    let finder = FaceFinder::from_bytes(&detector, &landmarks)?;
    write("face-detector", detector, det_f32)?;
    write("face-landmarks", landmarks, lm_f32)?;

    let weights = manifest("face_recognition_model")?;
    let face = preset(Preset::Face);
    let mut meta = ModelMetadata {
        name: "face-recognition".into(),
        version: tag.clone(),
        preprocess: Preprocess::face_rgb(RECOGNITION_SIZE, RECOGNITION_SIZE),
        embedding_dim: 128,
        metric: Metric::Cosine,
        threshold: 0.0,
        training_data: String::new(),
        operating_points: None,
    };
    // Calibrate the shipped (int8) form on the face training identities' detected and
    // aligned faces, pairs within each dataset pooled.
    let (int8, flops) = recognition_onnx(&weights, WeightFormat::Int8, &meta)?;
    let embedder = TractEmbedder(TractEncoder::from_bytes(&int8, None)?);
    let (mut scores, mut n_train, mut missed, mut seen) = (vec![], 0, 0, 0);
    for d in &face.datasets {
        let dir = data.join(d);
        let ids = drop_unusable(read_identities(&dir, &dataset_prefix(&dir))?, &meta.preprocess);
        let (train_ids, _) = split_by_identity(ids, face.val_fraction, face.seed);
        n_train += train_ids.len();
        seen += train_ids.iter().map(|i| i.samples.len()).sum::<usize>();
        let (aligned, m) = align_faces(train_ids, &finder);
        missed += m;
        scores.push((
            d.clone(),
            pair_scores(&embed_identities(&aligned, &meta.preprocess, &embedder)?, face.seed),
        ));
    }
    let pooled = pooled(&scores);
    let cal = eer(&pooled.genuine, &pooled.random);
    meta.threshold = cal.threshold;
    meta.training_data = format!(
        "{}; faces detected and aligned by face-detector.onnx and face-landmarks.onnx; threshold: EER point ({:.2}%) over {} training identities of {} (seed {}; no face found in {missed} of {seen} pictures), none of them seen by the network",
        origin("FaceRecognitionNet (after dlib's ResNet face recogniser)"),
        cal.eer * 100.0,
        n_train,
        face.datasets.join(", "),
        face.seed
    );
    eprintln!("recogniser {:.1} MFLOPs; no face in {missed} of {seen} training pictures; calibration EER {:.2}% at threshold {:.4}", flops as f64 / 1e6, cal.eer * 100.0, cal.threshold);
    let f32 = if write_f32 {
        Some(recognition_onnx(&weights, WeightFormat::F32, &meta)?.0)
    } else {
        None
    };
    write("face-recognition", recognition_onnx(&weights, WeightFormat::Int8, &meta)?.0, f32)?;
    Ok(())
}
