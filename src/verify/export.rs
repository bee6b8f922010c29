//! The gallery's export format, and the model fingerprint that ties stored embeddings to
//! the model that made them.
//!
//! An export is a JSON-safe object: embeddings are plain arrays of numbers (an f32 written
//! as a JavaScript number and read back is the same f32, so a round trip is exact), never
//! typed arrays, which `JSON.stringify` would turn into `{"0": ..}` maps.

use crate::error::{Error, ErrorCode, Result};
use crate::verify::gallery::{check_id, check_samples, check_strokes, Identity};
use crate::verify::metrics::Metric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

pub const FORMAT: &str = "siamese-wasm-gallery";
pub const FORMAT_VERSION: u32 = 1;

/// SHA-256 of the model's bytes, hex. Embeddings from two models are comparable only when
/// this is equal.
pub fn fingerprint(model_bytes: &[u8]) -> String {
    hex(&Sha256::digest(model_bytes))
}

/// A digest as [`fingerprint`] writes it: lowercase hexadecimal, two digits a byte.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which model a gallery belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelRef {
    pub fingerprint: String,
    pub name: String,
    pub embedding_dim: usize,
    pub metric: Metric,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GalleryExport {
    pub format: String,
    pub version: u32,
    pub model: ModelRef,
    pub identities: Vec<Identity>,
}

impl GalleryExport {
    pub fn new(model: ModelRef, identities: Vec<Identity>) -> Self {
        GalleryExport { format: FORMAT.into(), version: FORMAT_VERSION, model, identities }
    }

    /// Checks everything before anything is written, so an import is taken whole or not at
    /// all: the format, the model it was made with, and every id and embedding.
    pub fn validate(&self, model: &ModelRef) -> Result<()> {
        let bad = |m: String| Error::new(ErrorCode::BadImport, m);
        if self.format != FORMAT {
            return Err(bad(format!(
                "not a gallery export (format is '{}', expected '{FORMAT}')",
                self.format
            )));
        }
        if self.version != FORMAT_VERSION {
            return Err(bad(format!(
                "gallery export version {} is not supported (this library reads {FORMAT_VERSION})",
                self.version
            )));
        }
        if self.model.fingerprint != model.fingerprint {
            return Err(Error::new(
                ErrorCode::ModelMismatch,
                format!(
                    "this gallery was made with another model ('{}', fingerprint {}…); the loaded model is '{}' ({}…). Its embeddings cannot be compared: re-enrol the people with this model",
                    self.model.name,
                    short(&self.model.fingerprint),
                    model.name,
                    short(&model.fingerprint)
                ),
            ));
        }
        let mut seen = HashSet::new();
        for ident in &self.identities {
            check_id(&ident.id).map_err(|e| bad(e.message))?;
            if !seen.insert(ident.id.as_str()) {
                return Err(bad(format!("'{}' appears twice", ident.id)));
            }
            check_samples(&ident.id, &ident.samples, model.embedding_dim)
                .map_err(|e| bad(e.message))?;
            check_strokes(&ident.id, &ident.strokes, ident.samples.len())
                .map_err(|e| bad(e.message))?;
        }
        Ok(())
    }

    /// Parses and validates an export given as JSON text.
    pub fn from_json(text: &str, model: &ModelRef) -> Result<Self> {
        let e: GalleryExport = serde_json::from_str(text).map_err(|e| {
            Error::new(ErrorCode::BadImport, format!("malformed gallery export: {e}"))
        })?;
        e.validate(model)?;
        Ok(e)
    }
}

/// The first 12 hex digits of a fingerprint, for messages.
pub(crate) fn short(fp: &str) -> &str {
    &fp[..fp.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ModelRef {
        ModelRef {
            fingerprint: fingerprint(b"model"),
            name: "m".into(),
            embedding_dim: 2,
            metric: Metric::Cosine,
        }
    }

    #[test]
    fn fingerprint_is_sha256() {
        assert_eq!(
            fingerprint(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn json_round_trip_is_exact() {
        let mut ids = vec![
            Identity::new("ann", vec![vec![0.1, -0.7], vec![1.0 / 3.0, f32::MIN_POSITIVE]]),
            Identity::new("bob", vec![vec![0.6, 0.8]]),
        ];
        // An online signature keeps its strokes, times and pressures exactly.
        ids[1].strokes = vec![vec![(0..30)
            .map(|i| crate::input::strokes::Point {
                x: i as f32 * 0.7,
                y: (i as f32).sin(),
                t: Some(1.7e12 + i as f64 * 8.25),
                p: Some(0.1 + i as f32 / 60.0),
            })
            .collect()]];
        let e = GalleryExport::new(model(), ids);
        let back = GalleryExport::from_json(&serde_json::to_string(&e).unwrap(), &model()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn bad_imports_are_rejected_with_codes() {
        let ok = Identity::new("a", vec![vec![1.0, 0.0]]);
        let check = |mut f: Box<dyn FnMut(&mut GalleryExport)>, code| {
            let mut e = GalleryExport::new(model(), vec![ok.clone()]);
            f(&mut e);
            assert_eq!(e.validate(&model()).unwrap_err().code, code);
        };
        check(Box::new(|e| e.format = "x".into()), ErrorCode::BadImport);
        check(Box::new(|e| e.version = 9), ErrorCode::BadImport);
        check(Box::new(|e| e.model.fingerprint = fingerprint(b"other")), ErrorCode::ModelMismatch);
        check(Box::new(|e| e.identities.push(e.identities[0].clone())), ErrorCode::BadImport);
        check(Box::new(|e| e.identities[0].samples[0].push(0.0)), ErrorCode::BadImport);
        check(Box::new(|e| e.identities[0].samples.clear()), ErrorCode::BadImport);
        check(Box::new(|e| e.identities[0].id = String::new()), ErrorCode::BadImport);
        // Strokes must be one timed drawing per sample.
        let untimed = vec![(0..20)
            .map(|i| crate::input::strokes::Point::new(i as f32, (i * i) as f32))
            .collect::<Vec<_>>()];
        check(
            Box::new(move |e| e.identities[0].strokes = vec![untimed.clone()]),
            ErrorCode::BadImport,
        );
        let timed: Vec<Vec<crate::input::strokes::Point>> = vec![(0..20)
            .map(|i| crate::input::strokes::Point {
                x: i as f32,
                y: (i * i) as f32,
                t: Some(i as f64 * 10.0),
                p: None,
            })
            .collect()];
        check(
            Box::new(move |e| e.identities[0].strokes = vec![timed.clone(), timed.clone()]),
            ErrorCode::BadImport,
        );
        assert_eq!(
            GalleryExport::from_json("{\"format\": 3}", &model()).unwrap_err().code,
            ErrorCode::BadImport
        );
    }
}
