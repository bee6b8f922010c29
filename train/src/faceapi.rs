//! face-api.js's pretrained face recogniser, converted to ONNX for our runtime.
//!
//! The MIT-licensed npm package `@vladmandic/face-api` (a maintained fork of Vincent
//! Mühler's face-api.js) ships its trained networks as TF.js weight manifests and `.bin`
//! shards. A manifest names and shapes each tensor but carries no graph: the graph is the
//! package's TypeScript. So the graph is rebuilt here, in ONNX, from that published
//! architecture (`src/faceRecognitionNet/` of the package), and the weights are read from
//! the shards. The recogniser is a ResNet-34-like network after dlib's
//! `dlib_face_recognition_resnet_model_v1`: 150x150 RGB crops to 128-d descriptors.

use crate::export::{
    add_weight, attr_int, attr_ints, encode_model, encode_model_props, f32_tensor, node,
    value_info, WeightFormat, INT64,
};
use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;
use siamese_wasm::face::{FaceModel, FACE_MODEL_KEY};
use siamese_wasm::runtime::metadata::ModelMetadata;
use siamese_wasm::runtime::onnx as pb;
use std::collections::BTreeMap;
use std::path::Path;

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
        let groups: Vec<ManifestGroup> = serde_json::from_slice(
            &std::fs::read(manifest).with_context(|| format!("reading {}", manifest.display()))?,
        )
        .with_context(|| format!("{} is not a TF.js weights manifest", manifest.display()))?;
        let mut tensors = BTreeMap::new();
        for g in groups {
            let mut bytes = vec![];
            for p in &g.paths {
                bytes.extend(
                    std::fs::read(dir.join(p)).with_context(|| format!("reading shard {p}"))?,
                );
            }
            let mut at = 0usize;
            for w in g.weights {
                let n: usize = w.shape.iter().product();
                let mut take = |size: usize| -> Result<&[u8]> {
                    let end = at + n * size;
                    ensure!(
                        end <= bytes.len(),
                        "shards end inside {} (need {end} bytes, have {})",
                        w.name,
                        bytes.len()
                    );
                    let s = &bytes[at..end];
                    at = end;
                    Ok(s)
                };
                let values: Vec<f32> = match (&w.quantization, w.dtype.as_str()) {
                    (None, "float32") => take(4)?
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect(),
                    (Some(q), "float32") => {
                        let (scale, min) = (
                            q.scale.context("quantised weight without scale")?,
                            q.min.context("quantised weight without min")?,
                        );
                        match q.dtype.as_str() {
                            "uint8" => take(1)?.iter().map(|&v| v as f32 * scale + min).collect(),
                            "uint16" => take(2)?
                                .chunks_exact(2)
                                .map(|b| u16::from_le_bytes([b[0], b[1]]) as f32 * scale + min)
                                .collect(),
                            other => bail!("{}: unsupported quantisation {other}", w.name),
                        }
                    }
                    (_, other) => bail!("{}: unsupported dtype {other}", w.name),
                };
                tensors.insert(w.name, (w.shape, values));
            }
            ensure!(
                at == bytes.len(),
                "shards hold {} bytes more than the manifest describes",
                bytes.len() - at
            );
        }
        Ok(WeightMap { tensors })
    }

    fn get(&self, name: &str) -> Result<(&[usize], &[f32])> {
        let (s, v) =
            self.tensors.get(name).with_context(|| format!("the manifest has no tensor {name}"))?;
        Ok((s, v))
    }
}

/// Builds an ONNX graph, NCHW, keeping track of each tensor's channels and side (the
/// networks take square inputs of a fixed size, so every padding is known here).
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

/// TF's padding for one spatial axis: `(before, after, output side)`. "same" gives
/// `ceil(n / stride)` outputs, the odd padding pixel going after; "valid" pads nothing.
fn tf_padding(n: usize, k: usize, stride: usize, same: bool) -> (usize, usize, usize) {
    if same {
        let out = n.div_ceil(stride);
        let total = ((out - 1) * stride + k).saturating_sub(n);
        (total / 2, total - total / 2, out)
    } else {
        (0, 0, (n - k) / stride + 1)
    }
}

