//! `siamese-train eval`: evaluate an ONNX encoder on dataset folders.

use super::{face_finder, read};
use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use siamese_train::data::{detect_layout, read_all, read_oneshot_runs, read_split, Layout};
use siamese_train::eval::{
    align_faces, at_operating_points, dynamics_report, embed_identities, joint_scores,
    oneshot_accuracy, pair_scores, runs_accuracy, template_scores, trajectories, verify_report,
    write_plots, Report, TractEmbedder,
};
use siamese_train::train::dataset_prefix;
use siamese_wasm::verify::gallery::TemplateScoring;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum Protocol {
    Verify,
    Oneshot,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum Split {
    /// Every identity in DIR (held-out data).
    All,
    /// The validation identities training held out (same fraction and seed).
    Val,
    Train,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub data: PathBuf,
    /// Evaluate each of these folders of --data apart (comma-separated), reported under
    /// `per_dataset`.
    #[arg(long, value_delimiter = ',')]
    pub datasets: Vec<String>,
    #[arg(long, value_enum, default_value = "verify")]
    pub protocol: Protocol,
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Where to write the ROC and histogram SVGs (default: next to --json).
    #[arg(long)]
    pub plots: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "all")]
    pub split: Split,
    #[arg(long, default_value_t = 0.25)]
    pub val_fraction: f64,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[arg(long, default_value_t = 20)]
    pub ways: usize,
    #[arg(long, default_value_t = 1)]
    pub shots: usize,
    #[arg(long, default_value_t = 400)]
    pub episodes: usize,
    /// Verify queries against templates of this many enrolled genuine samples per
    /// identity (as the library does) instead of all sample pairs.
    #[arg(long)]
    pub enrol: Option<usize>,
    /// With --enrol: how a query is scored against the enrolled samples (centroid,
    /// mean-of-scores, max-of-scores, centroid-minus-spread, centroid-over-agreement).
    #[arg(long, default_value = "centroid", value_parser = parse_scoring)]
    pub template_scoring: TemplateScoring,
    /// Online signatures (every sample timed pen strokes): also report the motion
    /// (DTW) figures and the library's joint appearance-and-motion rule.
    #[arg(long)]
    pub dynamics: bool,
    /// Face pictures: find the largest face with this detector (and --landmarks) and
    /// evaluate its aligned crop, as the library does.
    #[arg(long, requires = "landmarks")]
    pub detector: Option<PathBuf>,
    #[arg(long, requires = "detector")]
    pub landmarks: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    let finder = face_finder(a.detector, a.landmarks)?;
    let faces = finder.as_ref();
    let enrol = a.enrol.map(|k| (k, a.template_scoring));
    let Args {
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
        dynamics,
        ..
    } = a;
    let (model, data) = (model.as_path(), data.as_path());
    let bytes = read(model)?;
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

fn parse_scoring(s: &str) -> Result<TemplateScoring, String> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| format!("unknown template scoring {s:?}"))
}
