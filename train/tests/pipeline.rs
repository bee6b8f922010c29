//! End-to-end checks of the trainer on data it generates itself: a short training run
//! lowers the loss, and the exported ONNX, run by tract through the runtime's own
//! encoder, matches the burn model's embeddings.

use burn::module::Module;
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use siamese_train::data::{Identity, Sample};
use siamese_train::eval::Embedder;
use siamese_train::export::{fold, read_f32_onnx, to_onnx, WeightFormat};
use siamese_train::loss::{LossKind, LossParams};
use siamese_train::model::{Encoder, EncoderConfig};
use siamese_train::qlinear::{calibrate, to_qlinear_onnx};
use siamese_train::train::{train, BurnEmbedder, TrainConfig};
use siamese_wasm::input::strokes::{strokes_to_input, Point};
use siamese_wasm::runtime::encoder::Encoder as TractEncoder;
use siamese_wasm::runtime::metadata::{ModelMetadata, Preprocess};
use siamese_wasm::verify::metrics::{dot, Metric};

/// Identity `k` draws a polygon with `k + 3` corners; each sample wobbles it.
fn shapes(n: usize, per: usize, seed: u64) -> Vec<Identity> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|k| Identity {
            name: format!("shape{k}"),
            split_key: format!("shape{k}"),
            group: "shapes".into(),
            draw_weight: 1.0,
            samples: (0..per)
                .map(|_| {
                    let corners = k + 3;
                    let stroke: Vec<Point> = (0..=corners)
                        .map(|c| {
                            let a = c as f32 / corners as f32 * std::f32::consts::TAU;
                            Point::new(
                                a.cos() * 10.0 + rng.gen_range(-0.8..0.8),
                                a.sin() * 10.0 + rng.gen_range(-0.8..0.8),
                            )
                        })
                        .collect();
                    Sample {
                        strokes: Some(std::sync::Arc::new(vec![stroke])),
                        origin: format!("shape{k}"),
                        ..Default::default()
                    }
                })
                .collect(),
        })
        .collect()
}

fn small_config() -> TrainConfig {
    TrainConfig {
        name: "test".into(),
        datasets: vec!["shapes".into()],
        preprocess: Preprocess::ink(32, 32),
        encoder: EncoderConfig { height: 32, width: 32, channels: vec![8, 16], embedding_dim: 16 },
        loss: LossParams { kind: LossKind::TripletBatchHard, margin: 0.3, scale: 32.0 },
        p: 4,
        k: 4,
        forgeries: 0,
        epochs: 3,
        steps_per_epoch: 12,
        lr: 3e-3,
        weight_decay: 0.0,
        val_fraction: 0.25,
        seed: 3,
        turned_classes: vec![],
        mirrored_classes: vec![],
        draw_weights: Default::default(),
        val_samples_per_epoch: None,
    }
}

#[test]
fn a_short_training_run_lowers_the_loss() {
    let cfg = small_config();
    let ids = shapes(6, 8, 1);
    let val = vec![shapes(3, 6, 2)];
    let t = train(&cfg, &ids, &val, None).unwrap();
    let first = t.log.first().unwrap().loss;
    let last = t.log.last().unwrap().loss;
    assert!(last < first * 0.8, "loss went from {first} to {last}");
    // No collapse: negatives stay farther apart than positives.
    let l = t.log.last().unwrap();
    assert!(l.mean_neg_dist > l.mean_pos_dist, "{l:?}");
}

fn meta(cfg: &EncoderConfig, pre: Preprocess) -> ModelMetadata {
    ModelMetadata {
        name: "test".into(),
        version: "0".into(),
        preprocess: pre,
        embedding_dim: cfg.embedding_dim,
        metric: Metric::Cosine,
        threshold: 0.5,
        training_data: String::new(),
        operating_points: None,
    }
}

#[test]
fn exported_onnx_matches_burn_and_int8_forms_stay_close() {
    let cfg = EncoderConfig { height: 32, width: 48, channels: vec![8, 16, 24], embedding_dim: 32 };
    let pre = Preprocess::ink(32, 48);
    let device = Device::default().autodiff();
    device.seed(11);
    let mut model = Encoder::new(&cfg, &device);
    // A few training steps so batch-norm statistics are not the identity.
    let mut optim = burn::optim::AdamConfig::new().init();
    let ids = shapes(4, 4, 5);
    let inputs: Vec<Vec<f32>> = ids
        .iter()
        .flat_map(|i| {
            i.samples.iter().map(|s| strokes_to_input(s.strokes.as_ref().unwrap(), &pre).unwrap())
        })
        .collect();
    let labels: Vec<i64> = (0..16).map(|i| i / 4).collect();
    for _ in 0..3 {
        let x = Tensor::<4>::from_data(TensorData::new(inputs.concat(), [16, 1, 32, 48]), &device);
        let out = siamese_train::loss::compute(
            &LossParams { kind: LossKind::Circle, margin: 0.25, scale: 16.0 },
            model.forward(x),
            &labels,
        );
        let grads = burn::optim::GradientsParams::from_grads(out.loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let model = model.valid();
    let burn_emb = BurnEmbedder { model: &model, config: &cfg, device: Device::default() }
        .embed(&inputs)
        .unwrap();
    let net = fold(&model, &cfg);
    let f32_bytes = to_onnx(&net, WeightFormat::F32, &meta(&cfg, pre));
    let f32_enc = TractEncoder::from_bytes(&f32_bytes, None).unwrap();
    let i8_bytes = to_onnx(&net, WeightFormat::Int8, &meta(&cfg, pre));
    let i8_enc = TractEncoder::from_bytes(&i8_bytes, None).unwrap();
    // The float file reads back to the same weights, and its integer form runs in tract.
    let (back, back_meta) = read_f32_onnx(&f32_bytes).unwrap();
    assert_eq!(
        (&back.convs, &back.head, &back.config, &back_meta),
        (&net.convs, &net.head, &net.config, &meta(&cfg, pre))
    );
    let ranges = calibrate(&f32_bytes, cfg.channels.len(), &inputs).unwrap();
    let ql_enc =
        siamese_train::eval::load_encoder(&to_qlinear_onnx(&back, &ranges, &back_meta)).unwrap();
    let (mut worst_f32, mut worst_i8, mut worst_ql) = (0.0f32, 1.0f32, 1.0f32);
    for (x, b) in inputs.iter().zip(&burn_emb) {
        let t = f32_enc.embed_input(x).unwrap();
        let q = i8_enc.embed_input(x).unwrap();
        worst_f32 = worst_f32.max(t.iter().zip(b).map(|(u, v)| (u - v).abs()).fold(0.0, f32::max));
        worst_i8 = worst_i8.min(dot(&q, &t));
        worst_ql = worst_ql.min(dot(&ql_enc.embed_input(x).unwrap(), &t));
    }
    // Tolerances: f32 graphs differ only by summation order and batch-norm folding.
    assert!(worst_f32 < 1e-4, "tract f32 vs burn: max abs diff {worst_f32}");
    // int8 weights (per-channel scales) keep each embedding's direction.
    assert!(worst_i8 > 0.995, "int8 vs f32 cosine {worst_i8}");
    // u8 activations as well (256 levels per tensor, calibrated on these inputs) cost more.
    assert!(worst_ql > 0.98, "fully integer vs f32 cosine {worst_ql}");
    assert_eq!(i8_enc.meta, meta(&cfg, pre), "metadata travels in the file");
}