impl<'a> Builder<'a> {
    fn new(name: &str, fmt: WeightFormat, weights: &'a WeightMap, side: usize) -> (Self, Feature) {
        let mut g = pb::GraphProto { name: name.into(), ..Default::default() };
        g.input.push(value_info("input", &[None, Some(3), Some(side), Some(side)]));
        (Builder { g, fmt, weights, flops: 0 }, Feature { name: "input".into(), channels: 3, side })
    }

    /// An ONNX Conv with weights `w` (`[cout, cin / group, k, k]`) and bias `b`.
    #[allow(clippy::too_many_arguments)]
    fn conv_raw(
        &mut self,
        x: &Feature,
        name: &str,
        w: &[f32],
        dims: [usize; 4],
        b: &[f32],
        stride: usize,
        same: bool,
        group: usize,
    ) -> Feature {
        let [cout, _, k, _] = dims;
        let (before, after, side) = tf_padding(x.side, k, stride, same);
        let (wn, bn) = (format!("{name}.weight"), format!("{name}.bias"));
        add_weight(&mut self.g, self.fmt, &wn, &dims, w, 0, &[cout, 1, 1, 1]);
        self.g.initializer.push(f32_tensor(&bn, &[cout], b));
        let (pb_, pa) = (before as i64, after as i64);
        let mut attrs = vec![
            attr_ints("kernel_shape", &[k as i64, k as i64]),
            attr_ints("pads", &[pb_, pb_, pa, pa]),
            attr_ints("strides", &[stride as i64, stride as i64]),
        ];
        if group > 1 {
            attrs.push(attr_int("group", group as i64));
        }
        self.g.node.push(node("Conv", name, &[&x.name, &wn, &bn], &[name], attrs));
        self.flops += 2 * (dims.iter().product::<usize>() * side * side) as u64;
        Feature { name: name.into(), channels: cout, side }
    }

    /// A TF conv (`{p}/filters` HWIO, `{p}/bias`).
    fn tf_conv(&mut self, x: &Feature, p: &str, stride: usize, same: bool) -> Result<Feature> {
        let (fs, f) = self.weights.get(&format!("{p}/filters"))?;
        let (_, bias) = self.weights.get(&format!("{p}/bias"))?;
        ensure!(
            fs.len() == 4 && fs[0] == fs[1] && fs[2] == x.channels && bias.len() == fs[3],
            "{p}: filters {fs:?} do not fit {} input channels",
            x.channels
        );
        let w = hwio_to_oihw(f, fs);
        Ok(self.conv_raw(
            x,
            &p.replace('/', "."),
            &w,
            [fs[3], fs[2], fs[0], fs[1]],
            bias,
            stride,
            same,
            1,
        ))
    }

    /// TF's `separableConv2d` and bias: a depthwise conv (`{p}/depthwise_filter`, carrying
    /// the stride) then a 1x1 conv (`{p}/pointwise_filter`).
    fn separable(&mut self, x: &Feature, p: &str, stride: usize) -> Result<Feature> {
        let (ds, d) = self.weights.get(&format!("{p}/depthwise_filter"))?;
        let (ps, pw) = self.weights.get(&format!("{p}/pointwise_filter"))?;
        let (_, bias) = self.weights.get(&format!("{p}/bias"))?;
        let c = x.channels;
        ensure!(
            ds == [3, 3, c, 1] && ps.len() == 4 && ps[2] == c && bias.len() == ps[3],
            "{p}: {ds:?} / {ps:?} do not fit {c} channels"
        );
        let name = p.replace('/', ".");
        let dw = hwio_to_oihw(d, &[3, 3, 1, c]); // depthwise: one input channel per group
        let h = self.conv_raw(
            x,
            &format!("{name}.depthwise"),
            &dw,
            [c, 1, 3, 3],
            &vec![0.0; c],
            stride,
            true,
            c,
        );
        let pw = hwio_to_oihw(pw, ps);
        Ok(self.conv_raw(&h, &name, &pw, [ps[3], c, 1, 1], bias, 1, true, 1))
    }

