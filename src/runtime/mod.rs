//! Running an encoder: ONNX files read into tract's graph (`onnx`, `import`), the model's
//! metadata, the optimised plan (`encoder`), and the operators and wasm kernels of our own
//! that it runs (each module says why it exists).

pub mod encoder;
pub mod import;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod kernels;
pub mod metadata;
pub mod onnx;
pub mod ops;
