//! The model's own description of how to feed it and how to read its output, carried in
//! the ONNX `metadata_props` so a model file is self-contained.

use crate::error::{Error, ErrorCode, Result};
use crate::metrics::Metric;
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
        Preprocess { mode: PreprocessMode::Ink, height, width, margin: default_margin(), stroke_width: default_stroke_width() }
    }
    pub fn face(height: usize, width: usize) -> Self {
        Preprocess { mode: PreprocessMode::Face, height, width, margin: 0.0, stroke_width: 0.0 }
    }
    pub fn face_rgb(height: usize, width: usize) -> Self {
        Preprocess { mode: PreprocessMode::FaceRgb, height, width, margin: 0.0, stroke_width: 0.0 }
    }
    /// Colour channels of the input tensor: 3 for [`PreprocessMode::FaceRgb`], else 1.
    pub fn channels(&self) -> usize {
        if self.mode == PreprocessMode::FaceRgb { 3 } else { 1 }
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
}

impl ModelMetadata {
    /// `metadata_props` entries for this metadata.
    pub fn to_props(&self) -> Vec<(String, String)> {
        vec![
            ("name".into(), self.name.clone()),
            ("version".into(), self.version.clone()),
            ("input_shape".into(), format!("1,{},{},{}", self.preprocess.channels(), self.preprocess.height, self.preprocess.width)),
            ("input_layout".into(), "NCHW".into()),
            ("preprocess".into(), serde_json::to_string(&self.preprocess).unwrap()),
            ("embedding_dim".into(), self.embedding_dim.to_string()),
            ("metric".into(), serde_json::to_value(self.metric).unwrap().as_str().unwrap().to_string()),
            ("threshold".into(), self.threshold.to_string()),
            ("training_data".into(), self.training_data.clone()),
        ]
    }

    /// Parses `metadata_props` entries; `None` when the model carries none of ours.
    pub fn from_props<'a>(props: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Option<Self>> {
        let props: std::collections::HashMap<&str, &str> = props.into_iter().collect();
        let Some(pre) = props.get("preprocess") else { return Ok(None) };
        let bad = |what: &str| Error::new(ErrorCode::BadModel, format!("model metadata: bad or missing `{what}`"));
        let preprocess: Preprocess = serde_json::from_str(pre).map_err(|_| bad("preprocess"))?;
        let get = |k: &str| props.get(k).copied().ok_or_else(|| bad(k));
        let meta = ModelMetadata {
            name: get("name")?.to_string(),
            version: get("version")?.to_string(),
            preprocess,
            embedding_dim: get("embedding_dim")?.parse().map_err(|_| bad("embedding_dim"))?,
            metric: serde_json::from_value(serde_json::Value::String(get("metric")?.into())).map_err(|_| bad("metric"))?,
            threshold: get("threshold")?.parse().map_err(|_| bad("threshold"))?,
            training_data: props.get("training_data").unwrap_or(&"").to_string(),
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

    #[test]
    fn props_round_trip() {
        let m = ModelMetadata {
            name: "signature".into(),
            version: "1".into(),
            preprocess: Preprocess::ink(64, 128),
            embedding_dim: 128,
            metric: Metric::Cosine,
            threshold: 0.625,
            training_data: "omniglot".into(),
        };
        let props = m.to_props();
        let back = ModelMetadata::from_props(props.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap().unwrap();
        assert_eq!(back, m);
        let rgb = ModelMetadata { preprocess: Preprocess::face_rgb(150, 150), ..m.clone() };
        let props = rgb.to_props();
        assert!(props.contains(&("input_shape".to_string(), "1,3,150,150".to_string())));
        assert!(props.iter().any(|(k, v)| k == "preprocess" && v.contains("\"face_rgb\"")));
        let back = ModelMetadata::from_props(props.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap().unwrap();
        assert_eq!(back.preprocess.input_len(), 3 * 150 * 150);
        assert_eq!(ModelMetadata::from_props([("name", "x")]).unwrap(), None);
        let err = ModelMetadata::from_props([("preprocess", "{")]).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadModel);
    }
}
