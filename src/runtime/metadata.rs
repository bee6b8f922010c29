//! The model's own description of how to feed it and how to read its output, carried in
//! the ONNX `metadata_props` so a model file is self-contained.

use crate::error::{Error, ErrorCode, Result};
use crate::verify::metrics::Metric;
use serde::{Deserialize, Serialize};

/// How an input picture becomes the model's input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreprocessMode {
    /// Handwriting and signatures: ink extracted from the background, cropped to its
    /// bounding box, fitted with its aspect ratio kept, values in [0, 1] (0 = no ink).
    Ink,
    /// Faces: centre crop to the input's aspect ratio, resize, then per-image
    /// standardisation (zero mean, unit variance), which removes global lighting.
    Face,
    /// Colour faces for a recogniser trained on RGB crops (face-api.js's): the picture
    /// padded with black to a square (centred), resized, R, G and B planes in [0, 1]. A
    /// grayscale picture gives three equal planes.
    #[serde(rename = "face_rgb")]
    FaceRgb,
}

/// Everything needed to turn pixels or pen strokes into the model's input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    pub mode: PreprocessMode,
    /// Input height and width in pixels; the tensor is NCHW `[1, channels, height, width]`.
    pub height: usize,
    pub width: usize,
    /// Blank border left around the ink, as a fraction of each side (ink mode).
    #[serde(default = "default_margin")]
    pub margin: f32,
    /// Pen width, in input pixels, when strokes are rendered (ink mode).
    #[serde(default = "default_stroke_width")]
    pub stroke_width: f32,
}

fn default_margin() -> f32 {
    0.06
}
fn default_stroke_width() -> f32 {
    2.0
}

impl Preprocess {
    pub fn ink(height: usize, width: usize) -> Self {
        Preprocess {
            mode: PreprocessMode::Ink,
            height,
            width,
            margin: default_margin(),
            stroke_width: default_stroke_width(),
        }
    }
    pub fn face(height: usize, width: usize) -> Self {
        Preprocess { mode: PreprocessMode::Face, height, width, margin: 0.0, stroke_width: 0.0 }
    }
    pub fn face_rgb(height: usize, width: usize) -> Self {
        Preprocess { mode: PreprocessMode::FaceRgb, height, width, margin: 0.0, stroke_width: 0.0 }
    }
    /// Colour channels of the input tensor: 3 for [`PreprocessMode::FaceRgb`], else 1.
    pub fn channels(&self) -> usize {
        if self.mode == PreprocessMode::FaceRgb {
            3
        } else {
            1
        }
    }
    pub fn input_len(&self) -> usize {
        self.channels() * self.height * self.width
    }
}

/// A model's metadata, typed. Keys in `metadata_props` are the field names; nested values
/// (`preprocess`) are JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    pub name: String,
    pub version: String,
    pub preprocess: Preprocess,
    pub embedding_dim: usize,
    pub metric: Metric,
    /// Accept when `score >= threshold` (calibrated at the EER point on validation identities).
    pub threshold: f32,
    #[serde(default)]
    pub training_data: String,
    /// Named thresholds measured on validation identities (`operating_points` in the
    /// props, JSON); `threshold` is the default one's. Empty for models without them.
    #[serde(default)]
    pub operating_points: Option<OperatingPoints>,
}

