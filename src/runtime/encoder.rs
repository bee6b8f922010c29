//! The encoder: ONNX bytes in, an optimised tract plan out, embeddings from pixels or pen
//! strokes. The graph is optimised once at load; each call only runs it.

use crate::error::{Error, ErrorCode, Result};
use crate::input::preprocess::{
    face_rgb_input, image_to_input, rgba_to_input, GrayImage, RgbImage,
};
use crate::input::strokes::{strokes_to_input, Point};
use crate::runtime::metadata::ModelMetadata;
use crate::runtime::metadata::PreprocessMode;
use crate::runtime::onnx as pb;
use crate::runtime::onnx::{
    attr_int, attr_ints, f32_tensor, initializer_values, node, onnx_model, raw_tensor, value_info,
    ONNX_FLOAT, ONNX_INT8,
};
use crate::runtime::ops::max_pool::MaxPool2x2;
use crate::verify::metrics::l2_normalize;
use std::sync::Arc;
use tract_core::prelude::*;
use tract_core::runtime::RunOptions;

pub struct Encoder {
    plan: Arc<TypedRunnableModel>,
    pub meta: ModelMetadata,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("meta", &self.meta).finish()
    }
}

pub(crate) fn bad_model(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::BadModel, format!("{what}: {e}"))
}

/// How many nodes read `name`, counting a graph output as a reader.
fn readers(g: &pb::GraphProto, name: &str) -> usize {
    g.node.iter().flat_map(|n| &n.input).filter(|i| *i == name).count()
        + g.output.iter().filter(|o| o.name == name).count()
}

/// Dequantises int8 weights in the protobuf, before tract sees the graph: every
/// `Mul(Cast(int8 initializer, to FLOAT), f32 initializer)` (how our int8 files store
/// weights, one scale per output channel) becomes one f32 initializer. tract would fold
/// those constants too, but through its generic graph analysis, which took most of a
/// model's load time (docs/design.md). The products are the same f32 multiplications, so the plan computes exactly what
/// it did. Patterns that do not match exactly (other types, shapes that do not broadcast,
/// outputs used elsewhere) are left to tract.
pub(crate) fn fold_dequantization(proto: &mut pb::ModelProto) {
    let Some(g) = proto.graph.as_mut() else { return };
    let mut folded = vec![];
    let mut sources = vec![];
    for (ci, cast) in g.node.iter().enumerate() {
        let to_float = cast.attribute.iter().any(|a| a.name == "to" && a.i == ONNX_FLOAT as i64);
        if cast.op_type != "Cast"
            || !to_float
            || cast.input.len() != 1
            || cast.output.len() != 1
            || readers(g, &cast.output[0]) != 1
        {
            continue;
        }
        let Some(mi) = g
            .node
            .iter()
            .position(|n| n.op_type == "Mul" && n.input.len() == 2 && n.input[0] == cast.output[0])
        else {
            continue;
        };
        let find = |name: &str| g.initializer.iter().find(|t| t.name == name);
        let (Some(q), Some(scale)) = (find(&cast.input[0]), find(&g.node[mi].input[1])) else {
            continue;
        };
        // (Old exporters also list initializers as graph inputs, which a caller may feed.)
        let is_input = |t: &pb::TensorProto| g.input.iter().any(|i| i.name == t.name);
        if q.data_type != ONNX_INT8
            || scale.data_type != ONNX_FLOAT
            || scale.dims.len() > q.dims.len()
            || is_input(q)
            || is_input(scale)
        {
            continue;
        }
        let Ok(dims) = q
            .dims
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<std::result::Result<Vec<usize>, _>>()
        else {
            continue;
        };
        let n: usize = dims.iter().product();
        // The int8 weights as stored (raw bytes, borrowed, or one per int32 in typed storage):
        // not through the import's tensor reader, whose copies a first load would pay for.
        let qv: std::borrow::Cow<[u8]> = if q.raw_data.is_empty() {
            q.int32_data.iter().map(|&v| v as i8 as u8).collect::<Vec<u8>>().into()
        } else {
            (&q.raw_data[..]).into()
        };
        let Some(sv) = initializer_values(scale) else { continue };
        if qv.len() != n {
            continue;
        }
        // Numpy broadcasting of the scale (dims aligned on the right, 1 = repeat).
        let sdims: Vec<usize> = std::iter::repeat_n(1, dims.len() - scale.dims.len())
            .chain(scale.dims.iter().map(|&d| d as usize))
            .collect();
        if sdims.iter().zip(&dims).any(|(&s, &d)| s != 1 && s != d) {
            continue;
        }
        let w = |b: u8| b as i8 as f32;
        let mut out = Vec::with_capacity(n);
        let varying: Vec<usize> = (0..dims.len()).filter(|&ax| sdims[ax] != 1).collect();
        // Simple loops for one scale, or one per index along one axis (one per output
        // channel, how our files store weights): a model's first load runs this in the
        // engine's baseline tier, where the general walk below cost tens of milliseconds.
        match varying[..] {
            [] => scale_run(&mut out, &qv, sv[0]),
            [ax] if ax == dims.len() - 1 => {
                for row in qv.chunks(dims[ax]) {
                    scale_each(&mut out, row, &sv);
                }
            }
            [ax] => {
                let inner: usize = dims[ax + 1..].iter().product();
                for (run, chunk) in qv.chunks(inner.max(1)).enumerate() {
                    scale_run(&mut out, chunk, sv[run % dims[ax]]);
                }
            }
            _ => {
                // Walk the weights in order with an odometer over their index, moving the
                // scale's index along (stride 0 on its broadcast axes).
                let mut sstride = vec![0; dims.len()];
                let mut acc = 1;
                for ax in (0..dims.len()).rev() {
                    if sdims[ax] != 1 {
                        sstride[ax] = acc;
                        acc *= sdims[ax];
                    }
                }
                let (mut idx, mut si) = (vec![0; dims.len()], 0);
                for &b in qv.iter() {
                    out.push(w(b) * sv[si]);
                    for ax in (0..dims.len()).rev() {
                        idx[ax] += 1;
                        si += sstride[ax];
                        if idx[ax] < dims[ax] {
                            break;
                        }
                        si -= sstride[ax] * dims[ax];
                        idx[ax] = 0;
                    }
                }
            }
        }
        sources.extend([q.name.clone(), scale.name.clone()]);
        folded.push((
            ci,
            mi,
            pb::TensorProto {
                name: g.node[mi].output[0].clone(),
                dims: q.dims.clone(),
                data_type: ONNX_FLOAT,
                float_data: out,
                ..Default::default()
            },
        ));
    }
    let mut drop_nodes: Vec<usize> = folded.iter().flat_map(|(c, m, _)| [*c, *m]).collect();
    drop_nodes.sort_unstable();
    for i in drop_nodes.into_iter().rev() {
        g.node.remove(i);
    }
    for (_, _, t) in folded {
        g.initializer.push(t);
    }
    // The folded int8 weights and their scales, when nothing else reads them.
    sources.retain(|n| readers(g, n) == 0);
    g.initializer.retain(|t| !sources.contains(&t.name));
}

