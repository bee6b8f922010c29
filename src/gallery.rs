//! The gallery: enrolled identities, each with its sample embeddings and a template
//! (their normalised mean), and 1:N search over the templates.
//!
//! Templates live in one contiguous row-major buffer so that a search is a single pass of
//! dot products over memory the CPU (and wasm's simd128) streams well; the per-identity
//! samples are kept only to rebuild templates and to export.

use crate::error::{Error, ErrorCode, Result};
use crate::metrics::{dot, l2_normalize, Metric};
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

/// Checks an id: non-empty, at most [`MAX_ID_BYTES`], no control characters.
pub fn check_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::new(ErrorCode::BadInput, "an id must not be empty"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::new(ErrorCode::BadInput, format!("an id is at most {MAX_ID_BYTES} bytes (got {})", id.len())));
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
            return Err(Error::new(ErrorCode::BadShape, format!("'{id}' has an embedding of {} values; the model's have {dim}", s.len())));
        }
        if s.iter().any(|v| !v.is_finite()) {
            return Err(Error::new(ErrorCode::NotFinite, format!("'{id}' has an embedding with NaN or infinite values")));
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Gallery {
    dim: usize,
    metric: Metric,
    ids: Vec<String>,
    rows: HashMap<String, usize>,
    samples: Vec<Vec<Vec<f32>>>,
    /// `ids.len() * dim` values; row `i` is the template of `ids[i]`.
    templates: Vec<f32>,
}

impl Gallery {
    pub fn new(dim: usize, metric: Metric) -> Self {
        Gallery { dim, metric, ids: Vec::new(), rows: HashMap::new(), samples: Vec::new(), templates: Vec::new() }
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
        check_id(id)?;
        check_samples(id, &samples, self.dim)?;
        let t = template(&samples);
        match self.rows.get(id) {
            Some(_) if !replace => Err(duplicate(id)),
            Some(&r) => {
                self.templates[r * self.dim..(r + 1) * self.dim].copy_from_slice(&t);
                self.samples[r] = samples;
                Ok(())
            }
            None => {
                self.rows.insert(id.to_string(), self.ids.len());
                self.ids.push(id.to_string());
                self.templates.extend_from_slice(&t);
                self.samples.push(samples);
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
        if r != last {
            let (head, tail) = self.templates.split_at_mut(last * self.dim);
            head[r * self.dim..(r + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
            self.rows.insert(self.ids[r].clone(), r);
        }
        self.templates.truncate(last * self.dim);
        Ok(())
    }

    pub fn clear(&mut self) {
        *self = Gallery::new(self.dim, self.metric);
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
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
        let mut floor = f32::NEG_INFINITY;
        let mut q = query.to_vec();
        if self.metric == Metric::Cosine {
            // Templates are unit length; with a unit query cosine is one dot product.
            l2_normalize(&mut q);
        }
        for (r, row) in self.templates.chunks_exact(self.dim).enumerate() {
            let s = match self.metric {
                Metric::Cosine => dot(&q, row),
                Metric::Euclidean => self.metric.score(&q, row),
            };
            if best.len() < k || s > floor {
                // Insertion into a short sorted list: k is small (a handful of candidates).
                let at = best.partition_point(|&(b, _)| b >= s);
                best.insert(at, (s, r));
                best.truncate(k);
                if best.len() == k {
                    floor = best[k - 1].0;
                }
            }
        }
        Ok(best.into_iter().map(|(score, r)| Match { id: self.ids[r].clone(), score }).collect())
    }

    fn check_query(&self, q: &[f32]) -> Result<()> {
        if q.len() != self.dim {
            return Err(Error::new(ErrorCode::BadShape, format!("the query has {} values; the gallery's embeddings have {}", q.len(), self.dim)));
        }
        if q.iter().any(|v| !v.is_finite()) {
            return Err(Error::new(ErrorCode::NotFinite, "the query has NaN or infinite values"));
        }
        Ok(())
    }

    /// Every identity, in enrolment order.
    pub fn identities(&self) -> Vec<Identity> {
        self.ids.iter().zip(&self.samples).map(|(id, s)| Identity { id: id.clone(), samples: s.clone() }).collect()
    }
}

/// The error for an id that is not enrolled.
pub fn unknown(id: &str) -> Error {
    Error::new(ErrorCode::UnknownId, format!("'{id}' is not enrolled"))
}

/// The error for enrolling an id that is already enrolled, without `replace`.
pub fn duplicate(id: &str) -> Error {
    Error::new(ErrorCode::DuplicateId, format!("'{id}' is already enrolled (pass replace: true to replace it)"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let c = crate::metrics::cosine(&[0.1, 0.9, 0.3], &[0.0, 1.0, 0.0]);
        assert!((hits[0].score - c).abs() < 1e-6);
        assert_eq!(g.search(&[1.0, 0.0, 0.0], 10).unwrap().len(), 3);
        assert!(Gallery::new(3, Metric::Cosine).search(&[1.0, 0.0, 0.0], 3).unwrap().is_empty());
    }

    #[test]
    fn search_agrees_with_brute_force_on_many_rows() {
        // A deterministic pseudo-random gallery; the top 5 must match a full sort.
        let mut g = Gallery::new(8, Metric::Cosine);
        let mut s = 12345u32;
        let mut next = || {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for i in 0..500 {
            let v: Vec<f32> = (0..8).map(|_| next()).collect();
            g.insert(&format!("id{i}"), vec![unit(&v)], false).unwrap();
        }
        let q: Vec<f32> = (0..8).map(|_| next()).collect();
        let mut all: Vec<(f32, String)> = g.ids().iter().map(|id| (g.score(id, &q).unwrap(), id.clone())).collect();
        all.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
        let hits = g.search(&q, 5).unwrap();
        for (h, (s, id)) in hits.iter().zip(&all) {
            assert_eq!(&h.id, id);
            assert!((h.score - s).abs() < 1e-5);
        }
    }

    #[test]
    fn duplicate_replace_remove_and_errors() {
        let mut g = gallery();
        assert_eq!(g.insert("y", vec![unit(&[1.0, 1.0, 0.0])], false).unwrap_err().code, ErrorCode::DuplicateId);
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

        assert_eq!(g.insert("", vec![unit(&[1.0, 0.0, 0.0])], false).unwrap_err().code, ErrorCode::BadInput);
        assert_eq!(g.insert("w", vec![], false).unwrap_err().code, ErrorCode::BadInput);
        assert_eq!(g.insert("w", vec![vec![1.0, 0.0]], false).unwrap_err().code, ErrorCode::BadShape);
        assert_eq!(g.insert("w", vec![vec![f32::NAN, 0.0, 0.0]], false).unwrap_err().code, ErrorCode::NotFinite);
        assert_eq!(g.search(&[1.0, 0.0], 1).unwrap_err().code, ErrorCode::BadShape);
        assert_eq!(g.len(), 2, "failed inserts change nothing");
        g.clear();
        assert!(g.is_empty());
    }
}
