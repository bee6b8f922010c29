//! face-api.js's pretrained face recogniser, converted to ONNX for our runtime.
//!
//! The MIT-licensed npm package `@vladmandic/face-api` (a maintained fork of Vincent
//! Mühler's face-api.js) ships its trained networks as TF.js weight manifests and `.bin`
//! shards. A manifest names and shapes each tensor but carries no graph: the graph is the
//! package's TypeScript. So the graph is rebuilt here, in ONNX, from that published
//! architecture (`src/faceRecognitionNet/` of the package), and the weights are read from
//! the shards. The recogniser is a ResNet-34-like network after dlib's
//! `dlib_face_recognition_resnet_model_v1`: 150x150 RGB crops to 128-d descriptors.

use crate::export::{add_weight, attr_int, attr_ints, encode_model, f32_tensor, node, value_info, WeightFormat};
use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;
use siamese_wasm::metadata::ModelMetadata;
use std::collections::BTreeMap;
use std::path::Path;
use tract_onnx::pb;

/// The recogniser's input side; it works on square crops.
pub const RECOGNITION_SIZE: usize = 150;
/// Mean pixel (0-255 RGB) the recogniser subtracts before dividing by 255 (face-api.js's
/// `FaceRecognitionNet.forwardInput`). Folded into the first convolution here.
const MEAN_RGB: [f32; 3] = [122.782, 117.001, 104.298];

#[derive(Deserialize)]
struct ManifestGroup {
    paths: Vec<String>,
    weights: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestEntry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    quantization: Option<Quantization>,
}

#[derive(Deserialize)]
struct Quantization {
    dtype: String,
    scale: Option<f32>,
    min: Option<f32>,
}

/// A TF.js weight manifest's tensors, dequantised to f32, by name.
pub struct WeightMap {
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl WeightMap {
    /// Reads `manifest` (a `*-weights_manifest.json`) and the shards it names, from the
    /// same folder. TF.js lays each group's tensors one after another across its shards;
    /// a quantised tensor is `q * scale + min` (uint8/uint16).
    pub fn read(manifest: &Path) -> Result<Self> {
        let dir = manifest.parent().unwrap_or(Path::new("."));
        let groups: Vec<ManifestGroup> = serde_json::from_slice(&std::fs::read(manifest).with_context(|| format!("reading {}", manifest.display()))?)
            .with_context(|| format!("{} is not a TF.js weights manifest", manifest.display()))?;
        let mut tensors = BTreeMap::new();
        for g in groups {
            let mut bytes = vec![];
            for p in &g.paths {
                bytes.extend(std::fs::read(dir.join(p)).with_context(|| format!("reading shard {p}"))?);
            }
            let mut at = 0usize;
            for w in g.weights {
                let n: usize = w.shape.iter().product();
                let mut take = |size: usize| -> Result<&[u8]> {
                    let end = at + n * size;
                    ensure!(end <= bytes.len(), "shards end inside {} (need {end} bytes, have {})", w.name, bytes.len());
                    let s = &bytes[at..end];
                    at = end;
                    Ok(s)
                };
                let values: Vec<f32> = match (&w.quantization, w.dtype.as_str()) {
                    (None, "float32") => take(4)?.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
                    (Some(q), "float32") => {
                        let (scale, min) = (q.scale.context("quantised weight without scale")?, q.min.context("quantised weight without min")?);
                        match q.dtype.as_str() {
                            "uint8" => take(1)?.iter().map(|&v| v as f32 * scale + min).collect(),
                            "uint16" => take(2)?.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]) as f32 * scale + min).collect(),
                            other => bail!("{}: unsupported quantisation {other}", w.name),
                        }
                    }
                    (_, other) => bail!("{}: unsupported dtype {other}", w.name),
                };
                tensors.insert(w.name, (w.shape, values));
            }
            ensure!(at == bytes.len(), "shards hold {} bytes more than the manifest describes", bytes.len() - at);
        }
        Ok(WeightMap { tensors })
    }

    fn get(&self, name: &str) -> Result<(&[usize], &[f32])> {
        let (s, v) = self.tensors.get(name).with_context(|| format!("the manifest has no tensor {name}"))?;
        Ok((s, v))
    }
}

/// Builds the ONNX graph, NCHW, keeping track of each tensor's channels and side.
struct Builder<'a> {
    g: pb::GraphProto,
    fmt: WeightFormat,
    weights: &'a WeightMap,
    flops: u64,
}

#[derive(Clone)]
struct Feature {
    name: String,
    channels: usize,
    side: usize,
}