    /// face-api.js's `convLayer` of the recogniser: conv (`{p}/conv/filters` HWIO,
    /// `{p}/conv/bias`), then the per-channel `scale` layer, folded into one ONNX Conv.
    /// `subtract` is a per-input-channel value taken off the input first (the mean pixel),
    /// folded into the bias; exact only without padding, which is where it is used.
    fn conv(
        &mut self,
        x: &Feature,
        p: &str,
        stride: usize,
        same: bool,
        relu: bool,
        subtract: Option<[f32; 3]>,
    ) -> Result<Feature> {
        let (fs, f) = self.weights.get(&format!("{p}/conv/filters"))?;
        let (_, bias) = self.weights.get(&format!("{p}/conv/bias"))?;
        let (_, sw) = self.weights.get(&format!("{p}/scale/weights"))?;
        let (_, sb) = self.weights.get(&format!("{p}/scale/biases"))?;
        ensure!(
            fs.len() == 4 && fs[0] == fs[1] && fs[2] == x.channels,
            "{p}: filters {fs:?} do not fit {} input channels",
            x.channels
        );
        let (k, cin, cout) = (fs[0], fs[2], fs[3]);
        ensure!(
            bias.len() == cout && sw.len() == cout && sb.len() == cout,
            "{p}: bias or scale is not {cout} long"
        );
        ensure!(
            subtract.is_none() || !same,
            "{p}: a folded input offset needs an unpadded convolution"
        );
        let mut w = hwio_to_oihw(f, fs);
        let mut b = vec![0.0f32; cout];
        let per = cin * k * k;
        for co in 0..cout {
            let offset: f32 = match subtract {
                Some(m) => (0..per).map(|i| w[co * per + i] * m[i / (k * k)]).sum(),
                None => 0.0,
            };
            w[co * per..(co + 1) * per].iter_mut().for_each(|v| *v *= sw[co]);
            b[co] = (bias[co] - offset) * sw[co] + sb[co];
        }
        let out =
            self.conv_raw(x, &p.replace('/', "."), &w, [cout, cin, k, k], &b, stride, same, 1);
        Ok(if relu { self.relu(&out) } else { out })
    }

    fn unary(
        &mut self,
        op: &str,
        x: &Feature,
        suffix: &str,
        attrs: Vec<pb::AttributeProto>,
    ) -> Feature {
        let name = format!("{}.{suffix}", x.name);
        self.g.node.push(node(op, &name, &[&x.name], &[&name], attrs));
        Feature { name, ..x.clone() }
    }

    fn relu(&mut self, x: &Feature) -> Feature {
        self.unary("Relu", x, "relu", vec![])
    }

    /// face-api.js's `leaky`: relu(x - 0.1 x) + 0.1 x, which is LeakyRelu(0.1).
    fn leaky(&mut self, x: &Feature) -> Feature {
        let alpha = pb::AttributeProto {
            name: "alpha".into(),
            r#type: pb::attribute_proto::AttributeType::Float as i32,
            f: 0.1,
            ..Default::default()
        };
        self.unary("LeakyRelu", x, "leaky", vec![alpha])
    }

    fn add(&mut self, a: &Feature, b: &Feature, name: &str) -> Feature {
        self.g.node.push(node("Add", name, &[&a.name, &b.name], &[name], vec![]));
        Feature { name: name.into(), ..a.clone() }
    }

    fn add_relu(&mut self, a: &Feature, b: &Feature, name: &str) -> Feature {
        let sum = self.add(a, b, &format!("{name}.add"));
        self.relu(&sum)
    }

    /// TF max pooling; "same" pads are ignored by ONNX MaxPool, as by TF.
    fn max_pool(
        &mut self,
        x: &Feature,
        k: usize,
        stride: usize,
        same: bool,
        name: &str,
    ) -> Feature {
        let (before, after, side) = tf_padding(x.side, k, stride, same);
        let (b, a) = (before as i64, after as i64);
        let attrs = vec![
            attr_ints("kernel_shape", &[k as i64, k as i64]),
            attr_ints("strides", &[stride as i64, stride as i64]),
            attr_ints("pads", &[b, b, a, a]),
        ];
        self.g.node.push(node("MaxPool", name, &[&x.name], &[name], attrs));
        Feature { name: name.into(), side, ..x.clone() }
    }

