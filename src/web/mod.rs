//! The browser seam: wasm-bindgen exports (`Verifier`, `similarity`, `calibrate`), turning
//! JavaScript inputs into pixels and strokes, and the IndexedDB enrolment store. Everything
//! it computes comes from the native core; this layer only converts and stores.

mod errors;
mod idb;
mod input;
mod verifier;

pub use verifier::{calibrate, similarity, warm_up, Verifier};

// Static constructors (inventory's registrations: tract-linalg's kernels and knobs, and our
// matrix kernel) must run once per instance before tract is used. wasm-ld runs them at the
// start of every exported function (a cost per call, docs/design.md), unless some export
// calls `__wasm_call_ctors` itself, as `init` does.
extern "C" {
    fn __wasm_call_ctors();
}

/// Runs the module's static constructors, once. wasm-bindgen's glue calls it right after
/// instantiation (it is the start function); `Verifier.load` calls it too, for hosts that
/// skip start functions (wasm-bindgen-test does). A Rust caller running tract directly
/// calls it first.
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn init() {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !DONE.swap(true, std::sync::atomic::Ordering::Relaxed) {
        // SAFETY: runs once per instance, before tract is used; the constructors are
        // registrations into inventory's lists.
        unsafe { __wasm_call_ctors() }
    }
}

#[wasm_bindgen::prelude::wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Pixels: anything a canvas can draw, or raw RGBA bytes. */
export type ImageInput =
  | ImageData | HTMLCanvasElement | OffscreenCanvas | HTMLImageElement | ImageBitmap | HTMLVideoElement
  | { width: number; height: number; data: Uint8ClampedArray | Uint8Array | number[] };
/** Pen input: strokes (pen-down runs) of points; `t` (ms) and `p` (pressure) are optional. */
export type Strokes = { x: number; y: number; t?: number; p?: number }[][];
/** A sample for enroll/verify/identify: an image, a drawing, or a ready embedding. */
export type Input = ImageInput | Strokes | Float32Array;

export interface LoadProgress { phase: 'download' | 'compile' | 'store' | 'ready'; loaded: number; total: number | null }
export interface LoadOptions {
  /** IndexedDB database name (default "siamese-wasm"); false for an in-memory gallery. */
  db?: string | false;
  /** Overrides the model's calibrated threshold. */
  threshold?: number;
  /** Chooses the threshold by the errors it gives on the model's validation writers:
   *  `'eer'` (skilled forgeries accepted as often as genuine users are turned away),
   *  `'far1'` (1% of skilled forgeries accepted), `'far01'` (0.1%), or a false-accept rate
   *  such as `0.005`. Default: the model's own (`metadata.operating_points.default`; the
   *  signature model's is `'far1'`). Not with `threshold`. */
  operatingPoint?: 'eer' | 'far1' | 'far01' | number;
  onProgress?: (p: LoadProgress) => void;
  /** If the database holds another model's embeddings, clear it instead of failing. */
  reset?: boolean;
  /** For a model without siamese metadata: how to feed it and read it. */
  metadata?: ModelMetadata;
  /** Face models (bytes or URLs, e.g. `models.faceDetector`, `models.faceLandmarks`): every
   *  picture is then embedded by its largest face, found and aligned (`no_face` if none).
   *  `false` (or null): whole pictures. The package's `models.face` gets the shipped face
   *  models when this is left out. */
  faces?: { detector: Uint8Array | ArrayBuffer | string | URL; landmarks: Uint8Array | ArrayBuffer | string | URL } | false | null;
}
/** A face found by `detectFaces`, in picture pixels. */
export interface FaceBox { x: number; y: number; width: number; height: number; score: number }
export interface ModelMetadata {
  name: string;
  version: string;
  preprocess: { mode: 'ink' | 'face' | 'face_rgb'; height: number; width: number; margin?: number; stroke_width?: number };
  embedding_dim: number;
  metric: 'cosine' | 'euclidean';
  threshold: number;
  training_data?: string;
  /** Named thresholds measured on validation identities, and the curve they come from. */
  operating_points?: {
    impostors: string;
    default: string;
    points: { name: string; threshold: number; far: number; frr: number }[];
    /** [threshold, far, frr], thresholds descending. */
    curve: [number, number, number][];
  };
}
/** `match` needs `score >= threshold` and, when `motion` is present, `motion.match`. */
export interface VerifyResult {
  id: string; score: number; threshold: number; match: boolean;
  /** Online signatures (timed strokes enrolled and verified): how far the pen motion is from
   *  the enrolled drawings (dynamic time warping), accepted when `distance <= threshold`. */
  motion?: { distance: number; threshold: number; match: boolean };
}
export interface IdentifyResult { id: string; score: number; match: boolean }
export interface Calibration { threshold: number; eer: number; eerThreshold: number; far: number; frr: number }
export interface GalleryExport {
  format: 'siamese-wasm-gallery';
  version: 1;
  model: { fingerprint: string; name: string; embeddingDim: number; metric: 'cosine' | 'euclidean' };
  identities: { id: string; samples: number[][]; strokes?: Strokes[] }[];
}
/** Every error thrown or rejected by this library. */
export interface SiameseError extends Error {
  code: 'bad_model' | 'fetch_failed' | 'bad_shape' | 'empty_image' | 'no_ink' | 'not_finite' | 'bad_input'
      | 'bad_options' | 'unknown_id' | 'duplicate_id' | 'bad_import' | 'storage_full' | 'storage_error'
      | 'model_mismatch' | 'no_face';
}
"#;
