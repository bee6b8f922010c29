//! siamese-wasm: a Siamese (shared-weight) image encoder for in-browser face and
//! handwritten-signature verification.
//!
//! The pure-Rust core below builds and tests natively; the trainer (`train/`) links the
//! same preprocessing and stroke rendering, so training sees exactly the pictures the
//! browser makes.

pub mod error;
pub mod face;
pub mod input;
pub mod runtime;
pub mod verify;

// What a native user of the library needs, by name; the modules above hold the rest.
pub use error::{Error, ErrorCode, Result};
pub use input::preprocess::{GrayImage, RgbImage};
pub use input::strokes::Point;
pub use runtime::encoder::Encoder;
pub use runtime::metadata::{ModelMetadata, OperatingPoints};
pub use verify::gallery::{Gallery, Identity, Match, TemplateScoring};
pub use verify::metrics::Metric;
pub use verify::rule::Rule;

#[cfg(target_arch = "wasm32")]
pub mod web;
