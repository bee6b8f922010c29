//! Threshold calibration from genuine and impostor scores: ROC, AUC, EER and
//! target-FAR thresholds. Scores are "higher is more alike"; a pair is accepted when
//! `score >= threshold`.

use serde::{Deserialize, Serialize};

/// False accept and false reject rates at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    pub threshold: f32,
    pub far: f64,
    pub frr: f64,
}

/// The equal-error point: the threshold where FAR and FRR are closest, and their mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eer {
    pub eer: f64,
    pub threshold: f32,
}

fn sorted(scores: &[f32]) -> Vec<f32> {
    let mut v: Vec<f32> = scores.iter().copied().filter(|s| s.is_finite()).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

/// Number of elements of ascending `v` that are `>= t`.
fn count_at_or_above(v: &[f32], t: f32) -> usize {
    v.len() - v.partition_point(|&x| x < t)
}

/// FAR and FRR at `threshold`.
pub fn rates_at(genuine: &[f32], impostor: &[f32], threshold: f32) -> OperatingPoint {
    let g = sorted(genuine);
    let i = sorted(impostor);
    point(&g, &i, threshold)
}

fn point(g: &[f32], i: &[f32], t: f32) -> OperatingPoint {
    let far = count_at_or_above(i, t) as f64 / i.len().max(1) as f64;
    let frr = (g.len() - count_at_or_above(g, t)) as f64 / g.len().max(1) as f64;
    OperatingPoint { threshold: t, far, frr }
}

/// Every distinct operating point, from the strictest threshold to the most lenient.
/// The first point accepts nothing (FAR 0, FRR 1) and the last accepts everything.
pub fn roc(genuine: &[f32], impostor: &[f32]) -> Vec<OperatingPoint> {
    let g = sorted(genuine);
    let i = sorted(impostor);
    let mut thresholds: Vec<f32> = g.iter().chain(i.iter()).copied().collect();
    thresholds.sort_by(|a, b| b.partial_cmp(a).unwrap());
    thresholds.dedup();
    let mut out = Vec::with_capacity(thresholds.len() + 1);
    let top = thresholds.first().copied().unwrap_or(0.0);
    out.push(point(&g, &i, next_up(top)));
    out.extend(thresholds.iter().map(|&t| point(&g, &i, t)));
    out
}

/// Area under the ROC curve: the probability that a random genuine pair scores above a
/// random impostor pair (ties count one half), by the Mann-Whitney rank sum.
pub fn auc(genuine: &[f32], impostor: &[f32]) -> f64 {
    let g = sorted(genuine);
    let i = sorted(impostor);
    if g.is_empty() || i.is_empty() {
        return f64::NAN;
    }
    let mut wins = 0.0f64;
    for &s in &g {
        let below = i.partition_point(|&x| x < s);
        let ties = i.partition_point(|&x| x <= s) - below;
        wins += below as f64 + 0.5 * ties as f64;
    }
    wins / (g.len() as f64 * i.len() as f64)
}

/// Equal error rate and the threshold where it occurs.
pub fn eer(genuine: &[f32], impostor: &[f32]) -> Eer {
    let mut best = Eer { eer: 1.0, threshold: 0.0 };
    let mut best_gap = f64::INFINITY;
    for p in roc(genuine, impostor) {
        let gap = (p.far - p.frr).abs();
        if gap < best_gap {
            best_gap = gap;
            best = Eer { eer: (p.far + p.frr) / 2.0, threshold: p.threshold };
        }
    }
    best
}

/// The most lenient threshold whose FAR does not exceed `target_far`.
pub fn threshold_for_far(impostor: &[f32], target_far: f64) -> f32 {
    let i = sorted(impostor);
    if i.is_empty() {
        return f32::NEG_INFINITY;
    }
    // At most `allowed` impostors may score at or above the threshold.
    let allowed = (target_far.clamp(0.0, 1.0) * i.len() as f64 + 1e-9).floor() as usize;
    if allowed >= i.len() {
        return i[0];
    }
    // Just above the (allowed+1)-th highest impostor score.
    next_up(i[i.len() - 1 - allowed])
}

/// The smallest f32 greater than `x` (for finite x).
fn next_up(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f32::from_bits(1);
    }
    let bits = x.to_bits();
    if x > 0.0 {
        f32::from_bits(bits + 1)
    } else {
        f32::from_bits(bits - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eer_on_overlapping_scores() {
        // At threshold 0.75 one of three genuine pairs is rejected and one of three
        // impostors accepted: FAR = FRR = 1/3.
        let e = eer(&[0.9, 0.8, 0.7], &[0.1, 0.2, 0.75]);
        assert!((e.eer - 1.0 / 3.0).abs() < 1e-9, "{e:?}");
        assert_eq!(e.threshold, 0.75);
    }

    #[test]
    fn separable_scores_have_zero_eer_and_unit_auc() {
        let g = [0.9, 0.95, 0.8];
        let i = [0.1, 0.3, 0.2, 0.5];
        assert_eq!(eer(&g, &i).eer, 0.0);
        assert_eq!(auc(&g, &i), 1.0);
        let t = eer(&g, &i).threshold;
        let p = rates_at(&g, &i, t);
        assert_eq!((p.far, p.frr), (0.0, 0.0));
    }

    #[test]
    fn auc_counts_ties_as_half() {
        assert_eq!(auc(&[0.5], &[0.5]), 0.5);
        assert_eq!(auc(&[0.2], &[0.4]), 0.0);
        assert!((auc(&[0.3, 0.6], &[0.4, 0.5]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn roc_runs_from_reject_all_to_accept_all() {
        let r = roc(&[0.9, 0.4], &[0.5, 0.1]);
        assert_eq!((r[0].far, r[0].frr), (0.0, 1.0));
        let last = r.last().unwrap();
        assert_eq!((last.far, last.frr), (1.0, 0.0));
    }

    #[test]
    fn target_far_threshold() {
        let imp: Vec<f32> = (0..100).map(|k| k as f32 / 100.0).collect();
        let t = threshold_for_far(&imp, 0.05);
        let p = rates_at(&[1.0], &imp, t);
        assert_eq!(p.far, 0.05);
        assert!(t > 0.94 && t <= 0.95 + 1e-6, "{t}");
        assert!(threshold_for_far(&imp, 0.0) > 0.99);
    }
}