/// Appends each int8 weight of `q` (stored as bytes) times `scale` to `out`.
///
/// Out of line on purpose, like [`scale_each`]: inlined, these hot loops made all of
/// [`runnable`] hot, and the engine compiled it again during a first load (docs/design.md).
#[inline(never)]
fn scale_run(out: &mut Vec<f32>, q: &[u8], scale: f32) {
    out.extend(q.iter().map(|&b| b as i8 as f32 * scale));
}

/// Appends `q[i] * scales[i]` (int8 weights stored as bytes) to `out`; see [`scale_run`].
#[inline(never)]
fn scale_each(out: &mut Vec<f32>, q: &[u8], scales: &[f32]) {
    out.extend(q.iter().zip(scales).map(|(&b, &s)| b as i8 as f32 * s));
}

/// Moves each ReLU that feeds only a max pool to after the pool: `MaxPool(Relu(x))` becomes
/// `Relu(MaxPool(x))`, the same values exactly (ReLU is monotone, so the largest of the
/// rectified values is the rectified largest), with the ReLU over a quarter of the values
/// after a 2x2 pool. tract does not fuse these ReLUs into the convolution before them (a
/// reshape sits between the matrix product and the ReLU), so each was a pass of its own over
/// the convolution's whole output. Pools with padding are left alone: a window of padding
/// alone would give the pool's padding value, not a rectified one.
pub(crate) fn relu_after_max_pools(proto: &mut pb::ModelProto) {
    let Some(g) = proto.graph.as_mut() else { return };
    let unpadded = |n: &pb::NodeProto| {
        n.attribute.iter().all(|a| match a.name.as_str() {
            "pads" => a.ints.iter().all(|&p| p == 0),
            "auto_pad" => a.s.is_empty() || a.s == b"NOTSET" || a.s == b"VALID",
            _ => true,
        })
    };
    for ri in 0..g.node.len() {
        let relu = &g.node[ri];
        if relu.op_type != "Relu"
            || relu.input.len() != 1
            || relu.output.len() != 1
            || readers(g, &relu.output[0]) != 1
        {
            continue;
        }
        let Some(pi) = g.node.iter().position(|n| {
            n.op_type == "MaxPool"
                && n.output.len() == 1
                && n.input.first() == Some(&relu.output[0])
                && unpadded(n)
        }) else {
            continue;
        };
        let (x, y) = (relu.input[0].clone(), g.node[pi].output[0].clone());
        let pooled = format!("{y}.unrectified");
        // The pool takes the ReLU's place (its input is ready there), the ReLU the pool's.
        let mut pool = g.node[pi].clone();
        pool.input[0] = x;
        pool.output[0] = pooled.clone();
        let mut relu = g.node[ri].clone();
        relu.input[0] = pooled;
        relu.output[0] = y;
        g.node[ri] = pool;
        g.node[pi] = relu;
    }
}

/// The optimised, runnable plan of an ONNX graph whose one input is `shape` (f32, NCHW), as the
/// library runs it: int8 weights dequantised first ([`fold_dequantization`]), ReLUs moved after
/// the max pools they feed ([`relu_after_max_pools`]), 2x2 max pools on our own op, which takes
/// in the ReLU after it ([`own_max_pools`]) and the zero border before the next convolution
/// ([`pad_in_pools`]), and, in wasm, one-channel convolutions in their direct form
/// ([`direct_convolutions`]). The import writes the projection and the final normalisation as
/// our own operators too ([`crate::runtime::ops::dense`], [`crate::runtime::ops::l2_norm`]). `what` names the graph in the
/// error.
pub fn runnable(
    proto: pb::ModelProto,
    shape: [usize; 4],
    what: &str,
) -> Result<Arc<TypedRunnableModel>> {
    runnable_with(proto, shape, what, operator_declutter)
}

/// [`runnable`], with `declutter` as its first step on the imported graph (the library's is
/// [`operator_declutter`]; a test compares it with tract's whole declutter).
fn runnable_with(
    mut proto: pb::ModelProto,
    shape: [usize; 4],
    what: &str,
    declutter: fn(&mut TypedModel) -> TractResult<()>,
) -> Result<Arc<TypedRunnableModel>> {
    fold_dequantization(&mut proto);
    relu_after_max_pools(&mut proto);
    plan_with(&proto, shape, what, declutter, |m| {
        own_max_pools(m)?;
        if cfg!(target_arch = "wasm32") {
            direct_convolutions(m, |input_channels| input_channels == 1)?;
        }
        Ok(())
    })
}