    /// `x - mean / 255` per channel, for inputs in [0, 1] (face-api.js: `(x - mean) / 255`
    /// on 0-255 pixels), where the first conv pads and the mean cannot be folded.
    fn subtract_mean(&mut self, x: &Feature, mean: [f32; 3]) -> Feature {
        self.g.initializer.push(f32_tensor("mean_rgb", &[1, 3, 1, 1], &mean.map(|m| m / 255.0)));
        self.g.node.push(node("Sub", "normalise", &[&x.name, "mean_rgb"], &["normalised"], vec![]));
        Feature { name: "normalised".into(), ..x.clone() }
    }

    /// Zero padding at the end of the channel axis and of the two spatial axes.
    fn pad_end(&mut self, x: &Feature, channels: usize, spatial: usize, name: &str) -> Feature {
        let pads = format!("{name}.pads");
        let v = [0, 0, 0, 0, 0, channels as i64, spatial as i64, spatial as i64];
        self.g.initializer.push(pb::TensorProto {
            name: pads.clone(),
            dims: vec![8],
            data_type: INT64,
            int64_data: v.to_vec(),
            ..Default::default()
        });
        self.g.node.push(node("Pad", name, &[&x.name, &pads], &[name], vec![]));
        Feature { name: name.into(), channels: x.channels + channels, side: x.side + spatial }
    }

    /// A fully connected layer on a `[N, C, 1, 1]` feature: `{w}` is `[C, out]`.
    fn dense(
        &mut self,
        x: &Feature,
        w_name: &str,
        bias: Option<&[f32]>,
        out_name: &str,
    ) -> Result<Feature> {
        ensure!(x.side == 1, "{w_name}: the feature is {0}x{0}, not 1x1", x.side);
        let (fs, w) = self.weights.get(w_name)?;
        ensure!(fs == [x.channels, fs[1]], "{w_name} is {fs:?}, expected [{}, _]", x.channels);
        let flat = format!("{}.flat", x.name);
        self.g.node.push(node("Flatten", &flat, &[&x.name], &[&flat], vec![attr_int("axis", 1)]));
        let n = w_name.replace('/', ".");
        add_weight(&mut self.g, self.fmt, &format!("{n}.weight"), fs, w, 1, &[1, fs[1]]);
        let zeros = vec![0.0; fs[1]];
        self.g.initializer.push(f32_tensor(&format!("{n}.bias"), &[fs[1]], bias.unwrap_or(&zeros)));
        self.g.node.push(node(
            "Gemm",
            &n,
            &[&flat, &format!("{n}.weight"), &format!("{n}.bias")],
            &[out_name],
            vec![],
        ));
        self.flops += 2 * (fs[0] * fs[1]) as u64;
        Ok(Feature { name: out_name.into(), channels: fs[1], side: 1 })
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
        self.g.node.push(node(
            "AveragePool",
            &pool_name,
            &[&x.name],
            &[&pool_name],
            vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])],
        ));
        let mut pooled = Feature { name: pool_name, channels: x.channels, side: x.side / 2 };
        if pooled.side != h.side {
            ensure!(
                pooled.side == h.side + 1,
                "{p}: shortcut side {} against {}",
                pooled.side,
                h.side
            );
            h = self.pad_end(&h, 0, 1, &format!("{p}.pad_side"));
        }
        if pooled.channels != h.channels {
            pooled = self.pad_end(
                &pooled,
                h.channels - pooled.channels,
                0,
                &format!("{p}.pad_channels"),
            );
        }
        Ok(self.add_relu(&h, &pooled, p))
    }

    /// `denseBlock3` of the landmark net: out1 = relu(conv0 x) (stride 2), then two
    /// separable convs, each fed the ReLU of the sum so far; ReLU of the sum.
    fn dense_block3(&mut self, x: &Feature, p: &str, first: bool) -> Result<Feature> {
        let c0 = if first {
            self.tf_conv(x, &format!("{p}/conv0"), 2, true)?
        } else {
            self.separable(x, &format!("{p}/conv0"), 2)?
        };
        let out1 = self.relu(&c0);
        let out2 = self.separable(&out1, &format!("{p}/conv1"), 1)?;
        let in3 = self.add_relu(&out1, &out2, &format!("{p}.in3"));
        let out3 = self.separable(&in3, &format!("{p}/conv2"), 1)?;
        let s23 = self.add(&out2, &out3, &format!("{p}.sum23"));
        Ok(self.add_relu(&out1, &s23, p))
    }
}