/// Thresholds a user chooses between by the errors they accept, and the curve they were
/// read from, so that a target false-accept rate between the named points can be met too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoints {
    /// Which impostors the false-accept rates count and how scores were made, in words
    /// (e.g. "skilled forgeries of 61 validation writers, templates of 5").
    pub impostors: String,
    /// The name of the point `threshold` is.
    pub default: String,
    /// `eer`, `far1` (1% false accepts), `far01` (0.1%), ...
    pub points: Vec<NamedPoint>,
    /// (threshold, far, frr), thresholds strictly descending, so far ascending.
    pub curve: Vec<(f32, f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedPoint {
    pub name: String,
    pub threshold: f32,
    pub far: f64,
    pub frr: f64,
}

impl OperatingPoints {
    pub fn get(&self, name: &str) -> Option<&NamedPoint> {
        self.points.iter().find(|p| p.name == name)
    }

    /// The most lenient threshold of the curve whose false-accept rate is at most
    /// `far`, or `None` when the curve cannot tell (`far` below its smallest measured rate
    /// above zero, or outside [0, 1]).
    pub fn threshold_for_far(&self, far: f64) -> Option<f32> {
        if !(0.0..=1.0).contains(&far) {
            return None;
        }
        let resolution =
            self.curve.iter().map(|c| c.1).filter(|&f| f > 0.0).fold(f64::INFINITY, f64::min);
        if far < resolution {
            return None;
        }
        self.curve.iter().take_while(|c| c.1 <= far).last().map(|c| c.0)
    }

    fn check(&self) -> bool {
        let named = self.points.iter().all(|p| p.threshold.is_finite())
            && self.points.iter().any(|p| p.name == self.default);
        let ordered = self.curve.windows(2).all(|w| w[0].0 > w[1].0 && w[0].1 <= w[1].1);
        named
            && ordered
            && self.curve.iter().all(|c| {
                c.0.is_finite() && (0.0..=1.0).contains(&c.1) && (0.0..=1.0).contains(&c.2)
            })
    }
}

impl ModelMetadata {
    /// `metadata_props` entries for this metadata.
    pub fn to_props(&self) -> Vec<(String, String)> {
        let mut props = vec![
            ("name".into(), self.name.clone()),
            ("version".into(), self.version.clone()),
            (
                "input_shape".into(),
                format!(
                    "1,{},{},{}",
                    self.preprocess.channels(),
                    self.preprocess.height,
                    self.preprocess.width
                ),
            ),
            ("input_layout".into(), "NCHW".into()),
            ("preprocess".into(), serde_json::to_string(&self.preprocess).unwrap()),
            ("embedding_dim".into(), self.embedding_dim.to_string()),
            (
                "metric".into(),
                serde_json::to_value(self.metric).unwrap().as_str().unwrap().to_string(),
            ),
            ("threshold".into(), self.threshold.to_string()),
            ("training_data".into(), self.training_data.clone()),
        ];
        if let Some(op) = &self.operating_points {
            props.push(("operating_points".into(), serde_json::to_string(op).unwrap()));
        }
        props
    }

    /// Parses `metadata_props` entries; `None` when the model carries none of ours.
    pub fn from_props<'a>(
        props: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Option<Self>> {
        let props: std::collections::HashMap<&str, &str> = props.into_iter().collect();
        let Some(pre) = props.get("preprocess") else { return Ok(None) };
        let bad = |what: &str| {
            Error::new(ErrorCode::BadModel, format!("model metadata: bad or missing `{what}`"))
        };
        let preprocess: Preprocess = serde_json::from_str(pre).map_err(|_| bad("preprocess"))?;
        let get = |k: &str| props.get(k).copied().ok_or_else(|| bad(k));
        let meta = ModelMetadata {
            name: get("name")?.to_string(),
            version: get("version")?.to_string(),
            preprocess,
            embedding_dim: get("embedding_dim")?.parse().map_err(|_| bad("embedding_dim"))?,
            metric: serde_json::from_value(serde_json::Value::String(get("metric")?.into()))
                .map_err(|_| bad("metric"))?,
            threshold: get("threshold")?.parse().map_err(|_| bad("threshold"))?,
            training_data: props.get("training_data").unwrap_or(&"").to_string(),
            operating_points: match props.get("operating_points") {
                None => None,
                Some(j) => Some(
                    serde_json::from_str::<OperatingPoints>(j)
                        .ok()
                        .filter(OperatingPoints::check)
                        .ok_or_else(|| bad("operating_points"))?,
                ),
            },
        };
        if meta.preprocess.height == 0 || meta.preprocess.width == 0 || meta.embedding_dim == 0 {
            return Err(bad("input_shape"));
        }
        Ok(Some(meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature_meta() -> ModelMetadata {
        ModelMetadata {
            name: "signature".into(),
            version: "1".into(),
            preprocess: Preprocess::ink(64, 128),
            embedding_dim: 128,
            metric: Metric::Cosine,
            threshold: 0.625,
            training_data: "omniglot".into(),
            operating_points: None,
        }
    }

    #[test]
    fn props_round_trip() {
        let m = signature_meta();
        let props = m.to_props();
        let back = ModelMetadata::from_props(props.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap()
            .unwrap();
        assert_eq!(back, m);
        let rgb = ModelMetadata { preprocess: Preprocess::face_rgb(150, 150), ..m.clone() };
        let props = rgb.to_props();
        assert!(props.contains(&("input_shape".to_string(), "1,3,150,150".to_string())));
        assert!(props.iter().any(|(k, v)| k == "preprocess" && v.contains("\"face_rgb\"")));
        let back = ModelMetadata::from_props(props.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap()
            .unwrap();
        assert_eq!(back.preprocess.input_len(), 3 * 150 * 150);
        assert_eq!(ModelMetadata::from_props([("name", "x")]).unwrap(), None);
        let err = ModelMetadata::from_props([("preprocess", "{")]).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadModel);
    }

    fn points() -> OperatingPoints {
        OperatingPoints {
            impostors: "skilled forgeries".into(),
            default: "far1".into(),
            points: vec![
                NamedPoint { name: "eer".into(), threshold: 0.6, far: 0.05, frr: 0.05 },
                NamedPoint { name: "far1".into(), threshold: 0.7, far: 0.01, frr: 0.2 },
            ],
            curve: vec![
                (0.9, 0.0, 0.9),
                (0.8, 0.002, 0.5),
                (0.7, 0.01, 0.2),
                (0.6, 0.05, 0.05),
                (0.5, 0.3, 0.0),
            ],
        }
    }

    #[test]
    fn operating_points_round_trip_and_are_checked() {
        let m =
            ModelMetadata { threshold: 0.7, operating_points: Some(points()), ..signature_meta() };
        let props = m.to_props();
        let back = ModelMetadata::from_props(props.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap()
            .unwrap();
        assert_eq!(back, m);
        // A curve out of order, or a default that names no point, is a bad model.
        for broken in [
            OperatingPoints { default: "far01".into(), ..points() },
            OperatingPoints { curve: vec![(0.5, 0.3, 0.0), (0.9, 0.0, 0.9)], ..points() },
        ] {
            let props = ModelMetadata { operating_points: Some(broken), ..m.clone() }.to_props();
            let err =
                ModelMetadata::from_props(props.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .unwrap_err();
            assert_eq!(err.code, ErrorCode::BadModel);
        }
        let mut props = m.to_props();
        props.last_mut().unwrap().1 = "[1, 2".into();
        assert!(
            ModelMetadata::from_props(props.iter().map(|(k, v)| (k.as_str(), v.as_str()))).is_err()
        );
    }

    #[test]
    fn a_target_false_accept_rate_reads_the_curve() {
        let op = points();
        assert_eq!(op.threshold_for_far(0.01), Some(0.7));
        assert_eq!(
            op.threshold_for_far(0.03),
            Some(0.7),
            "the most lenient threshold still within the target"
        );
        assert_eq!(op.threshold_for_far(0.002), Some(0.8));
        assert_eq!(op.threshold_for_far(1.0), Some(0.5));
        assert_eq!(op.threshold_for_far(0.001), None, "finer than the validation data can tell");
        assert_eq!(op.threshold_for_far(-0.1), None);
        assert_eq!(op.threshold_for_far(f64::NAN), None);
    }
}
