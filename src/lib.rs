//! siamese-wasm: a Siamese (shared-weight) image encoder for in-browser face and
//! handwritten-signature verification.
//!
//! The pure-Rust core below builds and tests natively; the trainer (`train/`) links the
//! same preprocessing and stroke rendering, so training sees exactly the pictures the
//! browser makes.

pub mod calibrate;
// tract's direct convolution in wasm, on our own four-channel kernel (why: in the module).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod conv_kernel;
// Our encoders' projection, as one operator (why: in the module).
pub mod dense;
pub mod dynamics;
pub mod encoder;
pub mod error;
pub mod export;
pub mod face;
// tract's f32 convolutions in wasm run on our own matrix kernel (why: in the module).
pub mod gallery;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod gemm_kernel;
// ONNX graph -> tract's typed graph, without tract-onnx (why: in the module).
pub mod import;
// The L2 normalisation our encoders end with, as one operator (why: in the module).
pub mod l2_norm;
// The 2x2 max pool our encoders run, in place of tract's (why: in the module).
pub mod max_pool;
pub mod metadata;
pub mod metrics;
pub mod onnx;
pub mod preprocess;
pub mod strokes;

pub use error::{Error, ErrorCode};

#[cfg(target_arch = "wasm32")]
pub mod web;