/// TF's HWIO (`[k, k, in, out]`) weights as ONNX's OIHW.
fn hwio_to_oihw(f: &[f32], shape: &[usize]) -> Vec<f32> {
    let (kh, kw, ci, co) = (shape[0], shape[1], shape[2], shape[3]);
    let mut w = vec![0.0f32; f.len()];
    for o in 0..co {
        for i in 0..ci {
            for y in 0..kh {
                for x in 0..kw {
                    w[((o * ci + i) * kh + y) * kw + x] = f[((y * kw + x) * ci + i) * co + o];
                }
            }
        }
    }
    w
}

/// The recogniser as ONNX: input `[N, 3, 150, 150]` RGB in [0, 1], output the
/// L2-normalised 128-d descriptor. Returns the model bytes and its FLOPs per embedding.
pub fn recognition_onnx(
    weights: &WeightMap,
    fmt: WeightFormat,
    meta: &ModelMetadata,
) -> Result<(Vec<u8>, u64)> {
    let p = &meta.preprocess;
    ensure!(
        p.channels() == 3 && p.height == RECOGNITION_SIZE && p.width == RECOGNITION_SIZE,
        "the recogniser takes 3 x 150 x 150"
    );
    let (mut b, x) = Builder::new(&meta.name, fmt, weights, RECOGNITION_SIZE);
    // Input in [0, 1]: face-api.js computes (255 x - mean) / 255 = x - mean / 255.
    let mean = MEAN_RGB.map(|m| m / 255.0);
    let x = b.conv(&x, "conv32_down", 2, false, true, Some(mean))?;
    let mut x = b.max_pool(&x, 3, 2, false, "stem.maxpool");
    for layer in [
        "conv32_1",
        "conv32_2",
        "conv32_3",
        "conv64_down",
        "conv64_1",
        "conv64_2",
        "conv64_3",
        "conv128_down",
        "conv128_1",
        "conv128_2",
        "conv256_down",
        "conv256_1",
        "conv256_2",
        "conv256_down_out",
    ] {
        x = if layer.contains("down") {
            b.residual_down(&x, layer)?
        } else {
            b.residual(&x, layer)?
        };
    }
    b.g.node.push(node("GlobalAveragePool", "gap", &[&x.name], &["gap"], vec![]));
    let gap = Feature { name: "gap".into(), channels: x.channels, side: 1 };
    let d = b.dense(&gap, "fc", None, "descriptor")?;
    ensure!(
        d.channels == meta.embedding_dim,
        "fc gives {}, the metadata says {}",
        d.channels,
        meta.embedding_dim
    );
    b.g.node.push(node(
        "LpNormalization",
        "l2norm",
        &["descriptor"],
        &["embedding"],
        vec![attr_int("axis", 1), attr_int("p", 2)],
    ));
    b.g.output.push(value_info("embedding", &[None, Some(meta.embedding_dim)]));
    let flops = b.flops;
    Ok((encode_model(b.g, flops, meta), flops))
}

/// face-api.js's `TinyFaceDetector` mean pixel (its own, not the recogniser's).
const DETECTOR_MEAN_RGB: [f32; 3] = [117.001, 114.697, 97.404];
/// Its anchor boxes (width, height in output cells) and non-maximum suppression overlap.
const DETECTOR_ANCHORS: [[f32; 2]; 5] = [
    [1.603231, 2.094468],
    [6.041143, 7.080126],
    [2.882459, 3.518061],
    [4.266906, 5.178857],
    [9.041765, 10.66308],
];
const DETECTOR_IOU: f32 = 0.4;
/// The landmark net's input side.
pub const LANDMARKS_SIZE: usize = 112;

fn face_model_props(
    name: &str,
    version: &str,
    model: &FaceModel,
    origin: &str,
) -> Vec<(String, String)> {
    vec![
        ("name".into(), name.into()),
        ("version".into(), version.into()),
        (FACE_MODEL_KEY.into(), serde_json::to_string(model).unwrap()),
        ("training_data".into(), origin.into()),
    ]
}