/// tract's own optimised plan of the graph as it is, through tract-onnx's front end (what the
/// tests compare ours with).
#[cfg(test)]
pub(crate) fn optimised_plan(
    proto: &pb::ModelProto,
    shape: [usize; 4],
    what: &str,
) -> Result<Arc<TypedRunnableModel>> {
    use prost::Message;
    use tract_onnx::prelude::InferenceModelExt;
    tract_onnx::onnx()
        .model_for_read(&mut &proto.encode_to_vec()[..])
        .and_then(|m| m.with_input_fact(0, f32::fact(shape).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(|e| bad_model(&format!("{what} cannot be run by tract-onnx"), format!("{e:#}")))
}

/// The optimised plan of the graph: `declutter`, then `rewrite` on the imported graph, then
/// tract's code generation, then the zero borders it adds after our pools taken into them
/// ([`pad_in_pools`]).
///
/// Why the library declutters with the operators' own rules only ([`operator_declutter`]), not
/// tract's whole declutter (`into_decluttered`, which `into_optimized` runs): our import
/// already writes the graph much as declutter would leave it (constants folded, convolutions
/// and pools as tract's own operators). The operators' rules still matter (a
/// 1x1 convolution becomes a plain matrix product, as in the face detector); tract's
/// graph-wide passes change nothing in our networks' plans (test below: the same operators,
/// the same values bit for bit, for every shipped network) and cost a page's first load of a
/// model in wasm an eighth of its time (docs/design.md).
fn plan_with(
    proto: &pb::ModelProto,
    shape: [usize; 4],
    what: &str,
    declutter: fn(&mut TypedModel) -> TractResult<()>,
    rewrite: impl FnOnce(&mut TypedModel) -> TractResult<()>,
) -> Result<Arc<TypedRunnableModel>> {
    crate::runtime::import::typed_model(proto, &shape)
        .and_then(|mut m| {
            declutter(&mut m)?;
            rewrite(&mut m)?;
            m.optimize()?;
            pad_in_pools(&mut m)?;
            Ok(m)
        })
        // tract's default plan searches for the evaluation order that keeps the fewest tensors
        // alive. Our encoders are chains, with one order (the face recogniser's residual
        // branches are one block long). Skipping the search keeps its code, about ten
        // functions, off a page's first load.
        .and_then(|m| m.into_runnable_with_options(&RunOptions { skip_order_opt_ram: true, ..Default::default() }))
        .map_err(|e| bad_model(&format!("{what} cannot be run"), format!("{e:#}")))
}

/// The operators' own declutter rules, run to a fixed point: tract's declutter pass list
/// without its graph-wide passes (axis changes, slice and split pushing, region and
/// uniform-value propagation; see [`plan_with`] for why).
fn operator_declutter(model: &mut TypedModel) -> TractResult<()> {
    use tract_core::optim::Optimizer;
    // tract names that pass after its rule ("declutter"); the others by their types.
    let passes: Vec<_> = Optimizer::declutter()
        .passes
        .into_iter()
        .filter(|p| format!("{p:?}") == "declutter")
        .collect();
    if passes.is_empty() {
        // A tract that names it otherwise: its full declutter, as before.
        return model.declutter();
    }
    Optimizer { passes, steps: None }.optimize(model)
}

/// Puts our 2x2 max pool ([`crate::runtime::ops::max_pool::MaxPool2x2`]) in place of each of tract's max pools
/// of the imported `model` that it computes exactly: f32 NCHW, a 2x2 window at stride 2,
/// no dilation, no padding, floor rounding, no index output.
pub(crate) fn own_max_pools(model: &mut TypedModel) -> TractResult<()> {
    use tract_core::ops::cnn::MaxPool;
    use tract_core::ops::nn::DataFormat;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(pool) = node.op_as::<MaxPool>() else { continue };
        let x = model.outlet_fact(node.inputs[0])?;
        let Some(shape) = x.shape.as_concrete() else { continue };
        let spec = &pool.pool_spec;
        let plain = pool.with_index_outputs.is_none()
            && x.datum_type == f32::datum_type()
            && shape.len() == 4
            && spec.data_format == DataFormat::NCHW
            && *spec.kernel_shape == [2, 2]
            && *spec.strides() == [2, 2]
            && spec.dilations().iter().all(|&d| d == 1);
        if !plain
            || spec
                .computed_padding(&shape[2..])
                .iter()
                .any(|p| p.pad_before != 0 || p.pad_after != 0)
        {
            continue;
        }
        // Floor rounding (ONNX's default; ceil mode would add a last, partial window).
        if spec.output_shape(shape)?.shape != MaxPool2x2::output_shape(shape) {
            continue;
        }
        // The ReLU after the pool (relu_after_max_pools put it there), taken into the pool,
        // unless the graph also outputs the pooled values.
        let relu = match model.single_succ(id)? {
            Some(next) if !model.outputs.contains(&OutletId::new(id, 0)) => is_relu(model, next)?,
            _ => false,
        };
        let pool = MaxPool2x2 { relu, pad: 0 };
        let patch = if relu {
            TypedModelPatch::fuse_with_next(model, node, pool)?
        } else {
            TypedModelPatch::replace_single_op(model, node, &node.inputs, pool)?
        };
        patch.apply(model)?;
    }
    model.compact()
}

/// Whether `node` is a ReLU of an f32 wire as our import writes one: `max(x, 0)`.
fn is_relu(model: &TypedModel, node: &TypedNode) -> TractResult<bool> {
    use tract_core::ops::binary::TypedBinOp;
    let Some(op) = node.op_as::<TypedBinOp>() else { return Ok(false) };
    if !op.0.is::<tract_core::ops::math::Max>()
        || node.inputs.len() != 2
        || model.outlet_fact(node.inputs[0])?.datum_type != f32::datum_type()
    {
        return Ok(false);
    }
    let zero = model.outlet_fact(node.inputs[1])?.konst.as_ref().is_some_and(|k| is_zero_scalar(k));
    Ok(zero && model.outlet_fact(node.id.into())?.shape == model.outlet_fact(node.inputs[0])?.shape)
}

/// Whether `t` is one f32 zero (of any rank). (Read as f32, not through tract's casts, whose
/// code for every number type a first load would otherwise compile for this.)
fn is_zero_scalar(t: &Tensor) -> bool {
    t.datum_type() == f32::datum_type()
        && t.try_as_plain_ram().ok().and_then(|p| p.as_slice::<f32>().ok()) == Some(&[0.0][..])
}

/// Takes each zero border (`Pad`) that tract's code generation put after one of our pools, for
/// the 3x3 convolution that reads it, into the pool ([`MaxPool2x2`]'s `pad`): the pool writes
/// its values inside the border, and they are not copied again.
pub(crate) fn pad_in_pools(model: &mut TypedModel) -> TractResult<()> {
    use tract_core::ops::array::{Pad, PadMode};
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(pad) = node.op_as::<Pad>() else { continue };
        let PadMode::Constant(value) = &pad.mode else { continue };
        let [(0, 0), (0, 0), (p, q), (r, t)] = pad.pads[..] else { continue };
        if !is_zero_scalar(value) || p != q || p != r || p != t {
            continue;
        }
        let prev = model.node(node.inputs[0].node);
        let Some(&pool) = prev.op_as::<MaxPool2x2>() else { continue };
        if pool.pad != 0
            || model.single_succ(prev.id)?.map(|n| n.id) != Some(id)
            || model.outputs.contains(&OutletId::new(prev.id, 0))
        {
            continue;
        }
        let patch = TypedModelPatch::fuse_with_next(model, prev, MaxPool2x2 { pad: p, ..pool })?;
        patch.apply(model)?;
    }
    model.compact()
}

