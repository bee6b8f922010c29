//! The fully integer ("QOperator") form of an encoder, for measuring against the
//! weight-only int8 form: u8 activations, i8 weights with one scale per output channel,
//! int32 biases, `QLinearConv` for every layer. The projection becomes a `QLinearConv`
//! whose kernel covers the whole last feature map, which is exactly what Flatten + Gemm
//! compute (the same weights, transposed), so no `QLinearMatMul` is needed. Each block's
//! output has zero point 0, so negative values saturate to 0: the ReLU is fused. Ranges are
//! calibrated (min/max, as onnxruntime's default calibrator) by running the float model on
//! training inputs with tract.

use crate::export::{
    attr_int, attr_ints, encode_model, f32_tensor, node, quantize_per_channel, raw_tensor,
    value_info, FoldedNet, INT32, INT8, UINT8,
};
use anyhow::{Context, Result};
use siamese_wasm::runtime::metadata::ModelMetadata;
use siamese_wasm::runtime::onnx as pb;
use tract_onnx::prelude::*;

/// Calibrated real ranges of the quantised tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranges {
    /// The model input, min and max.
    pub input: (f32, f32),
    /// The largest value after each block's ReLU (the smallest is 0).
    pub blocks: Vec<f32>,
    /// The projection (before L2 normalisation), min and max.
    pub projection: (f32, f32),
}

/// Runs the float model `f32_onnx` (as written by `export::to_onnx`) on `inputs` and records
/// the range of the input, each ReLU output and the projection.
pub fn calibrate(f32_onnx: &[u8], blocks: usize, inputs: &[Vec<f32>]) -> Result<Ranges> {
    let meta = siamese_wasm::runtime::encoder::read_metadata(f32_onnx)?
        .context("the model carries no siamese metadata")?;
    let (h, w) = (meta.preprocess.height, meta.preprocess.width);
    let names: Vec<String> =
        (0..blocks).map(|i| format!("relu{i}")).chain(["head".to_string()]).collect();
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &f32_onnx[..])?
        .with_input_fact(0, f32::fact([1, 1, h, w]).into())?
        .with_outputs_by_name(&names)?
        .into_optimized()?
        .into_runnable()?;
    let mut r = Ranges { input: (0.0, 0.0), blocks: vec![0.0; blocks], projection: (0.0, 0.0) };
    let widen = |range: &mut (f32, f32), v: &[f32]| {
        for &x in v {
            range.0 = range.0.min(x);
            range.1 = range.1.max(x);
        }
    };
    for x in inputs {
        widen(&mut r.input, x);
        let t = tract_ndarray::Array4::from_shape_vec((1, 1, h, w), x.clone())?.into_tensor();
        let out = plan.run(tvec!(t.into()))?;
        for (i, o) in out.iter().enumerate() {
            let view = o.to_plain_array_view::<f32>()?;
            let v = view.as_slice().context("output is not contiguous")?;
            if i < blocks {
                r.blocks[i] = v.iter().fold(r.blocks[i], |m, &x| m.max(x));
            } else {
                widen(&mut r.projection, v);
            }
        }
    }
    Ok(r)
}

/// Affine u8 quantisation of `[lo, hi]` widened to hold 0 (so padding, which is the zero
/// point, is an exact real 0): scale and zero point.
pub fn u8_params((lo, hi): (f32, f32)) -> (f32, u8) {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    (scale, (-lo / scale).round().clamp(0.0, 255.0) as u8)
}

fn scalar_f32(g: &mut pb::GraphProto, name: &str, v: f32) {
    g.initializer.push(f32_tensor(name, &[], &[v]));
}

fn raw(g: &mut pb::GraphProto, name: &str, data_type: i32, dims: &[usize], raw_data: Vec<u8>) {
    g.initializer.push(raw_tensor(name, data_type, dims, raw_data));
}

