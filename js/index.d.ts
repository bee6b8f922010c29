export { Verifier, similarity, calibrate, warmUp } from './siamese_wasm.js';
export type {
  ImageInput, Strokes, Input, LoadOptions, LoadProgress, ModelMetadata, VerifyResult,
  IdentifyResult, Calibration, GalleryExport, SiameseError,
} from './siamese_wasm.js';

/**
 * URLs of the models shipped in this package: pass one to `Verifier.load`. `face` (face-api.js's
 * recogniser, converted) loads with the shipped face detector and landmark models unless
 * `options.faces` says otherwise; `faceTrained` is this repository's small whole-picture face encoder.
 */
export declare const models: Readonly<{ signature: string; face: string; faceTrained: string; faceDetector: string; faceLandmarks: string }>;

/** Which of the package's two WebAssembly builds this engine runs: the relaxed-SIMD one (fused multiply-add in the matrix kernels) where the engine supports it, else the simd128 one. */
export declare const wasmBuild: 'relaxed-simd' | 'simd128';