/// Whether tract has a direct-convolution kernel (`conv_w4_f32`) on this machine: ours in wasm
/// (`kernels::conv`), tract's own on x86-64 with AVX2 and on arm64.
fn has_direct_kernel() -> bool {
    tract_core::tract_linalg::routines::conv_w4_f32().is_some()
}

/// Gives each f32 convolution of the imported `model` whose input channel count `pick`
/// accepts tract's direct form (`DirectSpatialConv`: output rows as filters along W, four
/// channels at a time) instead of what tract's code generation would pick, where tract has the
/// kernel for it ([`has_direct_kernel`]).
///
/// Why: tract takes the direct form only for rows of 128 points or more; over one input
/// channel (a network's stem) im2col's 9-deep product costs more in packing than it computes,
/// while over 16 or more channels the direct form is slower in wasm, so the wasm build picks
/// one-channel convolutions only (docs/design.md).
pub(crate) fn direct_convolutions(
    model: &mut TypedModel,
    pick: impl Fn(usize) -> bool,
) -> TractResult<()> {
    use tract_core::ops::cnn::conv::DirectSpatialConv;
    use tract_core::ops::cnn::{Conv, KernelFormat};
    use tract_core::ops::nn::DataFormat;
    if !has_direct_kernel() {
        return Ok(());
    }
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(conv) = node.op_as::<Conv>() else { continue };
        let x = model.outlet_fact(node.inputs[0])?;
        let (ic, oc) = (conv.input_channels(), conv.output_channels());
        let kvol: usize = conv.pool_spec.kernel_shape.iter().product();
        let plain = conv.q_params.is_none()
            && x.datum_type == f32::datum_type()
            && conv.pool_spec.data_format == DataFormat::NCHW
            && conv.group == 1
            && conv.pool_spec.rank() == 2
            && conv.kernel_fmt == KernelFormat::OIHW;
        // Four output channels at a time (tract's direct form does a remainder with another
        // kernel, which wasm has but we have not measured).
        if !plain || !pick(ic) || oc % 4 != 0 || kvol < 2 {
            continue;
        }
        let (Some(shape), Some(kernel), Some(bias)) = (
            x.shape.as_concrete().map(|s| s.to_vec()),
            model.outlet_fact(node.inputs[1])?.konst.clone(),
            model.outlet_fact(node.inputs[2])?.konst.clone(),
        ) else {
            continue;
        };
        // The direct form reads the kernel as [output channel][input channel][tap] and one bias
        // per output channel.
        let bias = match bias.len() {
            n if n == oc => bias.into_tensor().into_shape(&[oc])?,
            1 => tensor1(&vec![*bias.to_plain_array_view::<f32>()?.iter().next().unwrap(); oc]),
            _ => continue,
        };
        if kernel.len() != oc * ic * kvol {
            continue;
        }
        let geo = conv.pool_spec.compute_geo(&x.shape)?.to_concrete(&shape)?.into_owned();
        let mut patch = TypedModelPatch::new(format!("direct {}", node.name));
        let input = patch.tap_model(model, node.inputs[0])?;
        let k = patch.add_const(
            format!("{}.kernel", node.name),
            kernel.into_tensor().into_shape(&[oc, ic * kvol])?,
        )?;
        let b = patch.add_const(format!("{}.bias", node.name), bias)?;
        let out = patch.wire_node(
            &node.name,
            DirectSpatialConv::new(geo.patch, geo.input_shape, geo.output_shape),
            &[input, k, b],
        )?[0];
        patch.shunt_outside(model, node.id.into(), out)?;
        patch.apply(model)?;
    }
    model.compact()
}

/// Runs `plan` on `input` (`shape`, NCHW); its first output, flat. `what` names the graph.
pub(crate) fn run_plan(
    plan: &Arc<TypedRunnableModel>,
    shape: [usize; 4],
    input: Vec<f32>,
    what: &str,
) -> Result<Vec<f32>> {
    let tensor =
        tract_ndarray::Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), input)
            .map_err(|e| Error::new(ErrorCode::BadShape, e.to_string()))?
            .into_tensor();
    let out = plan
        .run(tvec!(tensor.into()))
        .map_err(|e| bad_model(&format!("{what} inference failed"), e))?;
    let view = out[0]
        .to_plain_array_view::<f32>()
        .map_err(|e| bad_model(&format!("{what} output is not f32"), e))?;
    Ok(view.iter().copied().collect())
}

