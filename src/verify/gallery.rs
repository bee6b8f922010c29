//! The gallery: enrolled identities, each with its sample embeddings and a template
//! (their normalised mean), and 1:N search over the templates.
//!
//! Templates live in one contiguous row-major buffer so that a search is a single pass of
//! dot products over memory the CPU (and wasm's simd128) streams well; the per-identity
//! samples are kept only to rebuild templates and to export.
//!
//! Cosine search over a large gallery is bound by memory bandwidth, so it reads an int8 copy
//! of the templates (a quarter of the bytes) first. Each coarse score comes with a bound on
//! its quantisation error, and only rows whose upper bound reaches the k-th best lower bound
//! are rescored exactly in f32: the result is the same as an exact search, scores included.
//!
//! Identities enrolled from timed pen strokes (online signatures) also keep those strokes
//! and their trajectories, so that verification can check how a signature was written as
//! well as how it looks (see [`crate::verify::dynamics`]).

use crate::error::{Error, ErrorCode, Result};
use crate::input::strokes::Strokes;
use crate::verify::dynamics::{is_timed, template_distance, Trajectory};
use crate::verify::metrics::{dot, dot_i8, l2_normalize, Metric};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The longest id accepted, in bytes. Ids are shown to people and stored as keys; a
/// megabyte "name" is a bug somewhere, not a person.
pub const MAX_ID_BYTES: usize = 512;

/// One identity as enrolled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub id: String,
    /// One embedding per enrolled sample.
    pub samples: Vec<Vec<f32>>,
    /// The timed pen strokes of each sample, when every sample was drawn with times
    /// (an online signature); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub strokes: Vec<Strokes>,
}

impl Identity {
    pub fn new(id: impl Into<String>, samples: Vec<Vec<f32>>) -> Self {
        Identity { id: id.into(), samples, strokes: vec![] }
    }
}

/// A search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub id: String,
    pub score: f32,
}

/// The template of a set of sample embeddings: their mean, L2-normalised (the embeddings
/// themselves are unit length, so the mean direction is the natural prototype).
pub fn template(samples: &[Vec<f32>]) -> Vec<f32> {
    let dim = samples.first().map_or(0, Vec::len);
    let mut t = vec![0.0f32; dim];
    for s in samples {
        t.iter_mut().zip(s).for_each(|(a, b)| *a += b);
    }
    l2_normalize(&mut t);
    t
}

/// How a query is scored against an identity's enrolled samples (unit vectors, cosine).
/// The library verifies with [`TemplateScoring::Centroid`]; the trainer's evaluation
/// measures the others against it on validation writers (models/README.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TemplateScoring {
    /// The cosine with the template (the samples' normalised mean).
    #[default]
    Centroid,
    /// The mean of the cosines with each sample.
    MeanOfScores,
    /// The best cosine with any one sample.
    MaxOfScores,
    /// [`Centroid`](Self::Centroid) less how far the samples stray from each other
    /// ([`spread`]), plus one: writer-dependent normalisation, so a writer whose own
    /// signatures vary is not held to a steadier writer's bar.
    CentroidMinusSpread,
    /// [`Centroid`](Self::Centroid) over the samples' own agreement (`1 - spread`).
    CentroidOverAgreement,
}

impl TemplateScoring {
    /// `query`'s score against `samples` (unit vectors) whose template is `template`.
    pub fn score(self, samples: &[Vec<f32>], template: &[f32], query: &[f32]) -> f32 {
        let each = || samples.iter().map(|s| dot(s, query));
        match self {
            TemplateScoring::Centroid => dot(template, query),
            TemplateScoring::MeanOfScores => each().sum::<f32>() / samples.len().max(1) as f32,
            TemplateScoring::MaxOfScores => each().fold(f32::NEG_INFINITY, f32::max),
            TemplateScoring::CentroidMinusSpread => dot(template, query) - spread(samples) + 1.0,
            TemplateScoring::CentroidOverAgreement => {
                dot(template, query) / (1.0 - spread(samples)).max(1e-3)
            }
        }
    }
}

