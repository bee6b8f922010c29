export { Verifier, similarity, calibrate } from './siamese_wasm.js';
export type {
  ImageInput, Strokes, Input, LoadOptions, LoadProgress, ModelMetadata, VerifyResult,
  IdentifyResult, Calibration, GalleryExport, SiameseError,
} from './siamese_wasm.js';

/** URLs of the models shipped in this package: pass one to `Verifier.load`. */
export declare const models: Readonly<{ signature: string; face: string; faceRecognition: string; faceDetector: string; faceLandmarks: string }>;
