//! Evaluation: verification (ROC AUC, EER, FAR/FRR at the model's threshold, skilled and
//! random impostors apart) and N-way K-shot identification, on any embedder.

use crate::augment::plain_input;
use crate::data::{Identity, OneShotRun};
use anyhow::Result;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;
use siamese_wasm::calibrate::{auc, eer, rates_at, roc};
use siamese_wasm::metadata::Preprocess;
use siamese_wasm::metrics::{dot, l2_normalize};
use siamese_wasm::preprocess::image_to_input;
use std::path::Path;

/// Anything that turns model inputs into L2-normalised embeddings, in batches.
pub trait Embedder {
    fn embed(&self, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>>;
}

/// The runtime's own encoder (tract), as shipped.
pub struct TractEmbedder(pub siamese_wasm::encoder::Encoder);

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
pub fn embed_identities(ids: &[Identity], cfg: &Preprocess, model: &dyn Embedder) -> Result<Vec<Embedded>> {
    let mut out = vec![];
    for id in ids {
        let inputs: Vec<(bool, Vec<f32>)> = id.samples.par_iter().map(|s| Ok((s.forged, plain_input(s, cfg)?))).collect::<Result<_>>()?;
        let (mut genuine, mut forged) = (vec![], vec![]);
        for chunk in inputs.chunks(64) {
            let emb = model.embed(&chunk.iter().map(|(_, x)| x.clone()).collect::<Vec<_>>())?;
            for ((f, _), e) in chunk.iter().zip(emb) {
                if *f { forged.push(e) } else { genuine.push(e) }
            }
        }
        out.push(Embedded { name: id.name.clone(), group: id.group.clone(), genuine, forged });
    }
    Ok(out)
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
    let all: Vec<(usize, &Vec<f32>)> = set.iter().enumerate().flat_map(|(k, id)| id.genuine.iter().map(move |e| (k, e))).collect();
    let total: usize = (0..all.len()).map(|i| all[i + 1..].iter().filter(|(k, _)| *k != all[i].0).count()).sum();
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
/// (template: their normalised mean); its other genuine samples are genuine queries, its
/// forgeries skilled ones, and every other identity's non-enrolled genuine samples random
/// impostor queries. Identities with no more than `k` genuine samples are skipped.
pub fn template_scores(set: &[Embedded], k: usize) -> PairScores {
    let usable: Vec<&Embedded> = set.iter().filter(|e| e.genuine.len() > k).collect();
    let templates: Vec<Vec<f32>> = usable.iter().map(|e| prototype(&e.genuine[..k].iter().collect::<Vec<_>>())).collect();
    let mut s = PairScores { genuine: vec![], random: vec![], skilled: vec![] };
    for (i, e) in usable.iter().enumerate() {
        s.genuine.extend(e.genuine[k..].iter().map(|q| dot(q, &templates[i])));
        s.skilled.extend(e.forged.iter().map(|q| dot(q, &templates[i])));
        for (j, other) in usable.iter().enumerate() {
            if i != j {
                s.random.extend(other.genuine[k..].iter().map(|q| dot(q, &templates[i])));
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
        eer_skilled: (!scores.skilled.is_empty()).then(|| eer(&scores.genuine, &scores.skilled).eer),
        eer_random: Some(eer(&scores.genuine, &scores.random).eer),
        far: Some(at.far),
        frr: Some(at.frr),
        threshold: Some(t),
        eer_threshold: Some(all.threshold),
        pairs: Some(PairCounts { genuine: scores.genuine.len(), random: scores.random.len(), skilled: scores.skilled.len() }),
        ..Default::default()
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
pub fn oneshot_accuracy(set: &[Embedded], ways: usize, shots: usize, episodes: usize, seed: u64) -> Option<f64> {
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
        if g.is_empty() { vec![usable.clone()] } else { g }
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
            let best = (0..ways).max_by(|&a, &b| dot(q, &protos[a]).partial_cmp(&dot(q, &protos[b])).unwrap()).unwrap();
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
        let support: Vec<Vec<f32>> = run.support.iter().map(|(_, img)| image_to_input(img, cfg)).collect::<Result<_, _>>()?;
        let support = model.embed(&support)?;
        let queries: Vec<Vec<f32>> = run.queries.iter().map(|(img, _)| image_to_input(img, cfg)).collect::<Result<_, _>>()?;
        let queries = model.embed(&queries)?;
        for (q, (_, truth)) in queries.iter().zip(&run.queries) {
            let best = (0..support.len()).max_by(|&a, &b| dot(q, &support[a]).partial_cmp(&dot(q, &support[b])).unwrap()).unwrap();
            right += (best == *truth) as usize;
            total += 1;
        }
    }
    Ok(right as f64 / total.max(1) as f64)
}

/// ROC curve (FAR against 1 - FRR, FAR on a log axis) and score histograms, as SVG.
pub fn write_plots(scores: &PairScores, title: &str, roc_path: &Path, hist_path: &Path) -> Result<()> {
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
        chart.configure_mesh().x_desc("false accept rate").y_desc("true accept rate (1 - FRR)").draw()?;
        let mut series = |imp: &[f32], label: &str, color: RGBColor| -> Result<()> {
            let pts: Vec<(f64, f64)> = roc(&scores.genuine, imp).iter().map(|p| (p.far.max(1e-4), 1.0 - p.frr)).collect();
            chart.draw_series(LineSeries::new(pts, color.stroke_width(2)))?.label(label.to_string()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            Ok(())
        };
        series(&impostors, "all impostors", BLUE)?;
        if !scores.skilled.is_empty() {
            series(&scores.random, "random impostors", GREEN)?;
            series(&scores.skilled, "skilled forgeries", RED)?;
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).position(SeriesLabelPosition::LowerRight).draw()?;
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
        let sets = [("genuine", &scores.genuine, GREEN), ("random impostor", &scores.random, BLUE), ("skilled forgery", &scores.skilled, RED)];
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
            let pts: Vec<(f64, f64)> = hist(v).into_iter().enumerate().map(|(b, h)| (-1.0 + (b as f64 + 0.5) * 2.0 / bins as f64, h)).collect();
            chart.draw_series(LineSeries::new(pts, color.stroke_width(2)))?.label(label).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).position(SeriesLabelPosition::UpperLeft).draw()?;
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
            Embedded { name: "a".into(), group: "g".into(), genuine: vec![unit(0.0), unit(10.0)], forged: vec![unit(5.0)] },
            Embedded { name: "b".into(), group: "g".into(), genuine: vec![unit(90.0), unit(100.0)], forged: vec![unit(95.0)] },
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
            Embedded { name: "a".into(), group: "g".into(), genuine: vec![unit(-10.0), unit(10.0), unit(0.0)], forged: vec![unit(30.0)] },
            Embedded { name: "b".into(), group: "g".into(), genuine: vec![unit(90.0), unit(90.0), unit(90.0)], forged: vec![] },
        ];
        let s = template_scores(&set, 2);
        // a's template is the mean of -10 and 10 degrees: 0 degrees.
        assert_eq!(s.genuine.len(), 2);
        assert!((s.genuine[0] - 1.0).abs() < 1e-6);
        assert!((s.skilled[0] - 30f32.to_radians().cos()).abs() < 1e-6);
        assert_eq!(s.random.len(), 2);
        assert!(s.random.iter().all(|r| r.abs() < 1e-6));
    }

    #[test]
    fn oneshot_is_perfect_on_separated_classes_and_chance_on_identical_ones() {
        let sep: Vec<Embedded> = (0..5).map(|k| Embedded { name: k.to_string(), group: "g".into(), genuine: vec![unit(k as f32 * 70.0); 3], forged: vec![] }).collect();
        assert_eq!(oneshot_accuracy(&sep, 5, 1, 20, 3), Some(1.0));
        let same: Vec<Embedded> = (0..5).map(|k| Embedded { name: k.to_string(), group: "g".into(), genuine: vec![unit(0.0); 3], forged: vec![] }).collect();
        // All ties: the max picks one class for every query, right 1 time in 5.
        assert_eq!(oneshot_accuracy(&same, 5, 1, 20, 3), Some(0.2));
        assert_eq!(oneshot_accuracy(&sep, 6, 1, 20, 3), None);
    }
}
