//! Metric-learning losses on L2-normalised embeddings, scored by cosine similarity:
//! contrastive, triplet (batch-hard or semi-hard mining) and circle loss.

use crate::mining::{balanced_pairs, batch_hard, semi_hard, Batch};
use burn::prelude::*;
use burn::tensor::activation::{relu, softplus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// Contrastive on Euclidean distance between unit vectors, balanced hard pairs.
    Contrastive,
    /// Triplet, hardest positive and negative per anchor.
    TripletBatchHard,
    /// Triplet, FaceNet semi-hard negatives.
    TripletSemiHard,
    /// Circle loss (Sun et al., CVPR 2020) over all pairs of the batch.
    Circle,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct LossParams {
    pub kind: LossKind,
    /// Triplet: similarity margin. Contrastive: distance margin. Circle: relaxation m.
    pub margin: f32,
    /// Circle loss scale gamma.
    pub scale: f32,
}

/// A loss value with what is worth logging about the batch.
pub struct LossOut {
    pub loss: Tensor<1>,
    /// Fraction of mined triplets or pairs that still violate the margin.
    pub active: f32,
    /// Mean cosine distance (1 - cosine) of positive and of negative pairs in the batch:
    /// both collapsing to the same value means the encoder has collapsed.
    pub mean_pos_dist: f32,
    pub mean_neg_dist: f32,
}

fn index_tensor(idx: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = idx.len();
    Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), device)
}

/// Row-wise dot products of `e[a_i]` and `e[b_i]`: `[len, 1]`.
fn pair_sims(e: &Tensor<2>, a: Vec<i64>, b: Vec<i64>) -> Tensor<2> {
    let device = e.device();
    let ea = e.clone().select(0, index_tensor(a, &device));
    let eb = e.clone().select(0, index_tensor(b, &device));
    (ea * eb).sum_dim(1)
}

pub fn compute(params: &LossParams, e: Tensor<2>, labels: &[i64]) -> LossOut {
    let n = labels.len();
    let device = e.device();
    let sim_t = e.clone().matmul(e.clone().transpose());
    let sim: Vec<f32> = sim_t.clone().into_data().try_to_vec::<f32>().expect("f32 similarities");
    let batch = Batch { sim: &sim, labels };
    let (mut pos_d, mut neg_d, mut np, mut nn) = (0.0f32, 0.0f32, 0usize, 0usize);
    for i in 0..n {
        for j in i + 1..n {
            let d = 1.0 - batch.s(i, j);
            if labels[i] == labels[j] {
                pos_d += d;
                np += 1
            } else {
                neg_d += d;
                nn += 1
            }
        }
    }
    let (mean_pos_dist, mean_neg_dist) = (pos_d / np.max(1) as f32, neg_d / nn.max(1) as f32);
    let m = params.margin;
    let (loss, active) = match params.kind {
        LossKind::TripletBatchHard | LossKind::TripletSemiHard => {
            let t = if params.kind == LossKind::TripletBatchHard {
                batch_hard(&batch)
            } else {
                semi_hard(&batch)
            };
            let active =
                t.iter().filter(|t| batch.s(t.a, t.n) - batch.s(t.a, t.p) + m > 0.0).count() as f32
                    / t.len().max(1) as f32;
            let a: Vec<i64> = t.iter().map(|t| t.a as i64).collect();
            let s_ap = pair_sims(&e, a.clone(), t.iter().map(|t| t.p as i64).collect());
            let s_an = pair_sims(&e, a, t.iter().map(|t| t.n as i64).collect());
            (relu(s_an - s_ap + m).mean(), active)
        }
        LossKind::Contrastive => {
            let (pos, neg) = balanced_pairs(&batch);
            let d = |s: f32| (2.0 - 2.0 * s).max(0.0).sqrt();
            let active = neg.iter().filter(|&&(i, j)| d(batch.s(i, j)) < m).count() as f32
                / neg.len().max(1) as f32;
            let s_pos = pair_sims(
                &e,
                pos.iter().map(|p| p.0 as i64).collect(),
                pos.iter().map(|p| p.1 as i64).collect(),
            );
            let s_neg = pair_sims(
                &e,
                neg.iter().map(|p| p.0 as i64).collect(),
                neg.iter().map(|p| p.1 as i64).collect(),
            );
            // Squared distance between unit vectors is 2 - 2 cos.
            let pos_term = s_pos.mul_scalar(-2.0).add_scalar(2.0);
            let d_neg = s_neg.mul_scalar(-2.0).add_scalar(2.0).clamp_min(1e-12).sqrt();
            let neg_term = relu(d_neg.neg().add_scalar(m)).powf_scalar(2.0);
            (Tensor::cat(vec![pos_term, neg_term], 0).mean(), active)
        }
        LossKind::Circle => {
            let mut pos_mask = vec![0.0f32; n * n];
            let mut neg_mask = vec![0.0f32; n * n];
            let mut anchor = vec![0.0f32; n];
            for i in 0..n {
                for j in 0..n {
                    if i != j && labels[i] == labels[j] {
                        pos_mask[i * n + j] = 1.0;
                        anchor[i] = 1.0;
                    } else if labels[i] != labels[j] {
                        neg_mask[i * n + j] = 1.0;
                    }
                }
            }
            let mut active_pairs = 0usize;
            for i in 0..n {
                for j in 0..n {
                    let s = batch.s(i, j);
                    if (pos_mask[i * n + j] == 1.0 && s < 1.0 - m)
                        || (neg_mask[i * n + j] == 1.0 && s > m)
                    {
                        active_pairs += 1;
                    }
                }
            }
            let total = pos_mask.iter().chain(&neg_mask).filter(|&&v| v == 1.0).count();
            let pm = Tensor::<2>::from_data(TensorData::new(pos_mask, [n, n]), &device);
            let nm = Tensor::<2>::from_data(TensorData::new(neg_mask, [n, n]), &device);
            let w = Tensor::<2>::from_data(TensorData::new(anchor, [n, 1]), &device);
            let gamma = params.scale;
            let alpha_p = relu(sim_t.clone().neg().add_scalar(1.0 + m)).detach();
            let alpha_n = relu(sim_t.clone().add_scalar(m)).detach();
            let logit_p = (alpha_p * sim_t.clone().sub_scalar(1.0 - m)).mul_scalar(-gamma);
            let logit_n = (alpha_n * sim_t.sub_scalar(m)).mul_scalar(gamma);
            let lse_p = masked_logsumexp(logit_p, pm);
            let lse_n = masked_logsumexp(logit_n, nm);
            let per_anchor = softplus(lse_p + lse_n, 1.0) * w.clone();
            (
                per_anchor.sum().div(w.sum().clamp_min(1.0)),
                active_pairs as f32 / total.max(1) as f32,
            )
        }
    };
    LossOut { loss, active, mean_pos_dist, mean_neg_dist }
}