/// How far an identity's samples stray from each other: one less the mean, over samples,
/// of each one's cosine with the template of the others (0 for a single sample).
pub fn spread(samples: &[Vec<f32>]) -> f32 {
    if samples.len() < 2 {
        return 0.0;
    }
    let dim = samples[0].len();
    let sum: Vec<f32> = (0..dim).map(|d| samples.iter().map(|s| s[d]).sum()).collect();
    let agreement: f32 = samples
        .iter()
        .map(|s| {
            let mut others: Vec<f32> = sum.iter().zip(s).map(|(a, b)| a - b).collect();
            l2_normalize(&mut others);
            dot(&others, s)
        })
        .sum::<f32>()
        / samples.len() as f32;
    1.0 - agreement
}

/// Checks an id: non-empty, at most [`MAX_ID_BYTES`], no control characters.
pub fn check_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::new(ErrorCode::BadInput, "an id must not be empty"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::new(
            ErrorCode::BadInput,
            format!("an id is at most {MAX_ID_BYTES} bytes (got {})", id.len()),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(Error::new(ErrorCode::BadInput, "an id must not contain control characters"));
    }
    Ok(())
}

/// Checks the sample embeddings of one identity against the gallery's dimension.
pub fn check_samples(id: &str, samples: &[Vec<f32>], dim: usize) -> Result<()> {
    if samples.is_empty() {
        return Err(Error::new(ErrorCode::BadInput, format!("'{id}' has no samples")));
    }
    for s in samples {
        if s.len() != dim {
            return Err(Error::new(
                ErrorCode::BadShape,
                format!("'{id}' has an embedding of {} values; the model's have {dim}", s.len()),
            ));
        }
        if s.iter().any(|v| !v.is_finite()) {
            return Err(Error::new(
                ErrorCode::NotFinite,
                format!("'{id}' has an embedding with NaN or infinite values"),
            ));
        }
    }
    Ok(())
}

