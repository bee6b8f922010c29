//! Evaluation: verification (ROC AUC, EER, FAR/FRR at the model's threshold, skilled and
//! random impostors apart) and N-way K-shot identification, on any embedder.

use crate::augment::plain_input;
use crate::data::{Identity, OneShotRun};
use anyhow::{Context, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;
use siamese_wasm::face::FaceFinder;
use siamese_wasm::input::preprocess::{image_to_input, RgbImage};
use siamese_wasm::runtime::metadata::{OperatingPoints, Preprocess};
use siamese_wasm::verify::calibrate::{auc, eer, rates_at, roc};
use siamese_wasm::verify::dynamics::{is_timed, template_distance, Trajectory};
use siamese_wasm::verify::gallery::{template, TemplateScoring};
use siamese_wasm::verify::metrics::{dot, l2_normalize};
use siamese_wasm::verify::rule::Rule;
use std::collections::BTreeMap;
use std::path::Path;

/// Anything that turns model inputs into L2-normalised embeddings, in batches.
pub trait Embedder {
    fn embed(&self, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>>;
}

/// The encoder in `bytes` as the library loads it; a graph with operators the library's import
/// does not read (the fully integer form's QLinearConv) runs through tract-onnx's front end.
pub fn load_encoder(bytes: &[u8]) -> Result<siamese_wasm::runtime::encoder::Encoder> {
    let proto = siamese_wasm::runtime::onnx::decode(bytes).context("not an ONNX model")?;
    let unread = siamese_wasm::runtime::import::unsupported_operators(&proto);
    if unread.is_empty() {
        return Ok(siamese_wasm::runtime::encoder::Encoder::from_bytes(bytes, None)?);
    }
    eprintln!(
        "note: the library does not read {}; running this file through tract-onnx",
        unread.join(", ")
    );
    let meta = siamese_wasm::runtime::encoder::read_metadata(bytes)?
        .context("the model carries no siamese metadata")?;
    let p = &meta.preprocess;
    use tract_onnx::prelude::*;
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])?
        .with_input_fact(0, f32::fact([1, p.channels(), p.height, p.width]).into())?
        .into_optimized()?
        .into_runnable()?;
    Ok(siamese_wasm::runtime::encoder::Encoder::from_plan(plan, meta)?)
}

/// The runtime's own encoder (tract), as shipped.
pub struct TractEmbedder(pub siamese_wasm::runtime::encoder::Encoder);

impl Embedder for TractEmbedder {
    fn embed(&self, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        inputs.iter().map(|x| Ok(self.0.embed_input(x)?)).collect()
    }
}

pub struct Embedded {
    pub name: String,
    pub group: String,
    pub genuine: Vec<Vec<f32>>,
    pub forged: Vec<Vec<f32>>,
}

/// Embeds every sample, preprocessing in parallel and embedding in chunks.
pub fn embed_identities(
    ids: &[Identity],
    cfg: &Preprocess,
    model: &dyn Embedder,
) -> Result<Vec<Embedded>> {
    let mut out = vec![];
    for id in ids {
        let inputs: Vec<(bool, Vec<f32>)> = id
            .samples
            .par_iter()
            .map(|s| Ok((s.forged, plain_input(s, cfg)?)))
            .collect::<Result<_>>()?;
        let (mut genuine, mut forged) = (vec![], vec![]);
        for chunk in inputs.chunks(64) {
            let emb = model.embed(&chunk.iter().map(|(_, x)| x.clone()).collect::<Vec<_>>())?;
            for ((f, _), e) in chunk.iter().zip(emb) {
                if *f {
                    forged.push(e)
                } else {
                    genuine.push(e)
                }
            }
        }
        out.push(Embedded { name: id.name.clone(), group: id.group.clone(), genuine, forged });
    }
    Ok(out)
}