impl Builder<'_> {
    /// face-api.js's `convLayer`: conv (`{p}/conv/filters` HWIO, `{p}/conv/bias`), then the
    /// per-channel `scale` layer, folded into one ONNX Conv. `subtract` is a per-input-channel
    /// value taken off the input first (the mean pixel), folded into the bias; exact only
    /// without padding, which is where it is used.
    fn conv(&mut self, x: &Feature, p: &str, stride: usize, same: bool, relu: bool, subtract: Option<[f32; 3]>) -> Result<Feature> {
        let (fs, f) = self.weights.get(&format!("{p}/conv/filters"))?;
        let (_, bias) = self.weights.get(&format!("{p}/conv/bias"))?;
        let (_, sw) = self.weights.get(&format!("{p}/scale/weights"))?;
        let (_, sb) = self.weights.get(&format!("{p}/scale/biases"))?;
        ensure!(fs.len() == 4 && fs[0] == fs[1] && fs[2] == x.channels, "{p}: filters {fs:?} do not fit {} input channels", x.channels);
        let (k, cin, cout) = (fs[0], fs[2], fs[3]);
        ensure!(bias.len() == cout && sw.len() == cout && sb.len() == cout, "{p}: bias or scale is not {cout} long");
        ensure!(subtract.is_none() || !same, "{p}: a folded input offset needs an unpadded convolution");
        let mut w = vec![0.0f32; cout * cin * k * k];
        let mut b = vec![0.0f32; cout];
        for co in 0..cout {
            let mut offset = 0.0f32;
            for ci in 0..cin {
                for ky in 0..k {
                    for kx in 0..k {
                        let v = f[((ky * k + kx) * cin + ci) * cout + co];
                        w[((co * cin + ci) * k + ky) * k + kx] = v * sw[co];
                        if let Some(m) = subtract {
                            offset += v * m[ci];
                        }
                    }
                }
            }
            b[co] = (bias[co] - offset) * sw[co] + sb[co];
        }
        // TF "same" with stride 1 and an odd kernel pads (k-1)/2 on each side; "valid" none.
        let pad = if same { (k - 1) / 2 } else { 0 };
        let side = (x.side + 2 * pad - k) / stride + 1;
        let name = p.replace('/', ".");
        let (wn, bn) = (format!("{name}.weight"), format!("{name}.bias"));
        add_weight(&mut self.g, self.fmt, &wn, &[cout, cin, k, k], &w, 0, &[cout, 1, 1, 1]);
        self.g.initializer.push(f32_tensor(&bn, &[cout], &b));
        let p4 = pad as i64;
        self.g.node.push(node(
            "Conv",
            &name,
            &[&x.name, &wn, &bn],
            &[&name],
            vec![attr_ints("kernel_shape", &[k as i64, k as i64]), attr_ints("pads", &[p4, p4, p4, p4]), attr_ints("strides", &[stride as i64, stride as i64])],
        ));
        self.flops += 2 * (cout * cin * k * k * side * side) as u64;
        let out = Feature { name: name.clone(), channels: cout, side };
        Ok(if relu { self.relu(&out) } else { out })
    }

    fn relu(&mut self, x: &Feature) -> Feature {
        let name = format!("{}.relu", x.name);
        self.g.node.push(node("Relu", &name, &[&x.name], &[&name], vec![]));
        Feature { name, ..x.clone() }
    }

    fn add_relu(&mut self, a: &Feature, b: &Feature, name: &str) -> Feature {
        let sum = format!("{name}.add");
        self.g.node.push(node("Add", &sum, &[&a.name, &b.name], &[&sum], vec![]));
        self.relu(&Feature { name: sum, ..a.clone() })
    }

    /// Zero padding at the end of the channel axis and of the two spatial axes.
    fn pad_end(&mut self, x: &Feature, channels: usize, spatial: usize, name: &str) -> Feature {
        let pads = format!("{name}.pads");
        let v = [0, 0, 0, 0, 0, channels as i64, spatial as i64, spatial as i64];
        self.g.initializer.push(pb::TensorProto { name: pads.clone(), dims: vec![8], data_type: 7, int64_data: v.to_vec(), ..Default::default() });
        self.g.node.push(node("Pad", name, &[&x.name, &pads], &[name], vec![]));
        Feature { name: name.into(), channels: x.channels + channels, side: x.side + spatial }
    }

    /// `residual`: two 3x3 convs, the input added back, ReLU.
    fn residual(&mut self, x: &Feature, p: &str) -> Result<Feature> {
        let h = self.conv(x, &format!("{p}/conv1"), 1, true, true, None)?;
        let h = self.conv(&h, &format!("{p}/conv2"), 1, true, false, None)?;
        Ok(self.add_relu(&h, x, p))
    }

    /// `residualDown`: a stride-2 "valid" conv then a 3x3 conv; the shortcut is a 2x2
    /// average pool, its extra channels zeros. Where the pool's side is one more than the
    /// conv's (odd sides), the conv output gets a zero row and column at the end.
    fn residual_down(&mut self, x: &Feature, p: &str) -> Result<Feature> {
        let h = self.conv(x, &format!("{p}/conv1"), 2, false, true, None)?;
        let mut h = self.conv(&h, &format!("{p}/conv2"), 1, true, false, None)?;
        let pool_name = format!("{p}.shortcut");
        self.g.node.push(node("AveragePool", &pool_name, &[&x.name], &[&pool_name], vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])]));
        let mut pooled = Feature { name: pool_name, channels: x.channels, side: x.side / 2 };
        if pooled.side != h.side {
            ensure!(pooled.side == h.side + 1, "{p}: shortcut side {} against {}", pooled.side, h.side);
            h = self.pad_end(&h, 0, 1, &format!("{p}.pad_side"));
        }
        if pooled.channels != h.channels {
            pooled = self.pad_end(&pooled, h.channels - pooled.channels, 0, &format!("{p}.pad_channels"));
        }
        Ok(self.add_relu(&h, &pooled, p))
    }
}

