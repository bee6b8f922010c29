//! Class-balanced batches: P identities x K genuine samples each, so rare identities are
//! not drowned by common ones, plus skilled forgeries of the chosen identities as hard
//! negatives where the data has them.

use crate::data::Identity;
use rand::seq::SliceRandom;
use rand::Rng;

/// One batch entry: (identity index, sample index within the identity).
pub type Pick = (usize, usize);

pub struct PkSampler {
    /// Per identity: indices of genuine and of forged samples.
    genuine: Vec<Vec<usize>>,
    forged: Vec<Vec<usize>>,
    eligible: Vec<usize>,
    /// Draw weight of each eligible identity; None when they are all equal (the plain
    /// draw, whose random stream the presets' shipped models were trained with).
    weights: Option<Vec<f64>>,
    pub p: usize,
    pub k: usize,
    /// Forgeries added per chosen identity that has any.
    pub forgeries: usize,
}

impl PkSampler {
    pub fn new(ids: &[Identity], p: usize, k: usize, forgeries: usize) -> Self {
        let genuine: Vec<Vec<usize>> = ids
            .iter()
            .map(|i| {
                i.samples.iter().enumerate().filter(|(_, s)| !s.forged).map(|(j, _)| j).collect()
            })
            .collect();
        let forged: Vec<Vec<usize>> = ids
            .iter()
            .map(|i| {
                i.samples.iter().enumerate().filter(|(_, s)| s.forged).map(|(j, _)| j).collect()
            })
            .collect();
        let eligible: Vec<usize> = (0..ids.len()).filter(|&i| genuine[i].len() >= 2).collect();
        assert!(eligible.len() >= 2, "need at least two identities with two genuine samples each");
        let p = p.min(eligible.len());
        let weights: Vec<f64> = eligible.iter().map(|&i| ids[i].draw_weight).collect();
        let weights = weights.iter().any(|&w| w != weights[0]).then_some(weights);
        PkSampler { genuine, forged, eligible, weights, p, k, forgeries }
    }

    /// A batch and its labels. Genuine samples of identity `i` are labelled `i`; every
    /// forgery gets a label of its own, so it is a negative for everything and a
    /// positive for nothing.
    pub fn batch(&self, rng: &mut impl Rng) -> (Vec<Pick>, Vec<i64>) {
        // P distinct identities, each drawn with its weight.
        let chosen: Vec<usize> = match &self.weights {
            None => self.eligible.choose_multiple(rng, self.p).copied().collect(),
            Some(w) => {
                let slots: Vec<usize> = (0..self.eligible.len()).collect();
                slots
                    .choose_multiple_weighted(rng, self.p, |&j| w[j])
                    .expect("positive draw weights")
                    .map(|&j| self.eligible[j])
                    .collect()
            }
        };
        let mut picks = vec![];
        let mut labels = vec![];
        let mut next_forgery_label = -1i64;
        for &i in &chosen {
            let g = &self.genuine[i];
            // Without replacement while the identity has enough samples.
            let samples: Vec<usize> = if g.len() >= self.k {
                g.choose_multiple(rng, self.k).copied().collect()
            } else {
                (0..self.k).map(|_| *g.choose(rng).unwrap()).collect()
            };
            for s in samples {
                picks.push((i, s));
                labels.push(i as i64);
            }
            for &s in self.forged[i].choose_multiple(rng, self.forgeries) {
                picks.push((i, s));
                labels.push(next_forgery_label);
                next_forgery_label -= 1;
            }
        }
        (picks, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Sample;
    use rand::SeedableRng;
    use std::collections::HashMap;

    fn ids(sizes: &[(usize, usize)]) -> Vec<Identity> {
        sizes
            .iter()
            .enumerate()
            .map(|(n, &(g, f))| Identity {
                name: format!("id{n}"),
                split_key: format!("id{n}"),
                group: String::new(),
                samples: (0..g + f)
                    .map(|k| Sample { forged: k >= g, ..Default::default() })
                    .collect(),
                draw_weight: 1.0,
            })
            .collect()
    }

    #[test]
    fn batches_are_p_by_k_and_balanced_across_rare_and_common_identities() {
        // One identity has 200 samples, the others 3: each is still chosen equally often.
        let data = ids(&[(200, 0), (3, 0), (3, 0), (3, 0), (1, 0)]);
        let s = PkSampler::new(&data, 2, 4, 0);
        let mut rng = rand::thread_rng();
        let mut count: HashMap<i64, usize> = HashMap::new();
        for _ in 0..4000 {
            let (picks, labels) = s.batch(&mut rng);
            assert_eq!(picks.len(), 8);
            let mut distinct = labels.clone();
            distinct.dedup();
            assert_eq!(distinct.len(), 2, "P identities of K consecutive samples");
            for (k, &(i, j)) in picks.iter().enumerate() {
                assert_eq!(labels[k], i as i64);
                assert!(!data[i].samples[j].forged);
            }
            *count.entry(labels[0]).or_default() += 1;
            *count.entry(labels[4]).or_default() += 1;
        }
        assert!(!count.contains_key(&4), "an identity with one sample cannot form a positive");
        for id in 0..4 {
            let c = count[&id] as f64 / 8000.0;
            assert!((c - 0.25).abs() < 0.03, "identity {id} chosen {c}");
        }
    }

    #[test]
    fn forgeries_are_negatives_only() {
        let data = ids(&[(5, 5), (5, 5), (5, 0)]);
        let s = PkSampler::new(&data, 3, 2, 2);
        let (picks, labels) = s.batch(&mut rand::thread_rng());
        assert_eq!(picks.len(), 3 * 2 + 2 * 2);
        let forged: Vec<i64> = picks
            .iter()
            .zip(&labels)
            .filter(|((i, j), _)| data[*i].samples[*j].forged)
            .map(|(_, &l)| l)
            .collect();
        assert_eq!(forged.len(), 4);
        assert!(forged.iter().all(|&l| l < 0 && labels.iter().filter(|&&m| m == l).count() == 1));
    }

    #[test]
    fn identities_are_drawn_by_their_weight() {
        // One identity of weight 1 and four of a quarter (a character and its turned
        // copies would be 0.25 each): the heavy one is half the draws.
        let mut data = ids(&[(4, 0); 5]);
        for id in &mut data[1..] {
            id.draw_weight = 0.25;
        }
        let s = PkSampler::new(&data, 1, 2, 0);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let n = 8000;
        let heavy = (0..n).filter(|_| s.batch(&mut rng).1[0] == 0).count() as f64 / n as f64;
        assert!((heavy - 0.5).abs() < 0.03, "weight-1 identity drawn {heavy}");
    }
}
