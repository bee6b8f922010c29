//! ONNX export, written from Rust with tract-onnx's protobuf types. Batch norms are folded
//! into the convolutions and the projection; the graph is Conv/Relu/MaxPool blocks, Flatten, Gemm and
//! LpNormalization (opset 13). The int8 form stores weights as int8 with one scale per
//! output channel, dequantised by Cast and Mul, which tract folds into constants once
//! at load (weight-only quantisation).

use crate::model::{Encoder, EncoderConfig};
use prost::Message;
use siamese_wasm::runtime::metadata::ModelMetadata;
use siamese_wasm::runtime::onnx as pb;
/// The core builds graph inputs and outputs, nodes, attributes, initializers and models the
/// same way (it rewrites graphs, builds its warm-up network, and its tests build them).
pub(crate) use siamese_wasm::runtime::onnx::{
    attr_int, attr_ints, f32_tensor, node, onnx_model, raw_tensor, value_info,
};

/// The network's weights as plain arrays, batch norm folded in.
#[derive(Debug, Clone)]
pub struct FoldedNet {
    pub config: EncoderConfig,
    /// Per block: weights `[cout, cin, 3, 3]` and bias `[cout]`.
    pub convs: Vec<(Vec<f32>, [usize; 4], Vec<f32>)>,
    /// Projection weights `[in, out]` and bias `[out]`.
    pub head: (Vec<f32>, [usize; 2], Vec<f32>),
}

fn to_vec(t: burn::prelude::Tensor<1>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

pub fn fold(model: &Encoder, config: &EncoderConfig) -> FoldedNet {
    let model = burn::module::Module::valid(model);
    let mut convs = vec![];
    for b in &model.blocks {
        let w = b.conv.weight.val();
        let dims = w.dims();
        let w: Vec<f32> = w.into_data().try_to_vec::<f32>().unwrap();
        let gamma = to_vec(b.bn.gamma.val());
        let beta = to_vec(b.bn.beta.val());
        let mean = to_vec(b.bn.running_mean.value());
        let var = to_vec(b.bn.running_var.value());
        let per = dims[1] * dims[2] * dims[3];
        let mut wf = w.clone();
        let mut bias = vec![0.0; dims[0]];
        for c in 0..dims[0] {
            let s = gamma[c] / (var[c] + b.bn.epsilon as f32).sqrt();
            wf[c * per..(c + 1) * per].iter_mut().for_each(|v| *v *= s);
            bias[c] = beta[c] - mean[c] * s;
        }
        convs.push((wf, [dims[0], dims[1], dims[2], dims[3]], bias));
    }
    let hw = model.head.weight.val();
    let hd = hw.dims();
    let mut head_w = hw.into_data().try_to_vec::<f32>().unwrap();
    let mut head_b =
        model.head.bias.as_ref().map(|b| to_vec(b.val())).unwrap_or_else(|| vec![0.0; hd[1]]);
    // Fold the neck's batch norm into the projection's columns.
    let (gamma, beta) = (to_vec(model.neck.gamma.val()), to_vec(model.neck.beta.val()));
    let (mean, var) =
        (to_vec(model.neck.running_mean.value()), to_vec(model.neck.running_var.value()));
    for o in 0..hd[1] {
        let s = gamma[o] / (var[o] + model.neck.epsilon as f32).sqrt();
        for i in 0..hd[0] {
            head_w[i * hd[1] + o] *= s;
        }
        head_b[o] = (head_b[o] - mean[o]) * s + beta[o];
    }
    FoldedNet { config: config.clone(), convs, head: (head_w, [hd[0], hd[1]], head_b) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    F32,
    /// int8 weights, per-output-channel symmetric scales, dequantised at load.
    Int8,
}

// ONNX element type codes, the core's (its import reads them all).
pub(crate) use siamese_wasm::runtime::onnx::{
    ONNX_FLOAT as FLOAT, ONNX_INT32 as INT32, ONNX_INT64 as INT64, ONNX_INT8 as INT8,
    ONNX_UINT8 as UINT8,
};

/// Reads back a float model written by [`to_onnx`] with [`WeightFormat::F32`]: its folded
/// weights and its metadata (so an integer form can be made from a shipped model).
pub fn read_f32_onnx(bytes: &[u8]) -> anyhow::Result<(FoldedNet, ModelMetadata)> {
    use anyhow::Context;
    let model = pb::ModelProto::decode(bytes).context("not an ONNX model")?;
    let meta = ModelMetadata::from_props(
        model.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())),
    )?
    .context("the model carries no siamese metadata")?;
    let graph = model.graph.context("the model has no graph")?;
    let find = |name: &str| -> anyhow::Result<(Vec<f32>, Vec<usize>)> {
        let t =
            graph.initializer.iter().find(|t| t.name == name).with_context(|| {
                format!("no f32 initializer {name} (is this the .f32.onnx form?)")
            })?;
        anyhow::ensure!(t.data_type == FLOAT, "{name} is not f32");
        let v = siamese_wasm::runtime::onnx::initializer_values(t)
            .with_context(|| format!("{name} does not hold as many values as its dims say"))?;
        Ok((v, t.dims.iter().map(|&d| d as usize).collect()))
    };
    let mut convs = vec![];
    while graph.initializer.iter().any(|t| t.name == format!("conv{}.weight", convs.len())) {
        let i = convs.len();
        let (w, d) = find(&format!("conv{i}.weight"))?;
        let (b, _) = find(&format!("conv{i}.bias"))?;
        convs.push((w, [d[0], d[1], d[2], d[3]], b));
    }
    let (hw, hd) = find("head.weight")?;
    let (hb, _) = find("head.bias")?;
    let config = EncoderConfig {
        height: meta.preprocess.height,
        width: meta.preprocess.width,
        channels: convs.iter().map(|c| c.1[0]).collect(),
        embedding_dim: hd[1],
    };
    Ok((FoldedNet { config, convs, head: (hw, [hd[0], hd[1]], hb) }, meta))
}

