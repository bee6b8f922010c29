//! Operating points: the thresholds a user picks by the errors they accept, measured on
//! validation writers as the library verifies (templates of enrolled samples), and
//! written into a model's metadata.

use crate::eval::PairScores;
use anyhow::{Context, Result};
use prost::Message;
use siamese_wasm::runtime::metadata::{ModelMetadata, NamedPoint, OperatingPoints};

/// The named points, by their false-accept target (`eer` is the equal-error point).
pub const NAMED: [(&str, Option<f64>); 3] =
    [("eer", None), ("far1", Some(0.01)), ("far01", Some(0.001))];

/// The macro-averaged ROC over datasets: at each threshold (every distinct score, most
/// strict first) the mean over datasets of its false-accept rate against `impostors(s)`
/// and of its false-reject rate. Averaging per dataset keeps the largest set from setting
/// every other set's bar.
pub fn macro_curve(
    sets: &[&PairScores],
    impostors: impl Fn(&PairScores) -> &[f32],
) -> Vec<(f32, f64, f64)> {
    let sorted = |v: &[f32]| {
        let mut v: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f32::total_cmp);
        v
    };
    let prepared: Vec<(Vec<f32>, Vec<f32>)> =
        sets.iter().map(|s| (sorted(&s.genuine), sorted(impostors(s)))).collect();
    let mut thresholds: Vec<f32> =
        prepared.iter().flat_map(|(g, i)| g.iter().chain(i)).copied().collect();
    thresholds.sort_by(|a, b| b.total_cmp(a));
    thresholds.dedup();
    let above = |v: &[f32], t: f32| {
        (v.len() - v.partition_point(|&x| x < t)) as f64 / v.len().max(1) as f64
    };
    let n = prepared.len().max(1) as f64;
    thresholds
        .into_iter()
        .map(|t| {
            let far = prepared.iter().map(|(_, i)| above(i, t)).sum::<f64>() / n;
            let frr = prepared.iter().map(|(g, _)| 1.0 - above(g, t)).sum::<f64>() / n;
            (t, far, frr)
        })
        .collect()
}

/// The named points of `curve` and a thinned copy of it (a point kept where the
/// false-accept rate moved by 0.05 point or the false-reject rate by 0.5 since the last
/// one kept, and every point up to a 1% false-accept rate), `default` naming the one the
/// model's `threshold` is.
pub fn operating_points(
    curve: &[(f32, f64, f64)],
    default: &str,
    impostors: String,
) -> Result<OperatingPoints> {
    anyhow::ensure!(!curve.is_empty(), "no scores to calibrate on");
    let mut points = vec![];
    for (name, target) in NAMED {
        let (t, far, frr) = match target {
            None => *curve
                .iter()
                .min_by(|a, b| (a.1 - a.2).abs().total_cmp(&(b.1 - b.2).abs()))
                .unwrap(),
            // The most lenient threshold whose false-accept rate is within the target.
            Some(target) => *curve
                .iter()
                .take_while(|c| c.1 <= target)
                .last()
                .context("no threshold meets the target")?,
        };
        points.push(NamedPoint { name: name.into(), threshold: t, far, frr });
    }
    anyhow::ensure!(
        points.iter().any(|p| p.name == default),
        "no operating point named {default:?}"
    );
    let mut thinned: Vec<(f32, f64, f64)> = vec![];
    for &c in curve {
        let keep = thinned.last().is_none_or(|l: &(f32, f64, f64)| {
            c.1 <= 0.01 || c.1 - l.1 >= 0.0005 || (c.2 - l.2).abs() >= 0.005
        });
        if keep {
            thinned.push(c);
        }
    }
    Ok(OperatingPoints { impostors, default: default.into(), points, curve: thinned })
}

/// `bytes` (an ONNX model with siamese metadata) with `points` in its metadata and its
/// `threshold` set to the default point's.
pub fn with_operating_points(bytes: &[u8], points: OperatingPoints) -> Result<Vec<u8>> {
    let mut model = siamese_wasm::runtime::onnx::decode(bytes).context("not an ONNX model")?;
    let mut meta = ModelMetadata::from_props(
        model.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())),
    )?
    .context("the model carries no siamese metadata")?;
    meta.threshold = points.get(&points.default).expect("checked by operating_points").threshold;
    meta.operating_points = Some(points);
    // Our keys replaced, anyone else's kept.
    let ours: Vec<(String, String)> = meta.to_props();
    model
        .metadata_props
        .retain(|p| !ours.iter().any(|(k, _)| *k == p.key) && p.key != "operating_points");
    model
        .metadata_props
        .extend(ours.into_iter().map(|(key, value)| {
            siamese_wasm::runtime::onnx::StringStringEntryProto { key, value }
        }));
    Ok(model.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(genuine: &[f32], skilled: &[f32]) -> PairScores {
        PairScores { genuine: genuine.to_vec(), random: vec![], skilled: skilled.to_vec() }
    }

    #[test]
    fn the_curve_averages_datasets_not_pairs() {
        // Set a: 2 forgeries, one above 0.5; set b: 100 forgeries, none above 0.5.
        let a = scores(&[0.9, 0.8], &[0.6, 0.1]);
        let b = scores(&[0.9, 0.4], &vec![0.2; 100]);
        let curve = macro_curve(&[&a, &b], |s| &s.skilled);
        let at = |t: f32| *curve.iter().find(|c| c.0 == t).unwrap();
        // At 0.6: a accepts 1 of 2 forgeries, b none: mean 25%, not 1 of 102.
        assert_eq!(at(0.6), (0.6, 0.25, 0.25));
        assert!(curve.windows(2).all(|w| w[0].0 > w[1].0 && w[0].1 <= w[1].1 && w[0].2 >= w[1].2));
    }

    #[test]
    fn named_points_meet_their_targets() {
        let genuine: Vec<f32> = (0..1000).map(|i| 0.5 + i as f32 / 2000.0).collect();
        let skilled: Vec<f32> = (0..2000).map(|i| i as f32 / 2500.0).collect();
        let curve = macro_curve(&[&scores(&genuine, &skilled)], |s| &s.skilled);
        let op = operating_points(&curve, "far1", "test".into()).unwrap();
        let far1 = op.get("far1").unwrap();
        assert!(far1.far <= 0.01 && far1.far > 0.009, "{far1:?}");
        assert!(op.get("far01").unwrap().far <= 0.001);
        assert!(op.get("far01").unwrap().threshold > far1.threshold);
        let eer = op.get("eer").unwrap();
        assert!((eer.far - eer.frr).abs() < 0.01);
        assert!(op.curve.len() < curve.len(), "thinned");
        assert_eq!(op.threshold_for_far(0.01), Some(far1.threshold));
        assert!(operating_points(&curve, "far5", "test".into()).is_err());
    }
}
