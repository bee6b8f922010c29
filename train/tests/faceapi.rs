//! face-api.js's networks converted by `siamese_train::faceapi` (recogniser, tiny face
//! detector, tiny landmark net), run by tract, against face-api.js's own outputs for the
//! same pictures (tests/fixtures/faceapi-descriptors.json, written by
//! scripts/faceapi-reference.mjs with TF.js; tests/node/faceapi.test.mjs checks that file
//! against face-api.js on every run).

use siamese_train::export::WeightFormat;
use siamese_train::faceapi::{
    detector_onnx, landmarks_onnx, recognition_onnx, WeightMap, LANDMARKS_SIZE, RECOGNITION_SIZE,
};
use siamese_wasm::runtime::encoder::Encoder;
use siamese_wasm::runtime::metadata::{ModelMetadata, Preprocess};
use siamese_wasm::verify::metrics::Metric;
use std::path::PathBuf;
use tract_onnx::prelude::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// tests/node/faceapi-reference.mjs's `syntheticPixels(k, n)`, as planes in [0, 1].
fn synthetic_planar(k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; 3 * n * n];
    for y in 0..n {
        for x in 0..n {
            for c in 0..3 {
                let stripes = (0.05 * (k + 1) as f64 * x as f64
                    + 0.031 * (c + 1) as f64 * y as f64
                    + k as f64)
                    .sin();
                let (dx, dy) =
                    (x as f64 - 40.0 - 15.0 * k as f64, y as f64 - 60.0 - 7.0 * c as f64);
                let disc = if dx * dx + dy * dy < 900.0 { 0.6 } else { 0.0 };
                let v = (255.0 * (0.35 + 0.3 * stripes + disc).clamp(0.0, 1.0)).round();
                out[c * n * n + y * n + x] = (v / 255.0) as f32;
            }
        }
    }
    out
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

/// The package's weights for `name`, or `None` (with a message) when npm has not installed it.
fn weights(name: &str) -> Option<WeightMap> {
    let manifest = root()
        .join(format!("node_modules/@vladmandic/face-api/model/{name}-weights_manifest.json"));
    if !manifest.exists() {
        eprintln!("SKIP: {} is absent (npm install puts it there)", manifest.display());
        return None;
    }
    Some(WeightMap::read(&manifest).unwrap())
}

fn fixture(key: &str) -> Vec<Vec<f32>> {
    let f: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/faceapi-descriptors.json")).unwrap(),
    )
    .unwrap();
    let v: Vec<Vec<f32>> = serde_json::from_value(f[key].clone()).unwrap();
    assert_eq!(v.len(), f["synthetic"].as_u64().unwrap() as usize);
    v
}

/// Runs an ONNX graph on one `[1, 3, side, side]` input; its first output, flat.
fn run(bytes: &[u8], input: Vec<f32>, side: usize) -> (Vec<usize>, Vec<f32>) {
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let x = tract_ndarray::Array4::from_shape_vec((1, 3, side, side), input).unwrap().into_tensor();
    let out = plan.run(tvec!(x.into())).unwrap();
    (
        out[0].shape().to_vec(),
        out[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect(),
    )
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max)
}