/// The recogniser as ONNX: input `[N, 3, 150, 150]` RGB in [0, 1], output the
/// L2-normalised 128-d descriptor. Returns the model bytes and its FLOPs per embedding.
pub fn recognition_onnx(weights: &WeightMap, fmt: WeightFormat, meta: &ModelMetadata) -> Result<(Vec<u8>, u64)> {
    let p = &meta.preprocess;
    ensure!(p.channels() == 3 && p.height == RECOGNITION_SIZE && p.width == RECOGNITION_SIZE, "the recogniser takes 3 x 150 x 150");
    let mut b = Builder { g: pb::GraphProto { name: meta.name.clone(), ..Default::default() }, fmt, weights, flops: 0 };
    b.g.input.push(value_info("input", &[None, Some(3), Some(RECOGNITION_SIZE), Some(RECOGNITION_SIZE)]));
    let x = Feature { name: "input".into(), channels: 3, side: RECOGNITION_SIZE };
    // Input in [0, 1]: face-api.js computes (255 x - mean) / 255 = x - mean / 255.
    let mean = MEAN_RGB.map(|m| m / 255.0);
    let mut x = b.conv(&x, "conv32_down", 2, false, true, Some(mean))?;
    let pool = "stem.maxpool".to_string();
    b.g.node.push(node("MaxPool", &pool, &[&x.name], &[&pool], vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2])]));
    x = Feature { name: pool, channels: x.channels, side: (x.side - 3) / 2 + 1 };
    for layer in ["conv32_1", "conv32_2", "conv32_3", "conv64_down", "conv64_1", "conv64_2", "conv64_3", "conv128_down", "conv128_1", "conv128_2", "conv256_down", "conv256_1", "conv256_2", "conv256_down_out"] {
        x = if layer.ends_with("down") || layer.ends_with("down_out") { b.residual_down(&x, layer)? } else { b.residual(&x, layer)? };
    }
    b.g.node.push(node("GlobalAveragePool", "gap", &[&x.name], &["gap"], vec![]));
    b.g.node.push(node("Flatten", "flatten", &["gap"], &["flat"], vec![attr_int("axis", 1)]));
    let (fs, fc) = weights.get("fc")?;
    ensure!(fs == [x.channels, meta.embedding_dim], "fc is {fs:?}, expected [{}, {}]", x.channels, meta.embedding_dim);
    add_weight(&mut b.g, fmt, "fc.weight", fs, fc, 1, &[1, fs[1]]);
    b.g.initializer.push(f32_tensor("fc.bias", &[fs[1]], &vec![0.0; fs[1]]));
    b.g.node.push(node("Gemm", "fc", &["flat", "fc.weight", "fc.bias"], &["descriptor"], vec![]));
    b.g.node.push(node("LpNormalization", "l2norm", &["descriptor"], &["embedding"], vec![attr_int("axis", 1), attr_int("p", 2)]));
    b.g.output.push(value_info("embedding", &[None, Some(meta.embedding_dim)]));
    b.flops += 2 * (fs[0] * fs[1]) as u64;
    let flops = b.flops;
    Ok((encode_model(b.g, flops, meta), flops))
}
