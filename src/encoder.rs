//! The encoder: ONNX bytes in, an optimised tract plan out, embeddings from pixels or pen
//! strokes. The graph is optimised once at load; each call only runs it.

use crate::error::{Error, ErrorCode, Result};
use crate::metadata::ModelMetadata;
use crate::metrics::l2_normalize;
use crate::metadata::PreprocessMode;
use crate::preprocess::{face_rgb_input, image_to_input, rgba_to_input, GrayImage, RgbImage};
use crate::strokes::{strokes_to_input, Point};
use std::sync::Arc;
use tract_onnx::prelude::*;

pub struct Encoder {
    plan: Arc<TypedRunnableModel>,
    pub meta: ModelMetadata,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("meta", &self.meta).finish()
    }
}

pub(crate) fn bad_model(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::BadModel, format!("{what}: {e}"))
}

/// The optimised, runnable plan of an ONNX graph whose one input is `shape` (f32, NCHW).
/// `what` names the graph in the error.
pub(crate) fn runnable(proto: &tract_onnx::pb::ModelProto, shape: [usize; 4], what: &str) -> Result<Arc<TypedRunnableModel>> {
    tract_onnx::onnx()
        .model_for_proto_model(proto)
        .and_then(|m| m.with_input_fact(0, f32::fact(shape).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(|e| bad_model(&format!("{what} cannot be run"), format!("{e:#}")))
}

/// Runs `plan` on `input` (`shape`, NCHW); its first output, flat. `what` names the graph.
pub(crate) fn run_plan(plan: &Arc<TypedRunnableModel>, shape: [usize; 4], input: Vec<f32>, what: &str) -> Result<Vec<f32>> {
    let tensor = tract_ndarray::Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), input)
        .map_err(|e| Error::new(ErrorCode::BadShape, e.to_string()))?
        .into_tensor();
    let out = plan.run(tvec!(tensor.into())).map_err(|e| bad_model(&format!("{what} inference failed"), e))?;
    let view = out[0].to_plain_array_view::<f32>().map_err(|e| bad_model(&format!("{what} output is not f32"), e))?;
    Ok(view.iter().copied().collect())
}

/// Reads our metadata from ONNX bytes without building the graph.
pub fn read_metadata(bytes: &[u8]) -> Result<Option<ModelMetadata>> {
    let proto = tract_onnx::onnx().proto_model_for_read(&mut &bytes[..]).map_err(|e| bad_model("not an ONNX model", e))?;
    ModelMetadata::from_props(proto.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())))
}

impl Encoder {
    /// Loads an encoder. `meta` overrides what the file carries; a model without our
    /// metadata needs it.
    pub fn from_bytes(bytes: &[u8], meta: Option<ModelMetadata>) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::new(ErrorCode::BadModel, "the model is empty (0 bytes)"));
        }
        let onnx = tract_onnx::onnx();
        let proto = onnx.proto_model_for_read(&mut &bytes[..]).map_err(|e| bad_model("not an ONNX model (corrupt or truncated?)", e))?;
        let carried = ModelMetadata::from_props(proto.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())))?;
        let meta = meta.or(carried).ok_or_else(|| {
            Error::new(ErrorCode::BadOptions, "the model carries no siamese metadata: pass the preprocessing, embedding size, metric and threshold explicitly")
        })?;
        let (c, h, w) = (meta.preprocess.channels(), meta.preprocess.height, meta.preprocess.width);
        let plan = runnable(&proto, [1, c, h, w], "the ONNX graph")?;
        let enc = Encoder { plan, meta };
        // Catch a graph whose output disagrees with its metadata now, not at first use.
        let out = enc.run(vec![0.0; c * h * w])?;
        if out.len() != enc.meta.embedding_dim {
            return Err(Error::new(ErrorCode::BadModel, format!("the model outputs {} values, its metadata says {}", out.len(), enc.meta.embedding_dim)));
        }
        Ok(enc)
    }

    fn run(&self, input: Vec<f32>) -> Result<Vec<f32>> {
        let p = &self.meta.preprocess;
        run_plan(&self.plan, [1, p.channels(), p.height, p.width], input, "the model")
    }

    /// Embedding of an already preprocessed input (`channels * height * width` values,
    /// planes one after another, each row-major).
    pub fn embed_input(&self, input: &[f32]) -> Result<Vec<f32>> {
        let want = self.meta.preprocess.input_len();
        if input.len() != want {
            return Err(Error::new(ErrorCode::BadShape, format!("input has {} values, the model takes {want}", input.len())));
        }
        if input.iter().any(|v| !v.is_finite()) {
            return Err(Error::new(ErrorCode::NotFinite, "input has NaN or infinite values"));
        }
        let mut e = self.run(input.to_vec())?;
        if e.iter().any(|v| !v.is_finite()) {
            return Err(Error::new(ErrorCode::NotFinite, "the model produced a non-finite embedding"));
        }
        l2_normalize(&mut e);
        Ok(e)
    }

    pub fn embed_image(&self, img: &GrayImage) -> Result<Vec<f32>> {
        self.embed_input(&image_to_input(img, &self.meta.preprocess)?)
    }

    pub fn embed_rgba(&self, width: usize, height: usize, rgba: &[u8]) -> Result<Vec<f32>> {
        self.embed_input(&rgba_to_input(width, height, rgba, &self.meta.preprocess)?)
    }

    /// The embedding of a colour picture: in colour for a colour model, as luminance
    /// otherwise.
    pub fn embed_rgb(&self, img: &RgbImage) -> Result<Vec<f32>> {
        match self.meta.preprocess.mode {
            PreprocessMode::FaceRgb => self.embed_input(&face_rgb_input(img, &self.meta.preprocess)?),
            _ => self.embed_image(&img.to_gray()),
        }
    }

    pub fn embed_strokes(&self, strokes: &[Vec<Point>]) -> Result<Vec<f32>> {
        self.embed_input(&strokes_to_input(strokes, &self.meta.preprocess)?)
    }

    /// Similarity of two embeddings under the model's metric.
    pub fn similarity(&self, a: &[f32], b: &[f32]) -> f32 {
        self.meta.metric.score(a, b)
    }
}