/// Each picture replaced by the aligned crop of its largest face (`FaceFinder`); pictures
/// where no face is found are dropped, and counted (the second value). The datasets are
/// grayscale, so the crop's first plane is the picture (all three are equal).
pub fn align_faces(mut ids: Vec<Identity>, finder: &FaceFinder) -> (Vec<Identity>, usize) {
    let missed = std::sync::atomic::AtomicUsize::new(0);
    for id in &mut ids {
        let samples = std::mem::take(&mut id.samples);
        id.samples = samples
            .into_par_iter()
            .filter_map(|mut s| {
                let img = s.image.as_ref()?;
                match finder.largest_face(&RgbImage::from_gray(img)) {
                    Ok((_, crop)) => {
                        let [first, ..] = crop.planes;
                        s.image = Some(std::sync::Arc::new(first));
                        Some(s)
                    }
                    Err(e) => {
                        if std::env::var_os("SIAMESE_DEBUG_FACES").is_some() {
                            eprintln!("{}: {e}", s.origin);
                        }
                        missed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        None
                    }
                }
            })
            .collect();
    }
    (ids, missed.into_inner())
}

/// Scores of genuine pairs (same identity), random impostors (genuine samples of two
/// identities) and skilled forgeries (a genuine sample against a forgery of it).
pub struct PairScores {
    pub genuine: Vec<f32>,
    pub random: Vec<f32>,
    pub skilled: Vec<f32>,
}

/// Random-impostor pairs are all cross-identity pairs up to this many, a seeded sample
/// beyond.
const MAX_RANDOM_PAIRS: usize = 1_000_000;

pub fn pair_scores(set: &[Embedded], seed: u64) -> PairScores {
    let mut genuine = vec![];
    let mut skilled = vec![];
    for id in set {
        for i in 0..id.genuine.len() {
            for j in i + 1..id.genuine.len() {
                genuine.push(dot(&id.genuine[i], &id.genuine[j]));
            }
            for f in &id.forged {
                skilled.push(dot(&id.genuine[i], f));
            }
        }
    }
    let all: Vec<(usize, &Vec<f32>)> =
        set.iter().enumerate().flat_map(|(k, id)| id.genuine.iter().map(move |e| (k, e))).collect();
    let total: usize =
        (0..all.len()).map(|i| all[i + 1..].iter().filter(|(k, _)| *k != all[i].0).count()).sum();
    let keep = (MAX_RANDOM_PAIRS as f64 / total.max(1) as f64).min(1.0);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut random = vec![];
    for i in 0..all.len() {
        for j in i + 1..all.len() {
            if all[i].0 != all[j].0 && (keep >= 1.0 || rng.gen_bool(keep)) {
                random.push(dot(all[i].1, all[j].1));
            }
        }
    }
    PairScores { genuine, random, skilled }
}

/// Scores as the library verifies: each identity enrols its first `k` genuine samples
/// (template: their normalised mean), scored by `scoring`; its other genuine samples are
/// genuine queries, its forgeries skilled ones, and every other identity's non-enrolled
/// genuine samples random impostor queries. Identities with no more than `k` genuine
/// samples are skipped.
pub fn template_scores(set: &[Embedded], k: usize, scoring: TemplateScoring) -> PairScores {
    let usable: Vec<&Embedded> = set.iter().filter(|e| e.genuine.len() > k).collect();
    let enrolled: Vec<&[Vec<f32>]> = usable.iter().map(|e| &e.genuine[..k]).collect();
    let templates: Vec<Vec<f32>> = enrolled.iter().map(|r| template(r)).collect();
    let score = |i: usize, q: &[f32]| scoring.score(enrolled[i], &templates[i], q);
    let mut s = PairScores { genuine: vec![], random: vec![], skilled: vec![] };
    for (i, e) in usable.iter().enumerate() {
        s.genuine.extend(e.genuine[k..].iter().map(|q| score(i, q)));
        s.skilled.extend(e.forged.iter().map(|q| score(i, q)));
        for (j, other) in usable.iter().enumerate() {
            if i != j {
                s.random.extend(other.genuine[k..].iter().map(|q| score(i, q)));
            }
        }
    }
    s
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eer: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eer_skilled: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eer_random: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub far: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    /// The threshold at this data's own EER point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eer_threshold: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oneshot_accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oneshot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairs: Option<PairCounts>,
    /// Set when scores compare queries with templates of this many enrolled samples
    /// (`--enrol K`), rather than sample pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrolled: Option<usize>,
    pub identities: usize,
    /// Online signatures with `--dynamics`: the motion (DTW) figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamics: Option<Box<DynamicsReport>>,
    /// With `--detector` and `--landmarks`: pictures where no face was found (left out of
    /// every figure above), of how many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_face: Option<(usize, usize)>,
    /// For a model with operating points: the error rates at each one's threshold.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub far_at_operating_point: BTreeMap<String, PointRates>,
    /// With `--datasets`: each dataset's report.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub per_dataset: BTreeMap<String, Report>,
}