/// Loads and runs, once, a small network built here with our encoders' layers (int8 weights
/// dequantised by Cast and Mul, a one-channel stem, convolution, ReLU and 2x2 max pool blocks,
/// Flatten, Gemm, LpNormalization) at the shapes of the face encoder's first two blocks.
///
/// Why: in a browser most of a page's first model load is the engine compiling, on first call,
/// the WebAssembly functions the load path touches (docs/design.md). A page that calls this while it is
/// idle, after importing the library and before the user's first verification, moves that
/// one-time work out of the user's wait. Its result is thrown away; nothing is stored.
pub fn warm_up() -> Result<()> {
    // Unnamed nodes: tract names each after its (unique) output.
    let node = |op: &str, inputs: &[&str], output: &str, attribute| {
        node(op, "", inputs, &[output], attribute)
    };
    let values = |n: usize, seed: usize| {
        (0..n).map(|i| (((i * 7919 + seed) % 200) as f32 - 100.0) / 1000.0).collect::<Vec<f32>>()
    };
    let (side, width, dim) = (64, [16, 32], 8);
    let mut g = pb::GraphProto::default();
    g.input.push(value_info("input", &[Some(1), Some(1), Some(side), Some(side)]));
    g.output.push(value_info("embedding", &[Some(1), Some(dim)]));
    let mut x = "input".to_string();
    let mut cin = 1;
    for (i, &cout) in width.iter().enumerate() {
        let (w, b, c, r, p) = (
            format!("w{i}"),
            format!("b{i}"),
            format!("conv{i}"),
            format!("relu{i}"),
            format!("pool{i}"),
        );
        let q: Vec<u8> =
            (0..cout * cin * 9).map(|k| ((k * 31 % 255) as i32 - 127) as i8 as u8).collect();
        g.initializer.push(raw_tensor(&format!("{w}_int8"), ONNX_INT8, &[cout, cin, 3, 3], q));
        g.initializer.push(f32_tensor(&format!("{w}_scale"), &[cout, 1, 1, 1], &vec![1e-3; cout]));
        g.node.push(node(
            "Cast",
            &[&format!("{w}_int8")],
            &format!("{w}_f32"),
            vec![attr_int("to", ONNX_FLOAT as i64)],
        ));
        g.node.push(node("Mul", &[&format!("{w}_f32"), &format!("{w}_scale")], &w, vec![]));
        g.initializer.push(f32_tensor(&b, &[cout], &values(cout, i)));
        g.node.push(node(
            "Conv",
            &[&x, &w, &b],
            &c,
            vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("pads", &[1, 1, 1, 1])],
        ));
        g.node.push(node("Relu", &[&c], &r, vec![]));
        g.node.push(node(
            "MaxPool",
            &[&r],
            &p,
            vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])],
        ));
        (x, cin) = (p, cout);
    }
    let flat = cin * (side / 4) * (side / 4);
    g.node.push(node("Flatten", &[&x], "flat", vec![attr_int("axis", 1)]));
    g.initializer.push(f32_tensor("head.weight", &[flat, dim], &values(flat * dim, 3)));
    g.initializer.push(f32_tensor("head.bias", &[dim], &values(dim, 5)));
    g.node.push(node("Gemm", &["flat", "head.weight", "head.bias"], "projection", vec![]));
    g.node.push(node(
        "LpNormalization",
        &["projection"],
        "embedding",
        vec![attr_int("axis", 1), attr_int("p", 2)],
    ));
    let shape = [1, 1, side, side];
    let plan = runnable(onnx_model(g), shape, "the warm-up network")?;
    run_plan(&plan, shape, values(side * side, 7), "the warm-up network")?;
    Ok(())
}

/// Reads our metadata from ONNX bytes without building the graph.
pub fn read_metadata(bytes: &[u8]) -> Result<Option<ModelMetadata>> {
    let proto = pb::decode(bytes).map_err(|e| bad_model("not an ONNX model", e))?;
    ModelMetadata::from_props(
        proto.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())),
    )
}

