//! The face-api.js recogniser converted by `faceapi::recognition_onnx`, run by our runtime
//! (tract), against face-api.js's own descriptors of the same pictures
//! (tests/fixtures/faceapi-descriptors.json, written by scripts/faceapi-reference.mjs with
//! TF.js; tests/node/faceapi.test.mjs checks that file against face-api.js on every run).

use siamese_train::export::WeightFormat;
use siamese_train::faceapi::{recognition_onnx, WeightMap, RECOGNITION_SIZE};
use siamese_wasm::encoder::Encoder;
use siamese_wasm::metadata::{ModelMetadata, Preprocess};
use siamese_wasm::metrics::Metric;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// tests/node/faceapi-reference.mjs's `syntheticPixels(k)`, as planes in [0, 1].
fn synthetic_planar(k: usize) -> Vec<f32> {
    let n = RECOGNITION_SIZE;
    let mut out = vec![0.0f32; 3 * n * n];
    for y in 0..n {
        for x in 0..n {
            for c in 0..3 {
                let stripes = (0.05 * (k + 1) as f64 * x as f64 + 0.031 * (c + 1) as f64 * y as f64 + k as f64).sin();
                let (dx, dy) = (x as f64 - 40.0 - 15.0 * k as f64, y as f64 - 60.0 - 7.0 * c as f64);
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

#[test]
fn converted_recogniser_agrees_with_face_api_js() {
    let manifest = root().join("node_modules/@vladmandic/face-api/model/face_recognition_model-weights_manifest.json");
    if !manifest.exists() {
        eprintln!("SKIP: {} is absent (npm install puts it there)", manifest.display());
        return;
    }
    let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root().join("tests/fixtures/faceapi-descriptors.json")).unwrap()).unwrap();
    let want: Vec<Vec<f32>> = serde_json::from_value(fixture["descriptors"].clone()).unwrap();
    assert_eq!(want.len(), fixture["synthetic"].as_u64().unwrap() as usize);
    let weights = WeightMap::read(&manifest).unwrap();
    let meta = ModelMetadata {
        name: "face-recognition".into(),
        version: "test".into(),
        preprocess: Preprocess::face_rgb(RECOGNITION_SIZE, RECOGNITION_SIZE),
        embedding_dim: 128,
        metric: Metric::Cosine,
        threshold: 0.9,
        training_data: String::new(),
    };
    let (f32_bytes, flops) = recognition_onnx(&weights, WeightFormat::F32, &meta).unwrap();
    let (int8_bytes, _) = recognition_onnx(&weights, WeightFormat::Int8, &meta).unwrap();
    assert!(int8_bytes.len() * 3 < f32_bytes.len(), "int8 weights: {} against {} bytes", int8_bytes.len(), f32_bytes.len());
    let (f32_net, int8_net) = (Encoder::from_bytes(&f32_bytes, None).unwrap(), Encoder::from_bytes(&int8_bytes, None).unwrap());
    let (mut worst_f32, mut worst_int8, mut worst_diff) = (1.0f32, 1.0f32, 0.0f32);
    for (k, w) in want.iter().enumerate() {
        let w = unit(w);
        let x = synthetic_planar(k);
        let a = f32_net.embed_input(&x).unwrap();
        let b = int8_net.embed_input(&x).unwrap();
        worst_f32 = worst_f32.min(siamese_wasm::metrics::dot(&a, &w));
        worst_int8 = worst_int8.min(siamese_wasm::metrics::dot(&b, &w));
        worst_diff = worst_diff.max(a.iter().zip(&w).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max));
    }
    eprintln!("{:.0} MFLOPs; cosine to face-api.js, worst of {}: f32 {worst_f32:.6} (largest coordinate difference {worst_diff:.2e}), int8 {worst_int8:.6}", flops as f64 / 1e6, want.len());
    // f32 is the same arithmetic in another order; the issue asks for cosine >= 0.99.
    assert!(worst_f32 >= 0.9999 && worst_diff < 1e-3, "f32: cosine {worst_f32}, difference {worst_diff}");
    // int8 weights (per output channel) on top of face-api.js's own 8-bit weights.
    assert!(worst_int8 >= 0.995, "int8: cosine {worst_int8}");
}