/// Symmetric per-channel int8: `w ~= q * scale[c]`, channel `c` along `axis` 0 (rows of
/// `rows x cols`) or 1 (columns).
pub fn quantize_per_channel(
    w: &[f32],
    rows: usize,
    cols: usize,
    axis: usize,
) -> (Vec<i8>, Vec<f32>) {
    let channels = if axis == 0 { rows } else { cols };
    let idx = |r: usize, c: usize| if axis == 0 { r } else { c };
    let mut maxabs = vec![0.0f32; channels];
    for r in 0..rows {
        for c in 0..cols {
            let ch = idx(r, c);
            maxabs[ch] = maxabs[ch].max(w[r * cols + c].abs());
        }
    }
    let scales: Vec<f32> = maxabs.iter().map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 }).collect();
    let q = (0..rows * cols)
        .map(|i| (w[i] / scales[idx(i / cols, i % cols)]).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (q, scales)
}

/// Adds weight `name` to the graph: an f32 initializer, or int8 + scales dequantised by
/// Cast and Mul nodes. `scale_dims` is the broadcast shape of the scales.
pub(crate) fn add_weight(
    g: &mut pb::GraphProto,
    fmt: WeightFormat,
    name: &str,
    dims: &[usize],
    w: &[f32],
    axis: usize,
    scale_dims: &[usize],
) {
    match fmt {
        WeightFormat::F32 => g.initializer.push(f32_tensor(name, dims, w)),
        WeightFormat::Int8 => {
            let rows = dims[0];
            let cols = w.len() / rows;
            let (q, scales) = quantize_per_channel(w, rows, cols, axis);
            let qname = format!("{name}_int8");
            g.initializer.push(raw_tensor(
                &qname,
                INT8,
                dims,
                q.iter().map(|&v| v as u8).collect(),
            ));
            g.initializer.push(f32_tensor(&format!("{name}_scale"), scale_dims, &scales));
            let cast = format!("{name}_f32");
            g.node.push(node(
                "Cast",
                &format!("{name}_dequant_cast"),
                &[&qname],
                &[&cast],
                vec![attr_int("to", FLOAT as i64)],
            ));
            g.node.push(node(
                "Mul",
                &format!("{name}_dequant_scale"),
                &[&cast, &format!("{name}_scale")],
                &[name],
                vec![],
            ));
        }
    }
}