/// Error rates at one operating point: skilled forgeries and random impostors accepted,
/// genuine queries rejected.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PointRates {
    pub threshold: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub far_skilled: Option<f64>,
    pub far_random: f64,
    pub frr: f64,
}

/// [`PointRates`] of `scores` at each of `op`'s named points.
pub fn at_operating_points(
    scores: &PairScores,
    op: &OperatingPoints,
) -> BTreeMap<String, PointRates> {
    op.points
        .iter()
        .map(|p| {
            let random = rates_at(&scores.genuine, &scores.random, p.threshold);
            let far_skilled = (!scores.skilled.is_empty())
                .then(|| rates_at(&scores.genuine, &scores.skilled, p.threshold).far);
            (
                p.name.clone(),
                PointRates {
                    threshold: p.threshold,
                    far_skilled,
                    far_random: random.far,
                    frr: random.frr,
                },
            )
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct PairCounts {
    pub genuine: usize,
    pub random: usize,
    pub skilled: usize,
}

/// Verification figures. `eer`, `auc`, `far` and `frr` pool random and skilled
/// impostors; `threshold` is the operating threshold (the model's own, when given).
pub fn verify_report(scores: &PairScores, threshold: Option<f32>) -> Report {
    let impostors: Vec<f32> = scores.random.iter().chain(&scores.skilled).copied().collect();
    let all = eer(&scores.genuine, &impostors);
    let t = threshold.unwrap_or(all.threshold);
    let at = rates_at(&scores.genuine, &impostors, t);
    Report {
        eer: Some(all.eer),
        auc: Some(auc(&scores.genuine, &impostors)),
        eer_skilled: (!scores.skilled.is_empty())
            .then(|| eer(&scores.genuine, &scores.skilled).eer),
        eer_random: Some(eer(&scores.genuine, &scores.random).eer),
        far: Some(at.far),
        frr: Some(at.frr),
        threshold: Some(t),
        eer_threshold: Some(all.threshold),
        pairs: Some(PairCounts {
            genuine: scores.genuine.len(),
            random: scores.random.len(),
            skilled: scores.skilled.len(),
        }),
        ..Default::default()
    }
}

/// The pen trajectories of an identity's samples, in the order of [`Embedded`]'s.
pub struct Trajectories {
    pub genuine: Vec<Trajectory>,
    pub forged: Vec<Trajectory>,
}

/// Trajectories of every sample; `None` when some sample has no timed pen strokes (an
/// offline signature, a photograph): the dynamics figures then do not apply.
pub fn trajectories(ids: &[Identity]) -> Result<Option<Vec<Trajectories>>> {
    let timed = |s: &crate::data::Sample| s.strokes.as_deref().is_some_and(|st| is_timed(st));
    if ids.is_empty() || !ids.iter().flat_map(|i| &i.samples).all(timed) {
        return Ok(None);
    }
    let of = |s: &crate::data::Sample| {
        Trajectory::from_strokes(s.strokes.as_ref().unwrap())
            .map_err(|e| anyhow::anyhow!("{}: {e}", s.origin))
    };
    ids.iter()
        .map(|id| {
            Ok(Trajectories {
                genuine: id.genuine().map(of).collect::<Result<_>>()?,
                forged: id.forged().map(of).collect::<Result<_>>()?,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// What the library decides on online signatures: the appearance score (cosine) and the
/// motion distance (DTW) of the same pairs, so that their joint rule can be measured.
pub struct JointScores {
    /// (cosine, DTW distance) per genuine, random-impostor and skilled-forgery pair.
    pub genuine: Vec<(f32, f32)>,
    pub random: Vec<(f32, f32)>,
    pub skilled: Vec<(f32, f32)>,
}

/// Joint scores over the same pairs as [`pair_scores`] (all of them: sets with
/// trajectories are small) or, with `enrol = Some(k)`, as [`template_scores`], the motion
/// distance then being [`template_distance`] to the `k` enrolled trajectories.
pub fn joint_scores(emb: &[Embedded], traj: &[Trajectories], enrol: Option<usize>) -> JointScores {
    // (kind 0 genuine / 1 random / 2 skilled, enrolled identity, query identity, query index, forged)
    let mut jobs: Vec<(u8, usize, usize, usize, bool)> = vec![];
    let mut refs: Vec<Vec<usize>> = vec![];
    match enrol {
        None => {
            // Each genuine sample is its own one-sample "enrolment"; identity u's sample i
            // is job reference (u, i).
            for (u, t) in traj.iter().enumerate() {
                for i in 0..t.genuine.len() {
                    refs.push(vec![i]);
                    let r = refs.len() - 1;
                    for j in i + 1..t.genuine.len() {
                        jobs.push((0, r, u, j, false));
                    }
                    for f in 0..t.forged.len() {
                        jobs.push((2, r, u, f, true));
                    }
                    for (v, tv) in traj.iter().enumerate().skip(u + 1) {
                        for j in 0..tv.genuine.len() {
                            jobs.push((1, r, v, j, false));
                        }
                    }
                }
            }
        }
        Some(k) => {
            for (u, t) in traj.iter().enumerate() {
                if t.genuine.len() <= k {
                    refs.push(vec![]);
                    continue;
                }
                refs.push((0..k).collect());
                for j in k..t.genuine.len() {
                    jobs.push((0, u, u, j, false));
                }
                for f in 0..t.forged.len() {
                    jobs.push((2, u, u, f, true));
                }
                for (v, tv) in traj.iter().enumerate() {
                    if v != u && tv.genuine.len() > k {
                        for j in k..tv.genuine.len() {
                            jobs.push((1, u, v, j, false));
                        }
                    }
                }
            }
        }
    }
    // Which identity each reference set belongs to.
    let owner: Vec<usize> = match enrol {
        None => traj
            .iter()
            .enumerate()
            .flat_map(|(u, t)| std::iter::repeat_n(u, t.genuine.len()))
            .collect(),
        Some(_) => (0..traj.len()).collect(),
    };
    let protos: Vec<Vec<f32>> = refs
        .iter()
        .zip(&owner)
        .map(|(r, &u)| {
            if r.is_empty() {
                vec![]
            } else {
                prototype(&r.iter().map(|&i| &emb[u].genuine[i]).collect::<Vec<_>>())
            }
        })
        .collect();
    let scored: Vec<(u8, (f32, f32))> = jobs
        .par_iter()
        .map(|&(kind, r, v, j, forged)| {
            let u = owner[r];
            let (e, t) = if forged {
                (&emb[v].forged[j], &traj[v].forged[j])
            } else {
                (&emb[v].genuine[j], &traj[v].genuine[j])
            };
            let d = template_distance(refs[r].iter().map(|&i| &traj[u].genuine[i]), t);
            (kind, (dot(e, &protos[r]), d))
        })
        .collect();
    let mut s = JointScores { genuine: vec![], random: vec![], skilled: vec![] };
    for (kind, p) in scored {
        match kind {
            0 => s.genuine.push(p),
            1 => s.random.push(p),
            _ => s.skilled.push(p),
        }
    }
    s
}

/// Figures of the motion distance alone and of the library's joint rule.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DynamicsReport {
    /// DTW distance alone. Its `threshold` is the runtime's distance threshold (a
    /// pair matches at or below it), `eer_threshold` this data's own EER point.
    pub dtw: Report,
    /// The DTW distance at the skilled-forgery EER point of this data: what
    /// `dynamics::THRESHOLD` is set from, over all 40 SVC2004 writers (skilled forgeries
    /// are what the motion check is for; random impostors are the cosine's job).
    pub skilled_eer_threshold: f32,
    /// The joint rule at the shipped thresholds: a match needs cosine >= the model's
    /// threshold and DTW distance <= the motion threshold.
    pub joint_far_random: f64,
    pub joint_far_skilled: f64,
    pub joint_frr: f64,
    /// The cosine alone at the model's threshold on the same pairs, for comparison.
    pub cosine_far_random: f64,
    pub cosine_far_skilled: f64,
    pub cosine_frr: f64,
}

pub fn dynamics_report(s: &JointScores, cos_threshold: f32, dtw_threshold: f32) -> DynamicsReport {
    // Distances are turned into similarities (negated) for the shared EER code.
    let neg = |v: &[(f32, f32)]| v.iter().map(|p| -p.1).collect::<Vec<f32>>();
    let mut dtw = verify_report(
        &PairScores { genuine: neg(&s.genuine), random: neg(&s.random), skilled: neg(&s.skilled) },
        Some(-dtw_threshold),
    );
    dtw.threshold = dtw.threshold.map(|t| -t);
    dtw.eer_threshold = dtw.eer_threshold.map(|t| -t);
    let rate = |v: &[(f32, f32)], accept: &dyn Fn(&(f32, f32)) -> bool| {
        v.iter().filter(|p| accept(p)).count() as f64 / v.len().max(1) as f64
    };
    let rule = Rule { score: cos_threshold, motion: dtw_threshold };
    let joint = |p: &(f32, f32)| rule.accepts(p.0, Some(p.1));
    let cos = |p: &(f32, f32)| rule.accepts(p.0, None);
    let skilled_eer_threshold = -eer(&neg(&s.genuine), &neg(&s.skilled)).threshold;
    DynamicsReport {
        dtw,
        skilled_eer_threshold,
        joint_far_random: rate(&s.random, &joint),
        joint_far_skilled: rate(&s.skilled, &joint),
        joint_frr: 1.0 - rate(&s.genuine, &joint),
        cosine_far_random: rate(&s.random, &cos),
        cosine_far_skilled: rate(&s.skilled, &cos),
        cosine_frr: 1.0 - rate(&s.genuine, &cos),
    }
}

fn prototype(v: &[&Vec<f32>]) -> Vec<f32> {
    let mut p = vec![0.0; v[0].len()];
    for e in v {
        p.iter_mut().zip(e.iter()).for_each(|(a, b)| *a += b);
    }
    l2_normalize(&mut p);
    p
}

/// N-way K-shot accuracy over seeded episodes. Each episode draws N identities from one
/// group (Omniglot: one alphabet, as the published protocol does) when a group has N,
/// else from all; K support samples and one query per identity; a query is right when
/// its own identity's prototype (mean support embedding) is the most similar.
pub fn oneshot_accuracy(
    set: &[Embedded],
    ways: usize,
    shots: usize,
    episodes: usize,
    seed: u64,
) -> Option<f64> {
    let usable: Vec<&Embedded> = set.iter().filter(|e| e.genuine.len() > shots).collect();
    if usable.len() < ways {
        return None;
    }
    let mut groups: std::collections::BTreeMap<&str, Vec<&Embedded>> = Default::default();
    for e in &usable {
        groups.entry(&e.group).or_default().push(e);
    }
    let pools: Vec<Vec<&Embedded>> = {
        let g: Vec<Vec<&Embedded>> = groups.into_values().filter(|v| v.len() >= ways).collect();
        if g.is_empty() {
            vec![usable.clone()]
        } else {
            g
        }
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut right, mut total) = (0usize, 0usize);
    for ep in 0..episodes {
        let pool = &pools[ep % pools.len()];
        let classes: Vec<&&Embedded> = pool.choose_multiple(&mut rng, ways).collect();
        let mut protos = vec![];
        let mut queries = vec![];
        for c in &classes {
            let picks: Vec<&Vec<f32>> = c.genuine.choose_multiple(&mut rng, shots + 1).collect();
            protos.push(prototype(&picks[..shots]));
            queries.push(picks[shots]);
        }
        for (truth, q) in queries.iter().enumerate() {
            let best = (0..ways)
                .max_by(|&a, &b| dot(q, &protos[a]).partial_cmp(&dot(q, &protos[b])).unwrap())
                .unwrap();
            right += (best == truth) as usize;
            total += 1;
        }
    }
    Some(right as f64 / total as f64)
}

/// Accuracy on Omniglot's one-shot runs layout.
pub fn runs_accuracy(runs: &[OneShotRun], cfg: &Preprocess, model: &dyn Embedder) -> Result<f64> {
    let (mut right, mut total) = (0usize, 0usize);
    for run in runs {
        let support: Vec<Vec<f32>> = run
            .support
            .iter()
            .map(|(_, img)| image_to_input(img, cfg))
            .collect::<Result<_, _>>()?;
        let support = model.embed(&support)?;
        let queries: Vec<Vec<f32>> = run
            .queries
            .iter()
            .map(|(img, _)| image_to_input(img, cfg))
            .collect::<Result<_, _>>()?;
        let queries = model.embed(&queries)?;
        for (q, (_, truth)) in queries.iter().zip(&run.queries) {
            let best = (0..support.len())
                .max_by(|&a, &b| dot(q, &support[a]).partial_cmp(&dot(q, &support[b])).unwrap())
                .unwrap();
            right += (best == *truth) as usize;
            total += 1;
        }
    }
    Ok(right as f64 / total.max(1) as f64)
}

/// ROC curve (FAR against 1 - FRR, FAR on a log axis) and score histograms, as SVG.
pub fn write_plots(
    scores: &PairScores,
    title: &str,
    roc_path: &Path,
    hist_path: &Path,
) -> Result<()> {
    use plotters::prelude::*;
    let impostors: Vec<f32> = scores.random.iter().chain(&scores.skilled).copied().collect();
    {
        let root = SVGBackend::new(roc_path, (640, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("ROC: {title}"), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((1e-4f64..1.0f64).log_scale(), 0.0f64..1.0f64)?;
        chart
            .configure_mesh()
            .x_desc("false accept rate")
            .y_desc("true accept rate (1 - FRR)")
            .draw()?;
        let mut series = |imp: &[f32], label: &str, color: RGBColor| -> Result<()> {
            let pts: Vec<(f64, f64)> =
                roc(&scores.genuine, imp).iter().map(|p| (p.far.max(1e-4), 1.0 - p.frr)).collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(label.to_string())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            Ok(())
        };
        series(&impostors, "all impostors", BLUE)?;
        if !scores.skilled.is_empty() {
            series(&scores.random, "random impostors", GREEN)?;
            series(&scores.skilled, "skilled forgeries", RED)?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        root.present()?;
    }
    {
        let root = SVGBackend::new(hist_path, (640, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let bins = 50usize;
        let hist = |v: &[f32]| -> Vec<f64> {
            let mut h = vec![0.0; bins];
            for &s in v {
                let b = (((s + 1.0) / 2.0 * bins as f32) as usize).min(bins - 1);
                h[b] += 1.0 / v.len().max(1) as f64;
            }
            h
        };
        let sets = [
            ("genuine", &scores.genuine, GREEN),
            ("random impostor", &scores.random, BLUE),
            ("skilled forgery", &scores.skilled, RED),
        ];
        let ymax = sets.iter().flat_map(|(_, v, _)| hist(v)).fold(0.0, f64::max).max(1e-3) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("Cosine similarity: {title}"), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(-1.0f64..1.0f64, 0.0f64..ymax)?;
        chart.configure_mesh().x_desc("cosine similarity").y_desc("fraction of pairs").draw()?;
        for (label, v, color) in sets {
            if v.is_empty() {
                continue;
            }
            let pts: Vec<(f64, f64)> = hist(v)
                .into_iter()
                .enumerate()
                .map(|(b, h)| (-1.0 + (b as f64 + 0.5) * 2.0 / bins as f64, h))
                .collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        root.present()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(deg: f32) -> Vec<f32> {
        vec![deg.to_radians().cos(), deg.to_radians().sin()]
    }

    #[test]
    fn pair_scores_and_report_on_known_embeddings() {
        // Two identities far apart, each with a forgery close to it: random impostors are
        // separable, skilled ones are not.
        let set = vec![
            Embedded {
                name: "a".into(),
                group: "g".into(),
                genuine: vec![unit(0.0), unit(10.0)],
                forged: vec![unit(5.0)],
            },
            Embedded {
                name: "b".into(),
                group: "g".into(),
                genuine: vec![unit(90.0), unit(100.0)],
                forged: vec![unit(95.0)],
            },
        ];
        let s = pair_scores(&set, 1);
        assert_eq!((s.genuine.len(), s.random.len(), s.skilled.len()), (2, 4, 4));
        let r = verify_report(&s, None);
        assert_eq!(r.eer_random, Some(0.0));
        assert!(r.eer_skilled.unwrap() > 0.4);
        assert_eq!(r.auc.map(|a| a < 1.0), Some(true));
    }

    #[test]
    fn template_scores_compare_queries_with_enrolled_means() {
        let set = vec![
            Embedded {
                name: "a".into(),
                group: "g".into(),
                genuine: vec![unit(-10.0), unit(10.0), unit(0.0)],
                forged: vec![unit(30.0)],
            },
            Embedded {
                name: "b".into(),
                group: "g".into(),
                genuine: vec![unit(90.0), unit(90.0), unit(90.0)],
                forged: vec![],
            },
        ];
        let s = template_scores(&set, 2, TemplateScoring::Centroid);
        // a's template is the mean of -10 and 10 degrees: 0 degrees.
        assert_eq!(s.genuine.len(), 2);
        assert!((s.genuine[0] - 1.0).abs() < 1e-6);
        assert!((s.skilled[0] - 30f32.to_radians().cos()).abs() < 1e-6);
        assert_eq!(s.random.len(), 2);
        assert!(s.random.iter().all(|r| r.abs() < 1e-6));
    }

    #[test]
    fn oneshot_is_perfect_on_separated_classes_and_chance_on_identical_ones() {
        let sep: Vec<Embedded> = (0..5)
            .map(|k| Embedded {
                name: k.to_string(),
                group: "g".into(),
                genuine: vec![unit(k as f32 * 70.0); 3],
                forged: vec![],
            })
            .collect();
        assert_eq!(oneshot_accuracy(&sep, 5, 1, 20, 3), Some(1.0));
        let same: Vec<Embedded> = (0..5)
            .map(|k| Embedded {
                name: k.to_string(),
                group: "g".into(),
                genuine: vec![unit(0.0); 3],
                forged: vec![],
            })
            .collect();
        // All ties: the max picks one class for every query, right 1 time in 5.
        assert_eq!(oneshot_accuracy(&same, 5, 1, 20, 3), Some(0.2));
        assert_eq!(oneshot_accuracy(&sep, 6, 1, 20, 3), None);
    }
}