impl Encoder {
    /// Loads an encoder. `meta` overrides what the file carries; a model without our
    /// metadata needs it.
    pub fn from_bytes(bytes: &[u8], meta: Option<ModelMetadata>) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::new(ErrorCode::BadModel, "the model is empty (0 bytes)"));
        }
        let proto = pb::decode(bytes)
            .map_err(|e| bad_model("not an ONNX model (corrupt or truncated?)", e))?;
        let carried = ModelMetadata::from_props(
            proto.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())),
        )?;
        let meta = meta.or(carried).ok_or_else(|| {
            Error::new(ErrorCode::BadOptions, "the model carries no siamese metadata: pass the preprocessing, embedding size, metric and threshold explicitly")
        })?;
        let (c, h, w) = (meta.preprocess.channels(), meta.preprocess.height, meta.preprocess.width);
        Self::from_plan(runnable(proto, [1, c, h, w], "the ONNX graph")?, meta)
    }

    /// An encoder on a plan built elsewhere (the trainer runs graphs our import does not read,
    /// such as the fully integer form, through tract-onnx), checked as [`Self::from_bytes`]
    /// checks its own.
    pub fn from_plan(plan: Arc<TypedRunnableModel>, meta: ModelMetadata) -> Result<Self> {
        let (c, h, w) = (meta.preprocess.channels(), meta.preprocess.height, meta.preprocess.width);
        let enc = Encoder { plan, meta };
        // Catch a graph whose output disagrees with its metadata now, not at first use: from
        // the shape tract inferred, or, where that is not a plain number, by running it once
        // (a run at load costs the page's first embedding a second network run).
        let inferred = enc
            .plan
            .model()
            .output_fact(0)
            .ok()
            .and_then(|f| f.shape.as_concrete().map(|s| s.iter().product::<usize>()));
        let outputs = match inferred {
            Some(n) => n,
            None => enc.run(vec![0.0; c * h * w])?.len(),
        };
        if outputs != enc.meta.embedding_dim {
            return Err(Error::new(
                ErrorCode::BadModel,
                format!(
                    "the model outputs {outputs} values, its metadata says {}",
                    enc.meta.embedding_dim
                ),
            ));
        }
        Ok(enc)
    }

    fn run(&self, input: Vec<f32>) -> Result<Vec<f32>> {
        let p = &self.meta.preprocess;
        run_plan(&self.plan, [1, p.channels(), p.height, p.width], input, "the model")
    }

    /// Embedding of an already preprocessed input (`channels * height * width` values,
    /// planes one after another, each row-major).
    pub fn embed_input(&self, input: &[f32]) -> Result<Vec<f32>> {
        let want = self.meta.preprocess.input_len();
        if input.len() != want {
            return Err(Error::new(
                ErrorCode::BadShape,
                format!("input has {} values, the model takes {want}", input.len()),
            ));
        }
        if input.iter().any(|v| !v.is_finite()) {
            return Err(Error::new(ErrorCode::NotFinite, "input has NaN or infinite values"));
        }
        let mut e = self.run(input.to_vec())?;
        if e.iter().any(|v| !v.is_finite()) {
            return Err(Error::new(
                ErrorCode::NotFinite,
                "the model produced a non-finite embedding",
            ));
        }
        l2_normalize(&mut e);
        Ok(e)
    }

    pub fn embed_image(&self, img: &GrayImage) -> Result<Vec<f32>> {
        self.embed_input(&image_to_input(img, &self.meta.preprocess)?)
    }

    pub fn embed_rgba(&self, width: usize, height: usize, rgba: &[u8]) -> Result<Vec<f32>> {
        self.embed_input(&rgba_to_input(width, height, rgba, &self.meta.preprocess)?)
    }

    /// The embedding of a colour picture: in colour for a colour model, as luminance
    /// otherwise.
    pub fn embed_rgb(&self, img: &RgbImage) -> Result<Vec<f32>> {
        match self.meta.preprocess.mode {
            PreprocessMode::FaceRgb => {
                self.embed_input(&face_rgb_input(img, &self.meta.preprocess)?)
            }
            _ => self.embed_image(&img.to_gray()),
        }
    }

    pub fn embed_strokes(&self, strokes: &[Vec<Point>]) -> Result<Vec<f32>> {
        self.embed_input(&strokes_to_input(strokes, &self.meta.preprocess)?)
    }

    /// Similarity of two embeddings under the model's metric.
    pub fn similarity(&self, a: &[f32], b: &[f32]) -> f32 {
        self.meta.metric.score(a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dequant_nodes(w: &str) -> [pb::NodeProto; 2] {
        let to =
            pb::AttributeProto { name: "to".into(), i: ONNX_FLOAT as i64, ..Default::default() };
        [
            pb::NodeProto {
                op_type: "Cast".into(),
                input: vec![format!("{w}_int8")],
                output: vec![format!("{w}_f32")],
                attribute: vec![to],
                ..Default::default()
            },
            pb::NodeProto {
                op_type: "Mul".into(),
                input: vec![format!("{w}_f32"), format!("{w}_scale")],
                output: vec![w.into()],
                ..Default::default()
            },
        ]
    }

    #[test]
    fn int8_weights_are_dequantised_with_broadcast_scales() {
        let q: Vec<u8> = [1i8, -2, 3, 4, -5, 127].iter().map(|&v| v as u8).collect();
        let mut g = pb::GraphProto::default();
        // "rows": one scale per row ([2, 1]); "cols": one per column ([1, 3]); "keep": a
        // Cast whose output is read twice, left to tract.
        for (w, sdims, s) in [
            ("rows", vec![2, 1], vec![0.5, 2.0]),
            ("cols", vec![1, 3], vec![1.0, 10.0, 100.0]),
            ("each", vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            ("one", vec![], vec![2.0]),
            ("keep", vec![1], vec![3.0]),
        ] {
            g.initializer.push(raw_tensor(&format!("{w}_int8"), ONNX_INT8, &[2, 3], q.clone()));
            g.initializer.push(f32_tensor(&format!("{w}_scale"), &sdims, &s));
            g.node.extend(dequant_nodes(w));
        }
        g.node.push(pb::NodeProto {
            op_type: "Relu".into(),
            input: vec!["keep_f32".into()],
            output: vec!["other".into()],
            ..Default::default()
        });
        let mut proto = pb::ModelProto { graph: Some(g), ..Default::default() };
        fold_dequantization(&mut proto);
        let g = proto.graph.unwrap();
        let values = |name: &str| {
            initializer_values(g.initializer.iter().find(|t| t.name == name).unwrap()).unwrap()
        };
        assert_eq!(values("rows"), [0.5, -1.0, 1.5, 8.0, -10.0, 254.0]);
        assert_eq!(values("cols"), [1.0, -20.0, 300.0, 4.0, -50.0, 12700.0]);
        assert_eq!(values("each"), [1.0, -4.0, 9.0, 16.0, -25.0, 762.0]);
        assert_eq!(values("one"), [2.0, -4.0, 6.0, 8.0, -10.0, 254.0]);
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["Cast", "Mul", "Relu"], "only the shared Cast stays");
        let names: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
        assert!(
            !names.contains(&"rows_int8")
                && !names.contains(&"cols_scale")
                && names.contains(&"keep_int8"),
            "{names:?}"
        );
    }

    #[test]
    fn the_warm_up_network_loads_and_runs() {
        warm_up().unwrap();
    }

    #[test]
    fn an_output_size_other_than_the_metadata_is_refused_at_load() {
        let bytes =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/signature.onnx")).unwrap();
        let mut meta = read_metadata(&bytes).unwrap().unwrap();
        assert_eq!(meta.embedding_dim, 128);
        meta.embedding_dim = 64;
        let e = Encoder::from_bytes(&bytes, Some(meta)).expect_err("refused");
        assert_eq!(e.code, ErrorCode::BadModel);
        assert!(e.message.contains("outputs 128 values, its metadata says 64"), "{}", e.message);
    }

    #[test]
    fn the_folded_plan_computes_what_tract_computed() {
        let bytes =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/signature.onnx")).unwrap();
        let proto = pb::decode(&bytes).unwrap();
        let shape = [1, 1, 64, 128];
        let by_tract = optimised_plan(&proto, shape, "test").unwrap();
        let mut folded = proto.clone();
        fold_dequantization(&mut folded);
        assert!(
            folded.graph.as_ref().unwrap().node.iter().all(|n| n.op_type != "Cast"),
            "every weight folded"
        );
        // The same steps without our fold: the import then folds the int8 weights itself, as
        // tract would (Cast, then Mul), so the two plans differ only by who multiplied.
        let mut unfolded = proto.clone();
        relu_after_max_pools(&mut unfolded);
        let by_import =
            plan_with(&unfolded, shape, "test", operator_declutter, own_max_pools).unwrap();
        let ours = runnable(proto, shape, "test").unwrap();
        let input: Vec<f32> = (0..64 * 128).map(|i| ((i * 7919) % 100) as f32 / 100.0).collect();
        let a = run_plan(&by_tract, shape, input.clone(), "test").unwrap();
        let b = run_plan(&ours, shape, input.clone(), "test").unwrap();
        assert_eq!(
            b,
            run_plan(&by_import, shape, input, "test").unwrap(),
            "the same products, bit for bit"
        );
        // tract's own plan sums the projection in another order (our Dense).
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(worst <= 1e-6, "off tract's plan by {worst}");
    }

    #[test]
    fn relus_moved_after_pools_give_the_same_values() {
        // The signature network: four Conv -> Relu -> MaxPool blocks.
        let bytes =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/signature.onnx")).unwrap();
        let mut proto = pb::decode(&bytes).unwrap();
        fold_dequantization(&mut proto);
        let ops = |p: &pb::ModelProto| {
            p.graph
                .as_ref()
                .unwrap()
                .node
                .iter()
                .map(|n| n.op_type.clone())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut moved = proto.clone();
        relu_after_max_pools(&mut moved);
        assert_eq!(ops(&proto).matches("Relu MaxPool").count(), 4, "{}", ops(&proto));
        assert_eq!(ops(&moved).matches("MaxPool Relu").count(), 4, "{}", ops(&moved));
        let shape = [1, 1, 64, 128];
        // Inputs with negative values too, so the ReLUs cut something before the first pool.
        let input: Vec<f32> =
            (0..64 * 128).map(|i| ((i * 7919) % 100) as f32 / 50.0 - 1.0).collect();
        let a =
            run_plan(&optimised_plan(&proto, shape, "test").unwrap(), shape, input.clone(), "test")
                .unwrap();
        let b = run_plan(&optimised_plan(&moved, shape, "test").unwrap(), shape, input, "test")
            .unwrap();
        assert_eq!(a, b);

        // Left alone: a ReLU read elsewhere too, and a padded pool.
        let node = |op: &str, i: &str, o: &str, attribute| node(op, "", &[i], &[o], attribute);
        let pool = |pads: &[i64]| {
            vec![
                attr_ints("kernel_shape", &[2, 2]),
                attr_ints("strides", &[2, 2]),
                attr_ints("pads", pads),
            ]
        };
        let graph = |nodes: Vec<pb::NodeProto>, outputs: &[&str]| pb::ModelProto {
            graph: Some(pb::GraphProto {
                node: nodes,
                output: outputs.iter().map(|o| value_info(o, &[])).collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut shared = graph(
            vec![node("Relu", "x", "r", vec![]), node("MaxPool", "r", "y", pool(&[0, 0, 0, 0]))],
            &["y", "r"],
        );
        let mut padded = graph(
            vec![node("Relu", "x", "r", vec![]), node("MaxPool", "r", "y", pool(&[1, 1, 1, 1]))],
            &["y"],
        );
        let mut plain = graph(
            vec![node("Relu", "x", "r", vec![]), node("MaxPool", "r", "y", pool(&[0, 0, 0, 0]))],
            &["y"],
        );
        for p in [&mut shared, &mut padded, &mut plain] {
            relu_after_max_pools(p);
        }
        assert_eq!(
            (ops(&shared).as_str(), ops(&padded).as_str(), ops(&plain).as_str()),
            ("Relu MaxPool", "Relu MaxPool", "MaxPool Relu")
        );
        let g = plain.graph.unwrap();
        assert_eq!(
            (g.node[0].input[0].as_str(), g.node[1].output[0].as_str()),
            ("x", "y"),
            "the graph still reads x and writes y"
        );
    }

    #[test]
    fn direct_convolutions_compute_what_tract_computed() {
        if !has_direct_kernel() {
            eprintln!("skipped: tract has no conv_w4 kernel on this machine");
            return;
        }
        for (file, shape) in
            [("signature.onnx", [1usize, 1, 64, 128]), ("face.onnx", [1, 1, 64, 64])]
        {
            let bytes =
                std::fs::read(format!("{}/models/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let proto = pb::decode(&bytes).unwrap();
            let typed = crate::runtime::import::typed_model(&proto, &shape)
                .unwrap()
                .into_decluttered()
                .unwrap();
            let mut direct = typed.clone();
            direct_convolutions(&mut direct, |_| true).unwrap();
            direct.optimize().unwrap();
            let n = direct.nodes.iter().filter(|n| n.op.name() == "DirectSpatialConv").count();
            assert_eq!(n, 4, "{file}");
            let plain = typed.into_optimized().unwrap().into_runnable().unwrap();
            let direct = direct.into_runnable().unwrap();
            let input: Vec<f32> = (0..shape.iter().product::<usize>())
                .map(|i| ((i * 7919) % 100) as f32 / 100.0)
                .collect();
            let a = run_plan(&plain, shape, input.clone(), "test").unwrap();
            let b = run_plan(&direct, shape, input, "test").unwrap();
            let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            let scale = a.iter().map(|x| x.abs()).fold(0f32, f32::max);
            assert!(worst <= 1e-5 * scale, "{file}: off by {worst} of {scale}");
        }
    }

    #[test]
    fn the_plan_with_only_the_operators_rules_is_the_decluttered_one() {
        // Every shipped network, as `runnable` builds it, against the same steps with tract's
        // whole declutter first: the same operators in the same order (constants, and reshapes
        // that move no data, aside: the recogniser's projection weights stay a constant input
        // of their product instead of being taken into it) and the same values, bit for bit.
        let models = [
            ("signature.onnx", [1usize, 1, 64, 128]),
            ("face.onnx", [1, 1, 64, 64]),
            ("face-recognition.onnx", [1, 3, 150, 150]),
            ("face-detector.onnx", [1, 3, 128, 128]),
            ("face-landmarks.onnx", [1, 3, 112, 112]),
        ];
        for (file, shape) in models {
            let bytes =
                std::fs::read(format!("{}/models/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let proto = pb::decode(&bytes).unwrap();
            let ours = runnable(proto.clone(), shape, "test").unwrap();
            let full = runnable_with(proto, shape, "test", TypedModel::declutter).unwrap();
            let ops = |p: &Arc<TypedRunnableModel>| {
                p.model()
                    .eval_order()
                    .unwrap()
                    .iter()
                    .map(|&i| p.model().node(i).op.name().to_string())
                    .filter(|n| n != "IntoShape" && n != "Const")
                    .collect::<Vec<_>>()
            };
            assert_eq!(ops(&ours), ops(&full), "{file}");
            let input: Vec<f32> = (0..shape.iter().product::<usize>())
                .map(|i| ((i * 7919) % 100) as f32 / 100.0)
                .collect();
            assert_eq!(
                run_plan(&ours, shape, input.clone(), "test").unwrap(),
                run_plan(&full, shape, input, "test").unwrap(),
                "{file}"
            );
        }
    }

    #[test]
    fn our_pools_give_tract_s_maxima() {
        // The signature and face networks (four 2x2 pools over even sizes each), and a lone
        // pool over odd sizes, where floor rounding must drop the same last row and column.
        let ops = |plan: &Arc<TypedRunnableModel>| {
            plan.model().nodes.iter().map(|n| n.op.name().to_string()).collect::<Vec<_>>()
        };
        // The ReLUs moved after the pools, as `runnable` does: our pools take them in, and the
        // zero borders tract's code generation puts before the next convolutions; tract's pools
        // in the same plan (ours otherwise) keep the ReLUs and borders as operators of their own.
        for (file, shape) in
            [("signature.onnx", [1usize, 1, 64, 128]), ("face.onnx", [1, 1, 64, 64])]
        {
            let bytes =
                std::fs::read(format!("{}/models/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let mut proto = pb::decode(&bytes).unwrap();
            fold_dequantization(&mut proto);
            relu_after_max_pools(&mut proto);
            let theirs = plan_with(&proto, shape, "test", operator_declutter, |_| Ok(())).unwrap();
            let ours = plan_with(&proto, shape, "test", operator_declutter, own_max_pools).unwrap();
            assert_eq!(ops(&ours).iter().filter(|o| *o == "MaxPool2x2").count(), 4, "{file}");
            assert!(
                !ops(&ours).iter().any(|o| o.contains("MaxPool") && o != "MaxPool2x2"),
                "{file}"
            );
            let pools: Vec<MaxPool2x2> = ours
                .model()
                .nodes
                .iter()
                .filter_map(|n| n.op_as::<MaxPool2x2>().copied())
                .collect();
            assert!(pools.iter().all(|p| p.relu), "{file}: {pools:?}");
            assert_eq!(pools.iter().filter(|p| p.pad == 1).count(), 3, "{file}: {pools:?}");
            let m = ours.model();
            let pad_after_pool = m
                .nodes
                .iter()
                .any(|n| n.op.name() == "Pad" && m.node(n.inputs[0].node).op_is::<MaxPool2x2>());
            assert!(
                !pad_after_pool
                    && !ops(&ours).iter().any(|o| o.contains("Max") && o != "MaxPool2x2"),
                "{file}: {:?}",
                ops(&ours)
            );
            let input: Vec<f32> = (0..shape.iter().product::<usize>())
                .map(|i| ((i * 7919) % 100) as f32 / 50.0 - 1.0)
                .collect();
            assert_eq!(
                run_plan(&theirs, shape, input.clone(), "test").unwrap(),
                run_plan(&ours, shape, input, "test").unwrap(),
                "{file}"
            );
        }

        let lone = |shape: [usize; 4], pads: &[i64], ceil: bool| {
            let mut attribute =
                vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])];
            if !pads.is_empty() {
                attribute.push(attr_ints("pads", pads));
            }
            if ceil {
                attribute.push(pb::AttributeProto {
                    name: "ceil_mode".into(),
                    r#type: pb::attribute_proto::AttributeType::Int as i32,
                    i: 1,
                    ..Default::default()
                });
            }
            let node = node("MaxPool", "", &["x"], &["y"], attribute);
            let dims: Vec<Option<usize>> = shape.iter().map(|&d| Some(d)).collect();
            onnx_model(pb::GraphProto {
                node: vec![node],
                input: vec![value_info("x", &dims)],
                output: vec![value_info("y", &[])],
                ..Default::default()
            })
        };
        for shape in [[1usize, 2, 5, 7], [2, 3, 4, 19], [1, 1, 9, 2], [1, 1, 3, 8]] {
            let n: usize = shape.iter().product();
            let input: Vec<f32> = (0..n).map(|i| ((i * 37) % 23) as f32 - 11.0).collect();
            let model = lone(shape, &[], false);
            let ours = plan_with(&model, shape, "test", operator_declutter, own_max_pools).unwrap();
            assert!(ops(&ours).contains(&"MaxPool2x2".to_string()), "{shape:?}: {:?}", ops(&ours));
            let want = run_plan(
                &optimised_plan(&model, shape, "test").unwrap(),
                shape,
                input.clone(),
                "test",
            )
            .unwrap();
            assert_eq!(want.len(), shape[0] * shape[1] * (shape[2] / 2) * (shape[3] / 2));
            assert_eq!(run_plan(&ours, shape, input, "test").unwrap(), want, "{shape:?}");
        }
        // A ReLU after a pool whose values the graph also outputs stays an operator of its own.
        let mut both = lone([1, 2, 6, 8], &[], false);
        let g = both.graph.as_mut().unwrap();
        g.node.push(node("Relu", "", &["y"], &["r"], vec![]));
        g.output.push(value_info("r", &[]));
        let ours =
            plan_with(&both, [1, 2, 6, 8], "test", operator_declutter, own_max_pools).unwrap();
        assert!(
            ours.model().nodes.iter().filter_map(|n| n.op_as::<MaxPool2x2>()).all(|p| !p.relu),
            "{:?}",
            ops(&ours)
        );
        let input: Vec<f32> = (0..96).map(|i| ((i * 37) % 23) as f32 - 19.0).collect();
        let x = tract_ndarray::Array4::from_shape_vec((1, 2, 6, 8), input).unwrap().into_tensor();
        let outputs = ours.run(tvec!(x.into())).unwrap();
        let (pooled, rectified) = (
            outputs[0].to_plain_array_view::<f32>().unwrap(),
            outputs[1].to_plain_array_view::<f32>().unwrap(),
        );
        assert!(
            pooled.iter().any(|&v| v < 0.0)
                && pooled.iter().zip(rectified.iter()).all(|(&p, &r)| r == p.max(0.0)),
            "{pooled:?} {rectified:?}"
        );
        // Left to tract: a padded pool, and ceil rounding over an odd size.
        for model in [lone([1, 2, 5, 7], &[0, 0, 1, 1], false), lone([1, 2, 5, 7], &[], true)] {
            let ours =
                plan_with(&model, [1, 2, 5, 7], "test", operator_declutter, own_max_pools).unwrap();
            assert!(!ops(&ours).contains(&"MaxPool2x2".to_string()), "{:?}", ops(&ours));
        }
    }
}