/// One `QLinearConv` from `x` (u8, scale `xs`, zero point name `xz`) with float weights `w`
/// `[cout, cin, kh, kw]` and bias `b`, to an output of scale `ys` and zero point `yz`.
#[allow(clippy::too_many_arguments)]
fn qconv(
    g: &mut pb::GraphProto,
    name: &str,
    x: &str,
    xs: f32,
    w: &[f32],
    dims: [usize; 4],
    b: &[f32],
    ys: f32,
    yz: u8,
    pads: &[i64],
) {
    let cout = dims[0];
    let (q, ws) = quantize_per_channel(w, cout, w.len() / cout, 0);
    let p = |s: &str| format!("{name}.{s}");
    raw(g, &p("w"), INT8, &dims, q.iter().map(|&v| v as u8).collect());
    g.initializer.push(f32_tensor(&p("w_scale"), &[cout], &ws));
    raw(g, &p("w_zero"), INT8, &[cout], vec![0; cout]);
    let bias: Vec<u8> =
        (0..cout).flat_map(|c| ((b[c] / (xs * ws[c])).round() as i32).to_le_bytes()).collect();
    raw(g, &p("bias"), INT32, &[cout], bias);
    scalar_f32(g, &p("y_scale"), ys);
    raw(g, &p("y_zero"), UINT8, &[], vec![yz]);
    let (xsn, xzn) = (format!("{x}.scale"), format!("{x}.zero"));
    let inputs = [
        x,
        &xsn,
        &xzn,
        &p("w"),
        &p("w_scale"),
        &p("w_zero"),
        &p("y_scale"),
        &p("y_zero"),
        &p("bias"),
    ];
    let attrs = vec![
        attr_ints("kernel_shape", &[dims[2] as i64, dims[3] as i64]),
        attr_ints("pads", pads),
        attr_ints("strides", &[1, 1]),
    ];
    g.node.push(node("QLinearConv", name, &inputs, &[name], attrs));
}

/// The ONNX bytes of the fully integer form of `net`, with `ranges` from [`calibrate`].
pub fn to_qlinear_onnx(net: &FoldedNet, ranges: &Ranges, meta: &ModelMetadata) -> Vec<u8> {
    let cfg = &net.config;
    let mut g = pb::GraphProto { name: meta.name.clone(), ..Default::default() };
    g.input.push(value_info("input", &[None, Some(1), Some(cfg.height), Some(cfg.width)]));
    g.output.push(value_info("embedding", &[None, Some(cfg.embedding_dim)]));
    // Each u8 tensor `t` has initializers `t.scale` and `t.zero`.
    let (mut xs, xz) = u8_params(ranges.input);
    scalar_f32(&mut g, "input_q.scale", xs);
    raw(&mut g, "input_q.zero", UINT8, &[], vec![xz]);
    g.node.push(node(
        "QuantizeLinear",
        "quantize",
        &["input", "input_q.scale", "input_q.zero"],
        &["input_q"],
        vec![],
    ));
    let mut x = "input_q".to_string();
    for (i, (w, dims, b)) in net.convs.iter().enumerate() {
        let (c, p) = (format!("conv{i}"), format!("pool{i}"));
        let ys = if ranges.blocks[i] > 0.0 { ranges.blocks[i] / 255.0 } else { 1.0 };
        qconv(&mut g, &c, &x, xs, w, *dims, b, ys, 0, &[1, 1, 1, 1]);
        // Max pooling commutes with a monotonic quantisation: the pooled tensor keeps the
        // convolution's scale and zero point.
        g.node.push(node(
            "MaxPool",
            &p,
            &[&c],
            &[&p],
            vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])],
        ));
        scalar_f32(&mut g, &format!("{p}.scale"), ys);
        raw(&mut g, &format!("{p}.zero"), UINT8, &[], vec![0]);
        (x, xs) = (p, ys);
    }
    // The projection as a convolution over the whole last feature map: Flatten's order
    // (channel, row, column) is the kernel's, so weight [in, out] transposes to [out, c, h, w].
    let (hw, hd, hb) = &net.head;
    let (fh, fw) = cfg.final_hw();
    let c = cfg.channels[cfg.channels.len() - 1];
    let mut wt = vec![0.0; hw.len()];
    for i in 0..hd[0] {
        for o in 0..hd[1] {
            wt[o * hd[0] + i] = hw[i * hd[1] + o];
        }
    }
    let (ps, pz) = u8_params(ranges.projection);
    qconv(&mut g, "head", &x, xs, &wt, [hd[1], c, fh, fw], hb, ps, pz, &[0, 0, 0, 0]);
    scalar_f32(&mut g, "head.out_scale", ps);
    raw(&mut g, "head.out_zero", UINT8, &[], vec![pz]);
    g.node.push(node(
        "DequantizeLinear",
        "dequantize",
        &["head", "head.out_scale", "head.out_zero"],
        &["projection_map"],
        vec![],
    ));
    g.node.push(node(
        "Flatten",
        "flatten",
        &["projection_map"],
        &["projection"],
        vec![attr_int("axis", 1)],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u8_params_hold_zero_exactly() {
        let (s, z) = u8_params((0.0, 2.55));
        assert_eq!(z, 0);
        assert!((s - 0.01).abs() < 1e-7);
        let (s, z) = u8_params((-1.0, 3.0));
        assert!((z as f32 * s - 1.0).abs() <= s / 2.0, "zero point {z} maps back to 0");
        let (_, z) = u8_params((0.5, 1.0));
        assert_eq!(z, 0, "a range above 0 is widened down to 0");
    }
}
