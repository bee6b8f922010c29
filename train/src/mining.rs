//! Online hard example mining on a batch's similarity matrix (cosine, "higher is more
//! alike"), plain Rust so it is tested on constructed batches. Miners return index
//! triples; the losses gather those rows of the embedding tensor.

/// `sim` is `n x n` row-major; `labels[i] == labels[j]` marks a positive pair.
pub struct Batch<'a> {
    pub sim: &'a [f32],
    pub labels: &'a [i64],
}

impl Batch<'_> {
    pub fn n(&self) -> usize {
        self.labels.len()
    }
    pub fn s(&self, i: usize, j: usize) -> f32 {
        self.sim[i * self.n() + j]
    }
    fn positives(&self, a: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.n()).filter(move |&j| j != a && self.labels[j] == self.labels[a])
    }
    fn negatives(&self, a: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.n()).filter(move |&j| self.labels[j] != self.labels[a])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triplet {
    pub a: usize,
    pub p: usize,
    pub n: usize,
}

fn argmax(it: impl Iterator<Item = (usize, f32)>) -> Option<usize> {
    it.fold(None, |best: Option<(usize, f32)>, (j, v)| match best {
        Some((_, bv)) if bv >= v => best,
        _ => Some((j, v)),
    })
    .map(|(j, _)| j)
}

/// Batch-hard: for each anchor with a positive, its least similar positive and its
/// most similar negative.
pub fn batch_hard(b: &Batch) -> Vec<Triplet> {
    (0..b.n())
        .filter_map(|a| {
            let p = argmax(b.positives(a).map(|j| (j, -b.s(a, j))))?;
            let n = argmax(b.negatives(a).map(|j| (j, b.s(a, j))))?;
            Some(Triplet { a, p, n })
        })
        .collect()
}

/// Semi-hard (FaceNet): for every anchor-positive pair, the most similar negative that
/// is still less similar than the positive (`s_an < s_ap`); when there is none, the
/// least similar negative, as TensorFlow Addons' `triplet_semihard_loss` does.
pub fn semi_hard(b: &Batch) -> Vec<Triplet> {
    let mut out = vec![];
    for a in 0..b.n() {
        for p in b.positives(a) {
            let sap = b.s(a, p);
            let semi = argmax(b.negatives(a).filter(|&j| b.s(a, j) < sap).map(|j| (j, b.s(a, j))));
            let n = semi.or_else(|| argmax(b.negatives(a).map(|j| (j, -b.s(a, j)))));
            if let Some(n) = n {
                out.push(Triplet { a, p, n });
            }
        }
    }
    out
}

/// Pairs of batch indices.
pub type Pairs = Vec<(usize, usize)>;

/// Pairs for the contrastive loss, balanced: every positive pair, and as many negative
/// pairs, the most similar (hardest) first.
pub fn balanced_pairs(b: &Batch) -> (Pairs, Pairs) {
    let mut pos = vec![];
    let mut neg = vec![];
    for i in 0..b.n() {
        for j in i + 1..b.n() {
            if b.labels[i] == b.labels[j] {
                pos.push((i, j))
            } else {
                neg.push((i, j))
            }
        }
    }
    neg.sort_by(|x, y| b.s(y.0, y.1).partial_cmp(&b.s(x.0, x.1)).unwrap());
    neg.truncate(pos.len().max(1));
    (pos, neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four samples, labels [0, 0, 0, 1]; sample 2 is the far positive of 0 and sample 3
    /// the close negative.
    fn batch() -> (Vec<f32>, Vec<i64>) {
        #[rustfmt::skip]
        let sim = vec![
            1.0, 0.9, 0.2, 0.6,
            0.9, 1.0, 0.3, 0.1,
            0.2, 0.3, 1.0, 0.4,
            0.6, 0.1, 0.4, 1.0,
        ];
        (sim, vec![0, 0, 0, 1])
    }

    #[test]
    fn batch_hard_picks_farthest_positive_and_closest_negative() {
        let (sim, labels) = batch();
        let t = batch_hard(&Batch { sim: &sim, labels: &labels });
        // Anchor 3 has no positive.
        assert_eq!(
            t,
            vec![
                Triplet { a: 0, p: 2, n: 3 },
                Triplet { a: 1, p: 2, n: 3 },
                Triplet { a: 2, p: 0, n: 3 }
            ]
        );
    }

    #[test]
    fn semi_hard_picks_negatives_just_beyond_the_positive() {
        let (sim, labels) = batch();
        let t = semi_hard(&Batch { sim: &sim, labels: &labels });
        // (0,1): s_ap 0.9, negative 3 at 0.6 < 0.9: semi-hard.
        assert!(t.contains(&Triplet { a: 0, p: 1, n: 3 }));
        // (0,2): s_ap 0.2, negative at 0.6 is harder than the positive: no semi-hard one,
        // falls back to the least similar negative (the only one).
        assert!(t.contains(&Triplet { a: 0, p: 2, n: 3 }));
        assert_eq!(t.len(), 6);
    }

    #[test]
    fn semi_hard_prefers_the_closest_negative_below_the_positive() {
        #[rustfmt::skip]
        let sim = vec![
            1.0, 0.5, 0.4, 0.1, 0.7,
            0.5, 1.0, 0.0, 0.0, 0.0,
            0.4, 0.0, 1.0, 0.0, 0.0,
            0.1, 0.0, 0.0, 1.0, 0.0,
            0.7, 0.0, 0.0, 0.0, 1.0,
        ];
        let labels = [0, 0, 1, 2, 3];
        let t = semi_hard(&Batch { sim: &sim, labels: &labels });
        assert_eq!(
            t[0],
            Triplet { a: 0, p: 1, n: 2 },
            "0.4 is the closest negative below 0.5; 0.7 is too hard"
        );
    }

    #[test]
    fn pairs_are_balanced_and_hardest_first() {
        let (sim, labels) = batch();
        let (pos, neg) = balanced_pairs(&Batch { sim: &sim, labels: &labels });
        assert_eq!(pos, vec![(0, 1), (0, 2), (1, 2)]);
        assert_eq!(neg, vec![(0, 3), (2, 3), (1, 3)]);
    }
}