#[test]
fn converted_detector_and_landmark_nets_agree_with_face_api_js() {
    let (Some(det), Some(lm)) =
        (weights("tiny_face_detector_model"), weights("face_landmark_68_tiny_model"))
    else {
        return;
    };
    let f: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/faceapi-descriptors.json")).unwrap(),
    )
    .unwrap();
    let side = f["detector_size"].as_u64().unwrap() as usize;
    let (want_det, want_lm) = (fixture("detector"), fixture("landmarks"));
    let mut worst = [0.0f32; 4];
    for fmt in [WeightFormat::F32, WeightFormat::Int8] {
        let i = if fmt == WeightFormat::F32 { 0 } else { 2 };
        let (d, _) = detector_onnx(&det, fmt, side, 0.5, "test", "test").unwrap();
        let (l, _) = landmarks_onnx(&lm, fmt, "test", "test").unwrap();
        for k in 0..want_det.len() {
            // face-api.js's output is NHWC (cells, then 5 anchors x 5 values); ours NCHW.
            let (shape, out) = run(&d, synthetic_planar(k, side), side);
            let (c, n) = (shape[1], shape[2]);
            let nhwc: Vec<f32> = (0..n * n * c).map(|j| out[(j % c) * n * n + j / c]).collect();
            // Compared after the sigmoid that decoding applies (to offsets and scores), so that
            // far-negative logits, which decode to nothing either way, do not dominate.
            let sig = |v: &[f32]| v.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect::<Vec<f32>>();
            worst[i] = worst[i].max(largest_difference(&sig(&nhwc), &sig(&want_det[k])));
            let (_, pts) = run(&l, synthetic_planar(k, LANDMARKS_SIZE), LANDMARKS_SIZE);
            worst[i + 1] = worst[i + 1].max(largest_difference(&pts, &want_lm[k]));
        }
    }
    eprintln!("largest difference to face-api.js: detector outputs (after sigmoid) f32 {:.2e}, int8 {:.2e}; landmarks (fraction of the side) f32 {:.2e}, int8 {:.2e}", worst[0], worst[2], worst[1], worst[3]);
    assert!(worst[0] < 1e-4 && worst[1] < 1e-4, "f32: {worst:?}");
    // int8 (what ships): measured 0.080 and 0.0099 (1.1 pixels of the 112-pixel input);
    // on the face training identities it finds and aligns faces as well as f32 (models/README.md).
    assert!(worst[2] < 0.1 && worst[3] < 0.02, "int8: {worst:?}");
}

#[test]
fn converted_recogniser_agrees_with_face_api_js() {
    let Some(weights) = weights("face_recognition_model") else { return };
    let want = fixture("descriptors");
    let meta = ModelMetadata {
        name: "face-recognition".into(),
        version: "test".into(),
        preprocess: Preprocess::face_rgb(RECOGNITION_SIZE, RECOGNITION_SIZE),
        embedding_dim: 128,
        metric: Metric::Cosine,
        threshold: 0.9,
        training_data: String::new(),
        operating_points: None,
    };
    let (f32_bytes, flops) = recognition_onnx(&weights, WeightFormat::F32, &meta).unwrap();
    let (int8_bytes, _) = recognition_onnx(&weights, WeightFormat::Int8, &meta).unwrap();
    assert!(
        int8_bytes.len() * 3 < f32_bytes.len(),
        "int8 weights: {} against {} bytes",
        int8_bytes.len(),
        f32_bytes.len()
    );
    let (f32_net, int8_net) = (
        Encoder::from_bytes(&f32_bytes, None).unwrap(),
        Encoder::from_bytes(&int8_bytes, None).unwrap(),
    );
    let (mut worst_f32, mut worst_int8, mut worst_diff) = (1.0f32, 1.0f32, 0.0f32);
    for (k, w) in want.iter().enumerate() {
        let w = unit(w);
        let x = synthetic_planar(k, RECOGNITION_SIZE);
        let a = f32_net.embed_input(&x).unwrap();
        let b = int8_net.embed_input(&x).unwrap();
        worst_f32 = worst_f32.min(siamese_wasm::verify::metrics::dot(&a, &w));
        worst_int8 = worst_int8.min(siamese_wasm::verify::metrics::dot(&b, &w));
        worst_diff =
            worst_diff.max(a.iter().zip(&w).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max));
    }
    eprintln!("{:.0} MFLOPs; cosine to face-api.js, worst of {}: f32 {worst_f32:.6} (largest coordinate difference {worst_diff:.2e}), int8 {worst_int8:.6}", flops as f64 / 1e6, want.len());
    // f32 is the same arithmetic in another order; the issue asks for cosine >= 0.99.
    assert!(
        worst_f32 >= 0.9999 && worst_diff < 1e-3,
        "f32: cosine {worst_f32}, difference {worst_diff}"
    );
    // int8 weights (per output channel) on top of face-api.js's own 8-bit weights.
    assert!(worst_int8 >= 0.995, "int8: cosine {worst_int8}");
}