/// face-api.js's tiny face detector (`TinyFaceDetector`: a Tiny-YOLOv2 with depthwise
/// separable convs) as ONNX: input `[1, 3, S, S]` RGB in [0, 1] (the picture padded at its
/// end to a square and resized to `input_size`), output `[1, 25, S/32, S/32]`: per cell,
/// 5 anchors x (x, y, w, h, score) before their sigmoid / exp, decoded by
/// `siamese_wasm::face`.
pub fn detector_onnx(
    weights: &WeightMap,
    fmt: WeightFormat,
    input_size: usize,
    score_threshold: f32,
    version: &str,
    origin: &str,
) -> Result<(Vec<u8>, u64)> {
    ensure!(
        input_size.is_multiple_of(32) && input_size >= 64,
        "the detector's input side must be a multiple of 32"
    );
    let (mut b, x) = Builder::new("face-detector", fmt, weights, input_size);
    let x = b.subtract_mean(&x, DETECTOR_MEAN_RGB);
    let x = b.tf_conv(&x, "conv0", 1, false)?;
    let x = b.leaky(&x);
    let mut x = b.max_pool(&x, 2, 2, true, "pool0");
    for i in 1..=5 {
        x = b.separable(&x, &format!("conv{i}"), 1)?;
        x = b.leaky(&x);
        x = b.max_pool(&x, 2, if i < 5 { 2 } else { 1 }, true, &format!("pool{i}"));
    }
    let out = b.tf_conv(&x, "conv8", 1, false)?;
    ensure!(out.channels == 5 * DETECTOR_ANCHORS.len(), "conv8 gives {} channels", out.channels);
    b.g.output.push(value_info(
        &out.name,
        &[Some(1), Some(out.channels), Some(out.side), Some(out.side)],
    ));
    let model = FaceModel::Detector {
        input_size,
        anchors: DETECTOR_ANCHORS.to_vec(),
        iou_threshold: DETECTOR_IOU,
        score_threshold,
    };
    let flops = b.flops;
    Ok((
        encode_model_props(
            b.g,
            flops,
            "face-detector",
            face_model_props("face-detector", version, &model, origin),
        ),
        flops,
    ))
}

/// face-api.js's `FaceLandmark68TinyNet` as ONNX: input `[1, 3, 112, 112]` RGB in [0, 1]
/// (a face box padded to a square, centred, and resized), output `[1, 136]`: x, y of 68
/// points, relative to the input's side.
pub fn landmarks_onnx(
    weights: &WeightMap,
    fmt: WeightFormat,
    version: &str,
    origin: &str,
) -> Result<(Vec<u8>, u64)> {
    let (mut b, x) = Builder::new("face-landmarks", fmt, weights, LANDMARKS_SIZE);
    let x = b.subtract_mean(&x, MEAN_RGB);
    let x = b.dense_block3(&x, "dense0", true)?;
    let x = b.dense_block3(&x, "dense1", false)?;
    let x = b.dense_block3(&x, "dense2", false)?;
    ensure!(x.side == 14, "the landmark features are {0}x{0}, expected 14x14", x.side);
    b.g.node.push(node(
        "AveragePool",
        "gap",
        &[&x.name],
        &["gap"],
        vec![attr_ints("kernel_shape", &[14, 14]), attr_ints("strides", &[2, 2])],
    ));
    let gap = Feature { name: "gap".into(), channels: x.channels, side: 1 };
    let (_, bias) = weights.get("fc/bias")?;
    let out = b.dense(&gap, "fc/weights", Some(bias), "landmarks")?;
    ensure!(out.channels == 136, "fc gives {} values, 68 points need 136", out.channels);
    b.g.output.push(value_info("landmarks", &[Some(1), Some(136)]));
    let model = FaceModel::Landmarks { input_size: LANDMARKS_SIZE, points: 68 };
    let flops = b.flops;
    Ok((
        encode_model_props(
            b.g,
            flops,
            "face-landmarks",
            face_model_props("face-landmarks", version, &model, origin),
        ),
        flops,
    ))
}
