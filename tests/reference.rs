//! The native half of the wasm-vs-native check: tract run natively on the shipped models
//! must give the embeddings in `tests/fixtures/reference-embeddings.json`, which the
//! in-browser test (`tests/web.rs`) compares the wasm build against. Regenerate the file
//! after retraining a model with `UPDATE_REFERENCE=1 cargo test --test reference`.

mod common;
use common::*;
use siamese_wasm::runtime::encoder::Encoder;
use siamese_wasm::verify::export::fingerprint;

fn compute() -> Reference {
    let sig_bytes = std::fs::read("models/signature.onnx").unwrap();
    let face_bytes = std::fs::read("models/face.onnx").unwrap();
    let sig = Encoder::from_bytes(&sig_bytes, None).unwrap();
    let face = Encoder::from_bytes(&face_bytes, None).unwrap();
    Reference {
        signature_model: fingerprint(&sig_bytes),
        face_model: fingerprint(&face_bytes),
        signature_image: sig.embed_rgba(SIG_W, SIG_H, &signature_rgba(SIG_W, SIG_H, 0.0)).unwrap(),
        signature_strokes: sig.embed_strokes(&signature_strokes(0.0)).unwrap(),
        face_image: face.embed_rgba(FACE_W, FACE_H, &face_rgba(FACE_W, FACE_H, 0.3)).unwrap(),
    }
}

#[test]
fn native_embeddings_match_the_reference_file() {
    let now = compute();
    if std::env::var_os("UPDATE_REFERENCE").is_some() {
        std::fs::write(REFERENCE_PATH, serde_json::to_string_pretty(&now).unwrap()).unwrap();
        eprintln!("wrote {REFERENCE_PATH}");
    }
    let text = std::fs::read_to_string(REFERENCE_PATH).unwrap_or_else(|_| {
        panic!("{REFERENCE_PATH} is missing: run UPDATE_REFERENCE=1 cargo test --test reference")
    });
    let stored: Reference = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (&stored.signature_model, &stored.face_model),
        (&now.signature_model, &now.face_model),
        "the shipped models changed since {REFERENCE_PATH} was written: rerun with UPDATE_REFERENCE=1"
    );
    for (name, a, b) in [
        ("signature image", &stored.signature_image, &now.signature_image),
        ("signature strokes", &stored.signature_strokes, &now.signature_strokes),
        ("face image", &stored.face_image, &now.face_image),
    ] {
        let d = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(d < 1e-6, "{name}: native tract differs from the reference by {d}");
    }
}