/// log(sum_j mask_ij exp(x_ij)) per row, stable; rows with an empty mask give about -1e4.
fn masked_logsumexp(x: Tensor<2>, mask: Tensor<2>) -> Tensor<2> {
    let xm = x * mask.clone() + (mask.clone() - 1.0) * 1e4;
    let mx = xm.clone().max_dim(1).detach();
    ((xm - mx.clone()).exp() * mask).sum_dim(1).clamp_min(1e-30).log() + mx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::flex()
    }

    /// Unit vectors at the given angles (degrees).
    fn at_angles(deg: &[f32]) -> Tensor<2> {
        let v: Vec<f32> =
            deg.iter().flat_map(|d| [d.to_radians().cos(), d.to_radians().sin()]).collect();
        Tensor::<2>::from_data(TensorData::new(v, [deg.len(), 2]), &device())
    }

    fn value(out: &LossOut) -> f32 {
        out.loss.clone().into_scalar::<f32>()
    }

    #[test]
    fn triplet_batch_hard_by_hand() {
        // Labels [0, 0, 1]: anchors 0 and 1 (cos 60 deg = 0.5 apart); the negative sits
        // 90 deg from 0 and 30 deg from 1.
        let e = at_angles(&[0.0, 60.0, 90.0]);
        let p = LossParams { kind: LossKind::TripletBatchHard, margin: 0.2, scale: 0.0 };
        let out = compute(&p, e, &[0, 0, 1]);
        // anchor 0: relu(cos90 - cos60 + 0.2) = relu(0 - 0.5 + 0.2) = 0
        // anchor 1: relu(cos30 - cos60 + 0.2) = 0.8660 - 0.5 + 0.2 = 0.5660
        assert!((value(&out) - 0.5660 / 2.0).abs() < 1e-4, "{}", value(&out));
        assert_eq!(out.active, 0.5);
        assert!((out.mean_pos_dist - 0.5).abs() < 1e-5);
    }

    #[test]
    fn contrastive_by_hand() {
        // One positive pair at 60 deg (d^2 = 2 - 2*0.5 = 1) and the hardest negative
        // pair (1,2) at 30 deg: d = sqrt(2 - 2*0.866) = 0.5176, margin 1:
        // (1 - 0.5176)^2 = 0.2327. Mean of the two: 0.6164.
        let e = at_angles(&[0.0, 60.0, 90.0]);
        let p = LossParams { kind: LossKind::Contrastive, margin: 1.0, scale: 0.0 };
        let out = compute(&p, e, &[0, 0, 1]);
        assert!((value(&out) - 0.6164).abs() < 1e-3, "{}", value(&out));
    }

    #[test]
    fn circle_by_hand() {
        // Two samples of one class at 60 deg, and one other class far away at 180 deg.
        // Anchor 0: s_p = 0.5, s_n = cos 180 = -1 (alpha_n = relu(-1 + m) = 0 -> logit 0).
        //   alpha_p = 1 + 0.25 - 0.5 = 0.75; logit_p = -g * 0.75 * (0.5 - 0.75) = 0.1875 g.
        //   With g = 4: softplus(0.75 + 0) = ln(1 + e^0.75) = ln(3.1170) = 1.1369.
        // Anchor 1 (at 60 deg): s_n = cos 120 = -0.5, alpha_n = 0 as well: same value.
        let e = at_angles(&[0.0, 60.0, 180.0]);
        let p = LossParams { kind: LossKind::Circle, margin: 0.25, scale: 4.0 };
        let out = compute(&p, e, &[0, 0, 1]);
        assert!((value(&out) - 1.1369).abs() < 1e-3, "{}", value(&out));
    }

    #[test]
    fn gradients_pull_positives_together() {
        let dev = device().autodiff();
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.6, 0.8, 0.0, 1.0], [3, 2]),
            &dev,
        )
        .require_grad();
        let p = LossParams { kind: LossKind::TripletBatchHard, margin: 0.5, scale: 0.0 };
        let out = compute(&p, x.clone(), &[0, 0, 1]);
        let grads = out.loss.backward();
        let g = x.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
        // Anchor 1 violates the margin (its negative is closer than its positive). Descent
        // moves against the gradient, so a negative x-gradient on sample 1 moves it
        // towards its positive (1, 0) and away from the negative (0, 1).
        assert!(g[2] < 0.0, "{g:?}");
    }
}