/// Checks an identity's enrolled strokes (none, or one timed drawing per sample) and
/// returns their trajectories.
pub fn check_strokes(id: &str, strokes: &[Strokes], samples: usize) -> Result<Vec<Trajectory>> {
    if strokes.is_empty() {
        return Ok(vec![]);
    }
    if strokes.len() != samples {
        return Err(Error::new(
            ErrorCode::BadInput,
            format!("'{id}' has {} drawings for {samples} samples", strokes.len()),
        ));
    }
    strokes
        .iter()
        .map(|s| {
            if !is_timed(s) {
                return Err(Error::new(
                    ErrorCode::BadInput,
                    format!("'{id}' has a drawing without pen times"),
                ));
            }
            Trajectory::from_strokes(s)
                .map_err(|e| Error::new(e.code, format!("'{id}': {}", e.message)))
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct Gallery {
    dim: usize,
    metric: Metric,
    ids: Vec<String>,
    rows: HashMap<String, usize>,
    samples: Vec<Vec<Vec<f32>>>,
    /// Per identity, its enrolled timed strokes and their trajectories (both empty when
    /// it was not enrolled from timed strokes).
    strokes: Vec<Vec<Strokes>>,
    trajectories: Vec<Vec<Trajectory>>,
    /// `ids.len() * dim` values; row `i` is the template of `ids[i]`.
    templates: Vec<f32>,
    /// The templates quantised to int8 (`ids.len() * dim`), with per row its scale and
    /// error coefficient (see [`Coarse`]).
    coarse: Vec<i8>,
    coarse_rows: Vec<Coarse>,
}

/// Per-row quantisation of a template `t ~= scale * q` (symmetric int8, |q| <= 127).
/// For a query quantised the same way (`qs`, `qq`), the exact dot product differs from
/// `qs * scale * (qq . q)` by at most `qs * (err + scale * |qq|_1 / 2)`, where
/// `err = scale * (|q|_1 / 2 + dim / 4)`: each factor is off by at most half a step.
#[derive(Debug, Clone, Copy)]
struct Coarse {
    scale: f32,
    err: f32,
}

/// Symmetric int8 quantisation of `v`: (values, scale, sum of |values|).
fn quantize(v: &[f32]) -> (Vec<i8>, f32, f32) {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let q: Vec<i8> = v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect();
    let l1 = q.iter().map(|x| x.unsigned_abs() as f32).sum();
    (q, scale, l1)
}

fn coarse_row(t: &[f32]) -> (Vec<i8>, Coarse) {
    let (q, scale, l1) = quantize(t);
    (q, Coarse { scale, err: scale * (l1 / 2.0 + t.len() as f32 / 4.0) })
}

/// The `k` best of `(score, row)` pairs fed in row order, best first; ties keep the
/// earlier row. `k` is small (a handful of candidates), so a sorted short list does.
struct TopK {
    k: usize,
    best: Vec<(f32, usize)>,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK { k, best: Vec::with_capacity(k + 1) }
    }
    /// The score a new entry must beat once the list is full.
    fn floor(&self) -> f32 {
        if self.best.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.best[self.k - 1].0
        }
    }
    fn push(&mut self, s: f32, r: usize) {
        if self.best.len() < self.k || s > self.floor() {
            let at = self.best.partition_point(|&(b, _)| b >= s);
            self.best.insert(at, (s, r));
            self.best.truncate(self.k);
        }
    }
}

impl Gallery {
    pub fn new(dim: usize, metric: Metric) -> Self {
        Gallery {
            dim,
            metric,
            ids: Vec::new(),
            rows: HashMap::new(),
            samples: Vec::new(),
            strokes: Vec::new(),
            trajectories: Vec::new(),
            templates: Vec::new(),
            coarse: Vec::new(),
            coarse_rows: Vec::new(),
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    pub fn contains(&self, id: &str) -> bool {
        self.rows.contains_key(id)
    }
    /// Ids in enrolment order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }
    pub fn samples(&self, id: &str) -> Option<&[Vec<f32>]> {
        self.rows.get(id).map(|&r| self.samples[r].as_slice())
    }
    pub fn template(&self, id: &str) -> Option<&[f32]> {
        self.rows.get(id).map(|&r| &self.templates[r * self.dim..(r + 1) * self.dim])
    }

    /// Enrols `id`, or replaces its samples when `replace` is set.
    pub fn insert(&mut self, id: &str, samples: Vec<Vec<f32>>, replace: bool) -> Result<()> {
        self.insert_identity(Identity::new(id, samples), replace)
    }

    /// Enrols an identity with its strokes, if any (see [`Identity::strokes`]).
    pub fn insert_identity(&mut self, ident: Identity, replace: bool) -> Result<()> {
        let Identity { id, samples, strokes } = ident;
        let id = id.as_str();
        check_id(id)?;
        check_samples(id, &samples, self.dim)?;
        let trajectories = check_strokes(id, &strokes, samples.len())?;
        let t = template(&samples);
        let (q, c) = coarse_row(&t);
        match self.rows.get(id) {
            Some(_) if !replace => Err(duplicate(id)),
            Some(&r) => {
                self.templates[r * self.dim..(r + 1) * self.dim].copy_from_slice(&t);
                self.coarse[r * self.dim..(r + 1) * self.dim].copy_from_slice(&q);
                self.coarse_rows[r] = c;
                self.samples[r] = samples;
                self.strokes[r] = strokes;
                self.trajectories[r] = trajectories;
                Ok(())
            }
            None => {
                self.rows.insert(id.to_string(), self.ids.len());
                self.ids.push(id.to_string());
                self.templates.extend_from_slice(&t);
                self.coarse.extend_from_slice(&q);
                self.coarse_rows.push(c);
                self.samples.push(samples);
                self.strokes.push(strokes);
                self.trajectories.push(trajectories);
                Ok(())
            }
        }
    }

    pub fn remove(&mut self, id: &str) -> Result<()> {
        let r = self.rows.remove(id).ok_or_else(|| unknown(id))?;
        // Swap the last row into the hole: O(dim), and rows stay contiguous.
        let last = self.ids.len() - 1;
        self.ids.swap_remove(r);
        self.samples.swap_remove(r);
        self.strokes.swap_remove(r);
        self.trajectories.swap_remove(r);
        self.coarse_rows.swap_remove(r);
        if r != last {
            let d = self.dim;
            self.templates.copy_within(last * d..(last + 1) * d, r * d);
            self.coarse.copy_within(last * d..(last + 1) * d, r * d);
            self.rows.insert(self.ids[r].clone(), r);
        }
        self.templates.truncate(last * self.dim);
        self.coarse.truncate(last * self.dim);
        Ok(())
    }

    pub fn clear(&mut self) {
        *self = Gallery::new(self.dim, self.metric);
    }

    /// Whether `id` was enrolled from timed strokes (false for unknown ids).
    pub fn has_motion(&self, id: &str) -> bool {
        self.rows.get(id).is_some_and(|&r| !self.trajectories[r].is_empty())
    }

    /// How far `query`'s pen motion is from `id`'s enrolled drawings
    /// ([`template_distance`]); `None` when `id` was not enrolled from timed strokes.
    pub fn motion_distance(&self, id: &str, query: &Trajectory) -> Result<Option<f32>> {
        let &r = self.rows.get(id).ok_or_else(|| unknown(id))?;
        let enrolled = &self.trajectories[r];
        Ok((!enrolled.is_empty()).then(|| template_distance(enrolled, query)))
    }

    /// The score of `query` against `id`'s template.
    pub fn score(&self, id: &str, query: &[f32]) -> Result<f32> {
        self.check_query(query)?;
        let t = self.template(id).ok_or_else(|| unknown(id))?;
        Ok(self.metric.score(query, t))
    }

    /// The `k` best-scoring identities for `query`, best first.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Match>> {
        self.check_query(query)?;
        let k = k.min(self.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        let best = match self.metric {
            Metric::Cosine => {
                // Templates are unit length; with a unit query cosine is one dot product.
                let mut q = query.to_vec();
                l2_normalize(&mut q);
                self.search_cosine(&q, k)
            }
            Metric::Euclidean => {
                let mut top = TopK::new(k);
                for (r, row) in self.templates.chunks_exact(self.dim).enumerate() {
                    top.push(self.metric.score(query, row), r);
                }
                top.best
            }
        };
        Ok(best.into_iter().map(|(score, r)| Match { id: self.ids[r].clone(), score }).collect())
    }

    /// Exact top `k` by dot product with the unit query `q`: an int8 pass bounds every
    /// row's score, then the rows that can still be in the top `k` are rescored in f32.
    fn search_cosine(&self, q: &[f32], k: usize) -> Vec<(f32, usize)> {
        let (qq, qs, q1) = quantize(q);
        // The k-th best lower bound so far: no row whose upper bound is below it can be in
        // the top k (k rows are known to score at least that much).
        let mut lower = TopK::new(k);
        let mut candidates: Vec<(f32, usize)> = Vec::new();
        for (r, (row, c)) in self.coarse.chunks_exact(self.dim).zip(&self.coarse_rows).enumerate() {
            let approx = qs * c.scale * dot_i8(&qq, row) as f32;
            // Plus a margin for the f32 rounding of both this product and the exact score.
            let err = qs * (c.err + c.scale * q1 / 2.0) + 1e-5;
            if approx + err >= lower.floor() {
                candidates.push((approx + err, r));
            }
            lower.push(approx - err, r);
        }
        let floor = lower.floor();
        let mut top = TopK::new(k);
        for (upper, r) in candidates {
            if upper >= floor {
                top.push(dot(q, &self.templates[r * self.dim..(r + 1) * self.dim]), r);
            }
        }
        top.best
    }

    fn check_query(&self, q: &[f32]) -> Result<()> {
        if q.len() != self.dim {
            return Err(Error::new(
                ErrorCode::BadShape,
                format!(
                    "the query has {} values; the gallery's embeddings have {}",
                    q.len(),
                    self.dim
                ),
            ));
        }
        if q.iter().any(|v| !v.is_finite()) {
            return Err(Error::new(ErrorCode::NotFinite, "the query has NaN or infinite values"));
        }
        Ok(())
    }

    /// Every identity, in enrolment order.
    pub fn identities(&self) -> Vec<Identity> {
        (0..self.ids.len())
            .map(|r| Identity {
                id: self.ids[r].clone(),
                samples: self.samples[r].clone(),
                strokes: self.strokes[r].clone(),
            })
            .collect()
    }
}

/// The error for an id that is not enrolled.
pub fn unknown(id: &str) -> Error {
    Error::new(ErrorCode::UnknownId, format!("'{id}' is not enrolled"))
}

/// The error for enrolling an id that is already enrolled, without `replace`.
pub fn duplicate(id: &str) -> Error {
    Error::new(
        ErrorCode::DuplicateId,
        format!("'{id}' is already enrolled (pass replace: true to replace it)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::strokes::Point;

    /// A timed drawing: a spiral written at an even pace, or backwards.
    fn spiral(turns: f32, backwards: bool) -> Strokes {
        let mut pts: Vec<Point> = (0..120)
            .map(|i| {
                let a = i as f32 / 120.0 * turns * std::f32::consts::TAU;
                let r = 10.0 + i as f32;
                Point { x: r * a.cos(), y: r * a.sin(), t: None, p: None }
            })
            .collect();
        if backwards {
            pts.reverse();
        }
        for (i, p) in pts.iter_mut().enumerate() {
            p.t = Some(i as f64 * 10.0);
        }
        vec![pts]
    }

    #[test]
    fn strokes_enrol_with_their_motion_and_follow_their_identity() {
        let mut g = Gallery::new(3, Metric::Cosine);
        let mut a = Identity::new("a", vec![unit(&[1.0, 0.0, 0.0]), unit(&[1.0, 0.1, 0.0])]);
        a.strokes = vec![spiral(2.0, false), spiral(2.1, false)];
        g.insert_identity(a.clone(), false).unwrap();
        g.insert("b", vec![unit(&[0.0, 1.0, 0.0])], false).unwrap();
        let q = Trajectory::from_strokes(&spiral(2.05, false)).unwrap();
        let back = Trajectory::from_strokes(&spiral(2.05, true)).unwrap();
        let near = g.motion_distance("a", &q).unwrap().unwrap();
        let far = g.motion_distance("a", &back).unwrap().unwrap();
        assert!(near < 0.5 * far, "same direction {near}, backwards {far}");
        assert_eq!(g.motion_distance("b", &q).unwrap(), None);
        assert_eq!(g.motion_distance("c", &q).unwrap_err().code, ErrorCode::UnknownId);
        assert_eq!(g.identities()[0], a);
        // Removing "a" swaps "b" into its row: b's (absent) motion moves with it.
        g.remove("a").unwrap();
        assert_eq!(g.motion_distance("b", &q).unwrap(), None);
        g.insert_identity(a.clone(), false).unwrap();
        assert_eq!(g.motion_distance("a", &q).unwrap(), Some(near));
        // Untimed drawings, or not one per sample, are refused and change nothing.
        let mut bad = a.clone();
        bad.strokes[0][0].iter_mut().for_each(|p| p.t = None);
        assert_eq!(g.insert_identity(bad, true).unwrap_err().code, ErrorCode::BadInput);
        let mut bad = a.clone();
        bad.strokes.pop();
        assert_eq!(g.insert_identity(bad, true).unwrap_err().code, ErrorCode::BadInput);
        assert_eq!(g.identities()[1], a);
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        l2_normalize(&mut v);
        v
    }

    fn assert_close(a: &[f32], b: &[f32]) {
        assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6), "{a:?} != {b:?}");
    }

    fn gallery() -> Gallery {
        let mut g = Gallery::new(3, Metric::Cosine);
        g.insert("x", vec![unit(&[1.0, 0.0, 0.0]), unit(&[1.0, 0.2, 0.0])], false).unwrap();
        g.insert("y", vec![unit(&[0.0, 1.0, 0.0])], false).unwrap();
        g.insert("z", vec![unit(&[0.0, 0.0, 1.0])], false).unwrap();
        g
    }

    #[test]
    fn template_is_normalised_mean() {
        let t = template(&[vec![1.0, 0.0], vec![0.0, 1.0]]);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((t[0] - h).abs() < 1e-6 && (t[1] - h).abs() < 1e-6);
    }

    #[test]
    fn search_ranks_best_first_and_caps_k() {
        let g = gallery();
        let hits = g.search(&[0.1, 0.9, 0.3], 2).unwrap();
        assert_eq!(hits.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["y", "z"]);
        assert!(hits[0].score > hits[1].score);
        // Scores are cosines: the query need not be normalised.
        let c = crate::verify::metrics::cosine(&[0.1, 0.9, 0.3], &[0.0, 1.0, 0.0]);
        assert!((hits[0].score - c).abs() < 1e-6);
        assert_eq!(g.search(&[1.0, 0.0, 0.0], 10).unwrap().len(), 3);
        assert!(Gallery::new(3, Metric::Cosine).search(&[1.0, 0.0, 0.0], 3).unwrap().is_empty());
    }

    #[test]
    fn search_agrees_with_brute_force_on_many_rows() {
        // A deterministic pseudo-random gallery; the top 5 must match a full sort.
        let mut g = Gallery::new(8, Metric::Cosine);
        let mut next = noise(12345);
        for i in 0..500 {
            let v: Vec<f32> = (0..8).map(|_| next()).collect();
            g.insert(&format!("id{i}"), vec![unit(&v)], false).unwrap();
        }
        let q: Vec<f32> = (0..8).map(|_| next()).collect();
        let mut all: Vec<(f32, String)> =
            g.ids().iter().map(|id| (g.score(id, &q).unwrap(), id.clone())).collect();
        all.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
        let hits = g.search(&q, 5).unwrap();
        for (h, (s, id)) in hits.iter().zip(&all) {
            assert_eq!(&h.id, id);
            assert!((h.score - s).abs() < 1e-5);
        }
    }

    /// A deterministic pseudo-random source in [-0.5, 0.5).
    fn noise(seed: u32) -> impl FnMut() -> f32 {
        let mut s = seed;
        move || {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        }
    }

    fn brute_force(g: &Gallery, q: &[f32], k: usize) -> Vec<(String, f32)> {
        let mut q = q.to_vec();
        l2_normalize(&mut q);
        let mut all: Vec<(String, f32)> =
            g.ids().iter().map(|id| (id.clone(), dot(&q, g.template(id).unwrap()))).collect();
        // Stable: equal scores keep enrolment order, as search does.
        all.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
        all.truncate(k);
        all
    }

    #[test]
    fn int8_pass_keeps_search_exact_when_templates_crowd_together() {
        // 128-d templates that all lie near one direction, so thousands of coarse scores
        // fall within the quantisation error of the k-th best: the exact rescoring decides.
        let mut next = noise(7);
        let base: Vec<f32> = (0..128).map(|_| next()).collect();
        for spread in [1e-3f32, 0.05, 1.0] {
            let mut g = Gallery::new(128, Metric::Cosine);
            for i in 0..3000 {
                let v: Vec<f32> = base.iter().map(|b| b + spread * next()).collect();
                g.insert(&format!("id{i}"), vec![unit(&v)], false).unwrap();
            }
            // Replacing and removing rows keeps the int8 copy in step.
            g.insert("id10", vec![unit(&base)], true).unwrap();
            g.remove("id20").unwrap();
            for trial in 0..5 {
                let q: Vec<f32> = base.iter().map(|b| b + spread * next() * trial as f32).collect();
                let hits = g.search(&q, 5).unwrap();
                let want = brute_force(&g, &q, 5);
                assert_eq!(
                    hits.iter().map(|m| (m.id.clone(), m.score)).collect::<Vec<_>>(),
                    want,
                    "spread {spread}, trial {trial}"
                );
            }
        }
    }

    #[test]
    fn duplicate_replace_remove_and_errors() {
        let mut g = gallery();
        assert_eq!(
            g.insert("y", vec![unit(&[1.0, 1.0, 0.0])], false).unwrap_err().code,
            ErrorCode::DuplicateId
        );
        assert_close(g.template("y").unwrap(), &[0.0, 1.0, 0.0]);
        g.insert("y", vec![unit(&[1.0, 1.0, 0.0])], true).unwrap();
        assert_close(g.template("y").unwrap(), &unit(&[1.0, 1.0, 0.0]));
        assert_eq!(g.len(), 3);

        g.remove("x").unwrap();
        assert_eq!(g.len(), 2);
        assert!(!g.contains("x"));
        // The row moved into the hole still answers for its own id.
        assert_close(g.template("z").unwrap(), &[0.0, 0.0, 1.0]);
        assert_eq!(g.search(&[0.0, 0.0, 1.0], 1).unwrap()[0].id, "z");
        assert_eq!(g.remove("x").unwrap_err().code, ErrorCode::UnknownId);
        assert_eq!(g.score("nobody", &[1.0, 0.0, 0.0]).unwrap_err().code, ErrorCode::UnknownId);

        assert_eq!(
            g.insert("", vec![unit(&[1.0, 0.0, 0.0])], false).unwrap_err().code,
            ErrorCode::BadInput
        );
        assert_eq!(g.insert("w", vec![], false).unwrap_err().code, ErrorCode::BadInput);
        assert_eq!(
            g.insert("w", vec![vec![1.0, 0.0]], false).unwrap_err().code,
            ErrorCode::BadShape
        );
        assert_eq!(
            g.insert("w", vec![vec![f32::NAN, 0.0, 0.0]], false).unwrap_err().code,
            ErrorCode::NotFinite
        );
        assert_eq!(g.search(&[1.0, 0.0], 1).unwrap_err().code, ErrorCode::BadShape);
        assert_eq!(g.len(), 2, "failed inserts change nothing");
        g.clear();
        assert!(g.is_empty());
    }
}
