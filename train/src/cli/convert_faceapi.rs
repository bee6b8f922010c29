//! `siamese-train convert-faceapi`: face-api.js's face networks as ONNX, the recogniser calibrated.

use super::{data_dir, pooled, preset, Preset};
use anyhow::{Context, Result};
use siamese_train::data::{read_identities, split_by_identity};
use siamese_train::eval::{align_faces, embed_identities, pair_scores, TractEmbedder};
use siamese_train::export::WeightFormat;
use siamese_train::faceapi::{
    detector_onnx, landmarks_onnx, recognition_onnx, WeightMap, RECOGNITION_SIZE,
};
use siamese_train::train::{dataset_prefix, drop_unusable};
use siamese_wasm::face::FaceFinder;
use siamese_wasm::runtime::encoder::Encoder as TractEncoder;
use siamese_wasm::runtime::metadata::{ModelMetadata, Preprocess};
use siamese_wasm::verify::calibrate::eer;
use siamese_wasm::verify::metrics::Metric;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The installed npm package.
    #[arg(long, default_value = "node_modules/@vladmandic/face-api")]
    pub package: PathBuf,
    /// Data root holding att_faces/ and yaleb/ (default ../shared/data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value = "models")]
    pub out: PathBuf,
    /// Also write the float forms (X.f32.onnx).
    #[arg(long)]
    pub f32: bool,
    /// The detector's input side (a multiple of 32).
    #[arg(long, default_value_t = 128)]
    pub detector_size: usize,
    /// The detector's score threshold.
    #[arg(long, default_value_t = 0.5)]
    pub detector_threshold: f32,
}

pub fn run(a: Args) -> Result<()> {
    let data = data_dir(a.data)
        .context("the recogniser's threshold is calibrated on the face training identities")?;
    let (package, out, write_f32) = (a.package.as_path(), a.out.as_path(), a.f32);
    let (detector_size, detector_threshold) = (a.detector_size, a.detector_threshold);
    let pkg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(package.join("package.json")).with_context(
            || format!("{} is not the installed npm package (npm install)", package.display()),
        )?)?;
    let version = pkg["version"].as_str().unwrap_or("unknown").to_string();
    let manifest =
        |name: &str| WeightMap::read(&package.join(format!("model/{name}-weights_manifest.json")));
    let origin = |net: &str| {
        format!("face-api.js {net} with the weights of the npm package @vladmandic/face-api {version} (MIT), converted by siamese-train convert-faceapi")
    };
    let tag = format!("{}+faceapi-{version}", env!("CARGO_PKG_VERSION"));
    std::fs::create_dir_all(out)?;
    let write = |name: &str, int8: Vec<u8>, f32: Option<Vec<u8>>| -> Result<()> {
        let path = out.join(format!("{name}.onnx"));
        std::fs::write(&path, &int8)?;
        eprintln!("wrote {} ({} bytes)", path.display(), int8.len());
        if let Some(f) = f32 {
            let path = out.join(format!("{name}.f32.onnx"));
            std::fs::write(&path, &f)?;
            eprintln!("wrote {} ({} bytes)", path.display(), f.len());
        }
        Ok(())
    };
    let det_w = manifest("tiny_face_detector_model")?;
    let det_origin = origin("TinyFaceDetector");
    let (detector, det_flops) = detector_onnx(
        &det_w,
        WeightFormat::Int8,
        detector_size,
        detector_threshold,
        &tag,
        &det_origin,
    )?;
    let det_f32 = if write_f32 {
        Some(
            detector_onnx(
                &det_w,
                WeightFormat::F32,
                detector_size,
                detector_threshold,
                &tag,
                &det_origin,
            )?
            .0,
        )
    } else {
        None
    };
    let lm_w = manifest("face_landmark_68_tiny_model")?;
    let lm_origin = origin("FaceLandmark68TinyNet");
    let (landmarks, lm_flops) = landmarks_onnx(&lm_w, WeightFormat::Int8, &tag, &lm_origin)?;
    let lm_f32 = if write_f32 {
        Some(landmarks_onnx(&lm_w, WeightFormat::F32, &tag, &lm_origin)?.0)
    } else {
        None
    };
    eprintln!(
        "detector {:.1} MFLOPs at {detector_size}x{detector_size}; landmarks {:.1} MFLOPs",
        det_flops as f64 / 1e6,
        lm_flops as f64 / 1e6
    );
    let finder = FaceFinder::from_bytes(&detector, &landmarks)?;
    write("face-detector", detector, det_f32)?;
    write("face-landmarks", landmarks, lm_f32)?;

    let weights = manifest("face_recognition_model")?;
    let face = preset(Preset::Face);
    let mut meta = ModelMetadata {
        name: "face-recognition".into(),
        version: tag.clone(),
        preprocess: Preprocess::face_rgb(RECOGNITION_SIZE, RECOGNITION_SIZE),
        embedding_dim: 128,
        metric: Metric::Cosine,
        threshold: 0.0,
        training_data: String::new(),
        operating_points: None,
    };
    // Calibrate the shipped (int8) form on the face training identities' detected and
    // aligned faces, pairs within each dataset pooled.
    let (int8, flops) = recognition_onnx(&weights, WeightFormat::Int8, &meta)?;
    let embedder = TractEmbedder(TractEncoder::from_bytes(&int8, None)?);
    let (mut scores, mut n_train, mut missed, mut seen) = (vec![], 0, 0, 0);
    for d in &face.datasets {
        let dir = data.join(d);
        let ids = drop_unusable(read_identities(&dir, &dataset_prefix(&dir))?, &meta.preprocess);
        let (train_ids, _) = split_by_identity(ids, face.val_fraction, face.seed);
        n_train += train_ids.len();
        seen += train_ids.iter().map(|i| i.samples.len()).sum::<usize>();
        let (aligned, m) = align_faces(train_ids, &finder);
        missed += m;
        scores.push((
            d.clone(),
            pair_scores(&embed_identities(&aligned, &meta.preprocess, &embedder)?, face.seed),
        ));
    }
    let pooled = pooled(&scores);
    let cal = eer(&pooled.genuine, &pooled.random);
    meta.threshold = cal.threshold;
    meta.training_data = format!(
        "{}; faces detected and aligned by face-detector.onnx and face-landmarks.onnx; threshold: EER point ({:.2}%) over {} training identities of {} (seed {}; no face found in {missed} of {seen} pictures), none of them seen by the network",
        origin("FaceRecognitionNet (after dlib's ResNet face recogniser)"),
        cal.eer * 100.0,
        n_train,
        face.datasets.join(", "),
        face.seed
    );
    eprintln!("recogniser {:.1} MFLOPs; no face in {missed} of {seen} training pictures; calibration EER {:.2}% at threshold {:.4}", flops as f64 / 1e6, cal.eer * 100.0, cal.threshold);
    let f32 = if write_f32 {
        Some(recognition_onnx(&weights, WeightFormat::F32, &meta)?.0)
    } else {
        None
    };
    write("face-recognition", recognition_onnx(&weights, WeightFormat::Int8, &meta)?.0, f32)?;
    Ok(())
}
