//! siamese-train: the native trainer of siamese-wasm's encoders (burn), with readers,
//! augmentation, mining, losses, evaluation and ONNX export. Preprocessing and stroke
//! rendering come from the `siamese-wasm` core, so training sees the browser's pictures.

pub mod augment;
pub mod data;
pub mod eval;
pub mod export;
pub mod faceapi;
pub mod loss;
pub mod mining;
pub mod model;
pub mod operating;
pub mod qlinear;
pub mod sampler;
pub mod train;
