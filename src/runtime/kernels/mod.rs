//! wasm simd128 kernels that tract's convolutions run on in the browser.

pub mod conv;
pub mod gemm;