/// The ONNX bytes of `net` with `meta` in `metadata_props`.
pub fn to_onnx(net: &FoldedNet, fmt: WeightFormat, meta: &ModelMetadata) -> Vec<u8> {
    let cfg = &net.config;
    let mut g = pb::GraphProto { name: meta.name.clone(), ..Default::default() };
    g.input.push(value_info("input", &[None, Some(1), Some(cfg.height), Some(cfg.width)]));
    g.output.push(value_info("embedding", &[None, Some(cfg.embedding_dim)]));
    let mut x = "input".to_string();
    for (i, (w, dims, b)) in net.convs.iter().enumerate() {
        let (wn, bn) = (format!("conv{i}.weight"), format!("conv{i}.bias"));
        add_weight(&mut g, fmt, &wn, dims, w, 0, &[dims[0], 1, 1, 1]);
        g.initializer.push(f32_tensor(&bn, &[dims[0]], b));
        let (c, r, p) = (format!("conv{i}"), format!("relu{i}"), format!("pool{i}"));
        g.node.push(node(
            "Conv",
            &c,
            &[&x, &wn, &bn],
            &[&c],
            vec![
                attr_ints("kernel_shape", &[3, 3]),
                attr_ints("pads", &[1, 1, 1, 1]),
                attr_ints("strides", &[1, 1]),
            ],
        ));
        g.node.push(node("Relu", &r, &[&c], &[&r], vec![]));
        g.node.push(node(
            "MaxPool",
            &p,
            &[&r],
            &[&p],
            vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])],
        ));
        x = p;
    }
    let (hw, hd, hb) = &net.head;
    g.node.push(node("Flatten", "flatten", &[&x], &["flat"], vec![attr_int("axis", 1)]));
    add_weight(&mut g, fmt, "head.weight", hd, hw, 1, &[1, hd[1]]);
    g.initializer.push(f32_tensor("head.bias", &[hd[1]], hb));
    g.node.push(node(
        "Gemm",
        "head",
        &["flat", "head.weight", "head.bias"],
        &["projection"],
        vec![],
    ));
    g.node.push(node(
        "LpNormalization",
        "l2norm",
        &["projection"],
        &["embedding"],
        vec![attr_int("axis", 1), attr_int("p", 2)],
    ));
    encode_model(g, cfg.flops(), meta)
}

/// The model file: `g` at opset 13 with `meta` in `metadata_props`.
pub(crate) fn encode_model(g: pb::GraphProto, flops: u64, meta: &ModelMetadata) -> Vec<u8> {
    encode_model_props(g, flops, &meta.name, meta.to_props())
}

/// The model file: `g` at opset 13 with `props` as its `metadata_props`.
pub(crate) fn encode_model_props(
    g: pb::GraphProto,
    flops: u64,
    name: &str,
    props: Vec<(String, String)>,
) -> Vec<u8> {
    let model = pb::ModelProto {
        producer_name: "siamese-train".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        model_version: 1,
        doc_string: format!("siamese-wasm model '{name}': {flops} FLOPs per run"),
        metadata_props: props
            .into_iter()
            .map(|(key, value)| pb::StringStringEntryProto { key, value })
            .collect(),
        ..onnx_model(g)
    };
    model.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_quantization_bounds_the_error_by_half_a_step() {
        let w: Vec<f32> = (0..24)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * if i < 12 { 0.01 } else { 1.0 })
            .collect();
        let (q, s) = quantize_per_channel(&w, 2, 12, 0);
        assert_eq!(s.len(), 2);
        assert!(s[0] < s[1] / 50.0, "each row keeps its own scale");
        for i in 0..24 {
            let back = q[i] as f32 * s[i / 12];
            assert!((back - w[i]).abs() <= s[i / 12] / 2.0 + 1e-7);
        }
        let (_, cols) = quantize_per_channel(&w, 2, 12, 1);
        assert_eq!(cols.len(), 12);
    }
}
