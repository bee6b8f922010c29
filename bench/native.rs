//! Native tract on the shipped models: per-embedding time on this CPU and each model's
//! FLOPs (tract's own cost model: two FLOPs per multiply-add), the reference for what the
//! browser build could reach. Prints JSON for bench/run.mjs.
//!
//!     cargo run --release --example bench-native -- [ROUNDS] [MODEL.onnx ...]
//!
//! Without model files it measures the shipped `models/signature.onnx` and `models/face.onnx`.

use siamese_wasm::runtime::encoder::Encoder;
use std::time::Instant;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::Cost;

/// Multiply-adds per embedding, summed over the decluttered graph's ops.
fn mflops(bytes: &[u8], h: usize, w: usize) -> TractResult<f64> {
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])?
        .with_input_fact(0, f32::fact([1, 1, h, w]).into())?
        .into_typed()?
        .into_decluttered()?;
    let mut fma = 0i64;
    for id in model.eval_order()? {
        let node = &model.nodes[id];
        for (cost, n) in node.op.cost(&model.node_input_facts(id)?)? {
            if let Cost::FMA(_) = cost {
                fma += n.to_i64()?;
            }
        }
    }
    Ok(2.0 * fma as f64 / 1e6)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> TractResult<()> {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    let mut files: Vec<String> = std::env::args().skip(2).collect();
    if files.is_empty() {
        files = vec!["models/signature.onnx".into(), "models/face.onnx".into()];
    }
    let mut out = serde_json::Map::new();
    for file in files {
        let bytes = std::fs::read(&file)?;
        let name = if file.starts_with("models/") {
            file.trim_start_matches("models/").trim_end_matches(".onnx").to_string()
        } else {
            file.clone()
        };
        let enc = Encoder::from_bytes(&bytes, None)?;
        let (h, w) = (enc.meta.preprocess.height, enc.meta.preprocess.width);
        let x: Vec<f32> = (0..h * w)
            .map(|i| ((i as f32 * 0.37).sin() * (i as f32 * 0.011).cos()).max(0.0))
            .collect();
        for _ in 0..5 {
            enc.embed_input(&x)?;
        }
        let per_round = 50;
        let times: Vec<f64> = (0..rounds)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..per_round {
                    enc.embed_input(&x).unwrap();
                }
                t.elapsed().as_secs_f64() * 1e3 / per_round as f64
            })
            .collect();
        out.insert(name, serde_json::json!({ "ms": median(times), "mflops": (mflops(&bytes, h, w)? * 10.0).round() / 10.0 }));
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
