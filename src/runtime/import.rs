//! ONNX graph in, tract's typed graph out, for the operators our encoders and the converted
//! face-api.js networks use ([`OPERATORS`]).
//!
//! Why not tract-onnx's front end: its inference graph, rule solver and hundred-odd operators
//! cost the browser build size and a page's first load time (docs/design.md). Our graphs are
//! small and fully known (one f32 NCHW input of a fixed shape, constant weights), so each node
//! maps to tract-core's operators directly, the same ones tract-onnx would wire, except two
//! that end our encoders: a plain `Gemm` with constant weights becomes our [`Dense`] and an
//! L2 `LpNormalization` over the last axis our [`L2Normalize`] (why: in their modules). The
//! native tests check the plans against tract-onnx's on every shipped model.
//!
//! [`Dense`]: crate::runtime::ops::dense::Dense
//! [`L2Normalize`]: crate::runtime::ops::l2_norm::L2Normalize

use crate::runtime::onnx::{
    self, attribute_proto::AttributeType, AttributeProto, ModelProto, NodeProto, TensorProto,
};
use std::collections::HashMap;
use tract_core::internal::*;
use tract_core::ops::array::{Pad, PadMode};
use tract_core::ops::binary::{BinMiniOp, TypedBinOp};
use tract_core::ops::cnn::{Conv, KernelFormat, MaxPool, PaddingSpec, PoolSpec, SumPool};
use tract_core::ops::einsum::EinSum;
use tract_core::ops::nn::{DataFormat, Reduce, Reducer};
use tract_core::ops::{logic, math};

/// The ONNX operators (default domain) the import reads.
pub const OPERATORS: &[&str] = &[
    "Add",
    "AveragePool",
    "Cast",
    "Conv",
    "Div",
    "Flatten",
    "Gemm",
    "GlobalAveragePool",
    "Identity",
    "LeakyRelu",
    "LpNormalization",
    "MaxPool",
    "Mul",
    "Pad",
    "Relu",
    "Sub",
];

/// The operators of `proto` that the import does not read, each once.
pub fn unsupported_operators(proto: &ModelProto) -> Vec<String> {
    let mut ops: Vec<String> = proto
        .graph
        .iter()
        .flat_map(|g| &g.node)
        .filter(|n| {
            !OPERATORS.contains(&n.op_type.as_str())
                || !(n.domain.is_empty() || n.domain == "ai.onnx")
        })
        .map(|n| n.op_type.clone())
        .collect();
    ops.sort();
    ops.dedup();
    ops
}

/// A named ONNX value: a constant (initializers, and what is computed from them alone) or a
/// wire of the graph.
#[derive(Clone)]
enum Value {
    Const(Arc<Tensor>),
    Wire(OutletId),
}

struct Import {
    model: TypedModel,
    values: HashMap<String, Value>,
    opset: i64,
}

/// tract's typed graph of `proto` with its one input fixed to f32 `input_shape`.
pub fn typed_model(proto: &ModelProto, input_shape: &[usize]) -> TractResult<TypedModel> {
    let g = proto.graph.as_ref().context("the model has no graph")?;
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .context("the model imports no version of the default ONNX operator set")?;
    let mut im = Import { model: TypedModel::default(), values: HashMap::new(), opset };
    for t in &g.initializer {
        im.values.insert(
            t.name.clone(),
            Value::Const(
                tensor(t).with_context(|| format!("initializer {:?}", t.name))?.into_arc_tensor(),
            ),
        );
    }
    let inputs: Vec<_> = g.input.iter().filter(|i| !im.values.contains_key(&i.name)).collect();
    let [input] = inputs[..] else {
        bail!("the graph has {} inputs besides its weights; one is expected", inputs.len())
    };
    if let Some(onnx::type_proto::Value::TensorType(t)) =
        input.r#type.as_ref().and_then(|t| t.value.as_ref())
    {
        ensure!(
            t.elem_type == onnx::ONNX_FLOAT,
            "the graph's input {:?} is not f32 (ONNX type {})",
            input.name,
            t.elem_type
        );
        if let Some(shape) = &t.shape {
            use onnx::tensor_shape_proto::dimension::Value::DimValue;
            let fits = shape.dim.len() == input_shape.len()
                && shape
                    .dim
                    .iter()
                    .zip(input_shape)
                    .all(|(d, &n)| !matches!(d.value, Some(DimValue(v)) if v != n as i64));
            ensure!(
                fits,
                "the graph's input {:?} does not take the shape {input_shape:?} the metadata gives",
                input.name
            );
        }
    }
    let source = im.model.add_source(&input.name, f32::fact(input_shape))?;
    im.values.insert(input.name.clone(), Value::Wire(source));
    for node in &g.node {
        im.node(node).with_context(|| {
            format!(
                "{} node {:?}",
                node.op_type,
                if node.name.is_empty() {
                    node.output.first().map(|s| s.as_str()).unwrap_or("")
                } else {
                    &node.name
                }
            )
        })?;
    }
    let outputs = g.output.iter().map(|o| im.wire(&o.name)).collect::<TractResult<TVec<_>>>()?;
    ensure!(!outputs.is_empty(), "the graph has no output");
    im.model.select_output_outlets(&outputs)?;
    Ok(im.model)
}

/// An initializer as a tract tensor (f32, i8, u8, i32 and i64; raw or typed storage).
pub(crate) fn tensor(t: &TensorProto) -> TractResult<Tensor> {
    ensure!(
        t.data_location != Some(1),
        "its values are in an external file, which siamese-wasm does not read"
    );
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format_err!("negative dimension {d}")))
        .collect::<TractResult<Vec<_>>>()?;
    let raw = !t.raw_data.is_empty();
    let le = |n: usize| t.raw_data.chunks_exact(n);
    let tensor = match t.data_type {
        onnx::ONNX_FLOAT if raw => Tensor::from_shape(
            &shape,
            &le(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect::<Vec<_>>(),
        ),
        onnx::ONNX_FLOAT => Tensor::from_shape(&shape, &t.float_data),
        onnx::ONNX_INT8 if raw => {
            Tensor::from_shape(&shape, &t.raw_data.iter().map(|&b| b as i8).collect::<Vec<_>>())
        }
        onnx::ONNX_INT8 => {
            Tensor::from_shape(&shape, &t.int32_data.iter().map(|&v| v as i8).collect::<Vec<_>>())
        }
        onnx::ONNX_UINT8 if raw => Tensor::from_shape(&shape, &t.raw_data),
        onnx::ONNX_UINT8 => {
            Tensor::from_shape(&shape, &t.int32_data.iter().map(|&v| v as u8).collect::<Vec<_>>())
        }
        onnx::ONNX_INT32 if raw => Tensor::from_shape(
            &shape,
            &le(4).map(|b| i32::from_le_bytes(b.try_into().unwrap())).collect::<Vec<_>>(),
        ),
        onnx::ONNX_INT32 => Tensor::from_shape(&shape, &t.int32_data),
        onnx::ONNX_INT64 if raw => Tensor::from_shape(
            &shape,
            &le(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect::<Vec<_>>(),
        ),
        onnx::ONNX_INT64 => Tensor::from_shape(&shape, &t.int64_data),
        other => {
            bail!("ONNX element type {other} is not read (f32, int8, uint8, int32, int64 are)")
        }
    };
    tensor.with_context(|| format!("its values do not fill its shape {shape:?}"))
}

/// ONNX's data type code as tract's.
fn datum_type(code: i64) -> TractResult<DatumType> {
    Ok(match code as i32 {
        onnx::ONNX_FLOAT => f32::datum_type(),
        onnx::ONNX_INT8 => i8::datum_type(),
        onnx::ONNX_UINT8 => u8::datum_type(),
        onnx::ONNX_INT32 => i32::datum_type(),
        onnx::ONNX_INT64 => i64::datum_type(),
        other => bail!("cast to ONNX element type {other} is not supported"),
    })
}

fn attr<'a>(
    node: &'a NodeProto,
    name: &str,
    kind: AttributeType,
) -> TractResult<Option<&'a AttributeProto>> {
    let Some(a) = node.attribute.iter().find(|a| a.name == name) else { return Ok(None) };
    // Files from old writers leave `type` unset.
    ensure!(a.r#type == kind as i32 || a.r#type == 0, "attribute {name} is not of type {kind:?}");
    Ok(Some(a))
}

fn attr_int(node: &NodeProto, name: &str, default: i64) -> TractResult<i64> {
    Ok(attr(node, name, AttributeType::Int)?.map(|a| a.i).unwrap_or(default))
}

fn attr_float(node: &NodeProto, name: &str, default: f32) -> TractResult<f32> {
    Ok(attr(node, name, AttributeType::Float)?.map(|a| a.f).unwrap_or(default))
}

fn attr_ints(node: &NodeProto, name: &str) -> TractResult<Option<Vec<i64>>> {
    Ok(attr(node, name, AttributeType::Ints)?.map(|a| a.ints.clone()))
}

fn attr_string(node: &NodeProto, name: &str) -> TractResult<Option<String>> {
    Ok(attr(node, name, AttributeType::String)?.map(|a| String::from_utf8_lossy(&a.s).into_owned()))
}

fn usizes(v: &[i64], what: &str) -> TractResult<TVec<usize>> {
    v.iter()
        .map(|&x| usize::try_from(x).map_err(|_| format_err!("{what} {v:?} has a negative value")))
        .collect()
}

/// An axis attribute (negative counts from the end) as an index below `rank`.
fn axis(a: i64, rank: usize) -> TractResult<usize> {
    let r = if a < 0 { a + rank as i64 } else { a };
    ensure!((0..rank as i64).contains(&r), "axis {a} is outside a rank-{rank} tensor");
    Ok(r as usize)
}

impl Import {
    fn value(&self, name: &str) -> TractResult<Value> {
        self.values.get(name).cloned().with_context(|| {
            format!("it reads {name:?}, which no earlier node or initializer writes")
        })
    }

    /// `name` as a wire, adding its constant to the graph if it is one.
    fn wire(&mut self, name: &str) -> TractResult<OutletId> {
        match self.value(name)? {
            Value::Wire(w) => Ok(w),
            Value::Const(t) => {
                let w = self.model.add_const(name, t)?;
                self.values.insert(name.to_string(), Value::Wire(w));
                Ok(w)
            }
        }
    }

    fn konst(&self, name: &str, what: &str) -> TractResult<Arc<Tensor>> {
        match self.value(name)? {
            Value::Const(t) => Ok(t),
            Value::Wire(w) => self
                .model
                .outlet_fact(w)?
                .konst
                .clone()
                .with_context(|| format!("its {what} must be a constant")),
        }
    }

    fn rank(&self, w: OutletId) -> TractResult<usize> {
        Ok(self.model.outlet_fact(w)?.rank())
    }

    fn channels(&self, w: OutletId) -> TractResult<usize> {
        let fact = self.model.outlet_fact(w)?;
        ensure!(fact.rank() >= 3, "its input has rank {}, not an NCHW picture", fact.rank());
        fact.shape[1].to_usize().context("its input's channel count is not known")
    }

    fn name(&self, node: &NodeProto, suffix: &str) -> String {
        let base = if node.name.is_empty() {
            node.output.first().cloned().unwrap_or_default()
        } else {
            node.name.clone()
        };
        self.model.unique_name(format!("{base}{suffix}")).into_owned()
    }

    /// `op` on `inputs` with numpy broadcasting; folded here when every input is a constant
    /// (tract folds only tiny constants as it wires).
    fn binary(
        &mut self,
        node: &NodeProto,
        op: Box<dyn BinMiniOp>,
        a: &str,
        b: &str,
    ) -> TractResult<Value> {
        if let (Value::Const(x), Value::Const(y)) = (self.value(a)?, self.value(b)?) {
            let rank = x.rank().max(y.rank());
            let (x, y) = (
                x.as_ref().clone().broadcast_into_rank(rank)?,
                y.as_ref().clone().broadcast_into_rank(rank)?,
            );
            let out = TypedBinOp(op, None)
                .eval_out_of_plan(tvec!(x.into_tvalue(), y.into_tvalue()))?
                .context("constant folding")?;
            return Ok(Value::Const(out[0].clone().into_arc_tensor()));
        }
        let inputs = [self.wire(a)?, self.wire(b)?];
        let name = self.name(node, "");
        Ok(Value::Wire(
            wire_with_rank_broadcast(name, &mut self.model, TypedBinOp(op, None), &inputs)?[0],
        ))
    }

    /// A scalar constant of the rank of `w`, for element-wise ops.
    fn scalar(
        &mut self,
        node: &NodeProto,
        suffix: &str,
        v: f32,
        w: OutletId,
    ) -> TractResult<OutletId> {
        let rank = self.rank(w)?;
        let name = self.name(node, suffix);
        self.model.add_const(name, tensor0(v).broadcast_into_rank(rank)?)
    }

    fn pool_spec(
        &self,
        node: &NodeProto,
        kernel_shape: TVec<usize>,
        channels: (usize, usize),
        pool: bool,
    ) -> TractResult<PoolSpec> {
        let k = kernel_shape.len();
        let padding = match (attr_ints(node, "pads")?, attr_string(node, "auto_pad")?.as_deref()) {
            (Some(pads), None | Some("NOTSET")) => {
                ensure!(pads.len() == 2 * k, "pads {pads:?} do not match a {k}-dimensional kernel");
                let (before, after) = (usizes(&pads[..k], "pads")?, usizes(&pads[k..], "pads")?);
                if pool {
                    PaddingSpec::ExplicitOnnxPool(
                        before,
                        after,
                        attr_int(node, "ceil_mode", 0)? == 1,
                    )
                } else {
                    PaddingSpec::Explicit(before, after)
                }
            }
            (None, None | Some("NOTSET")) if pool => PaddingSpec::ExplicitOnnxPool(
                tvec!(0; k),
                tvec!(0; k),
                attr_int(node, "ceil_mode", 0)? == 1,
            ),
            (None, None | Some("NOTSET")) => PaddingSpec::Explicit(tvec!(0; k), tvec!(0; k)),
            (_, Some("VALID")) => PaddingSpec::Valid,
            (_, Some("SAME_UPPER")) => PaddingSpec::SameUpper,
            (_, Some("SAME_LOWER")) => PaddingSpec::SameLower,
            (_, Some(other)) => bail!("auto_pad {other:?} is not an ONNX padding"),
        };
        let strides = attr_ints(node, "strides")?
            .map(|v| usizes(&v, "strides"))
            .transpose()?
            .unwrap_or_else(|| tvec!(1; k));
        let dilations = attr_ints(node, "dilations")?
            .map(|v| usizes(&v, "dilations"))
            .transpose()?
            .unwrap_or_else(|| tvec!(1; k));
        ensure!(
            strides.len() == k && dilations.len() == k,
            "strides or dilations do not match a {k}-dimensional kernel"
        );
        Ok(PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape,
            padding,
            dilations: Some(dilations),
            strides: Some(strides),
            input_channels: channels.0,
            output_channels: channels.1,
        })
    }

    fn node(&mut self, node: &NodeProto) -> TractResult<()> {
        ensure!(
            node.domain.is_empty() || node.domain == "ai.onnx",
            "operators of domain {:?} are not supported",
            node.domain
        );
        let input = |i: usize| node.input.get(i).filter(|s| !s.is_empty()).map(|s| s.as_str());
        let first = input(0).context("it has no input")?;
        let outputs_used = node.output.iter().filter(|o| !o.is_empty()).count();
        ensure!(outputs_used == 1, "it writes {outputs_used} outputs; one is supported");
        let out = match node.op_type.as_str() {
            "Identity" => self.value(first)?,
            "Add" | "Sub" | "Mul" | "Div" => {
                let op: Box<dyn BinMiniOp> = match node.op_type.as_str() {
                    "Add" => Box::new(math::Add),
                    "Sub" => Box::new(math::Sub),
                    "Mul" => Box::new(math::Mul),
                    _ => Box::new(math::Div),
                };
                self.binary(
                    node,
                    op,
                    first,
                    input(1).context("it has one input; two are expected")?,
                )?
            }
            "Cast" => {
                let dt = datum_type(
                    attr(node, "to", AttributeType::Int)?.context("it has no `to` attribute")?.i,
                )?;
                match self.value(first)? {
                    Value::Const(t) => {
                        Value::Const(t.cast_to_dt(dt)?.into_owned().into_arc_tensor())
                    }
                    Value::Wire(w) => Value::Wire(
                        self.model.wire_node(
                            self.name(node, ""),
                            tract_core::ops::cast::cast(dt),
                            &[w],
                        )?[0],
                    ),
                }
            }
            "Relu" => {
                let x = self.wire(first)?;
                let zero = self.scalar(node, ".zero", 0.0, x)?;
                Value::Wire(
                    self.model.wire_node(
                        self.name(node, ""),
                        TypedBinOp(Box::new(math::Max), None),
                        &[x, zero],
                    )?[0],
                )
            }
            "LeakyRelu" => {
                let x = self.wire(first)?;
                let alpha = attr_float(node, "alpha", 0.01)?;
                Value::Wire(
                    self.model.wire_node(
                        self.name(node, ""),
                        tract_core::ops::nn::leaky_relu(alpha),
                        &[x],
                    )?[0],
                )
            }
            "Conv" => {
                let x = self.wire(first)?;
                let kernel = self.konst(input(1).context("it has no weights")?, "weights")?;
                ensure!(kernel.rank() >= 3, "its weights have rank {}", kernel.rank());
                let group = attr_int(node, "group", 1)? as usize;
                let (oc, ic) = (kernel.shape()[0], kernel.shape()[1] * group);
                ensure!(
                    group >= 1 && oc % group == 0,
                    "group {group} does not divide its {oc} output channels"
                );
                let channels = self.channels(x)?;
                ensure!(
                    channels == ic,
                    "its input has {channels} channels, its weights expect {ic}"
                );
                let kernel_shape: TVec<usize> = kernel.shape()[2..].into();
                if let Some(k) = attr_ints(node, "kernel_shape")? {
                    ensure!(
                        usizes(&k, "kernel_shape")? == kernel_shape,
                        "kernel_shape {k:?} does not match its weights {:?}",
                        kernel.shape()
                    );
                }
                let spec = self.pool_spec(node, kernel_shape, (ic, oc), false)?;
                let bias = match input(2) {
                    Some(b) => self.wire(b)?,
                    None => {
                        let name = self.name(node, ".bias");
                        self.model.add_const(name, Tensor::zero_scalar::<f32>()?)?
                    }
                };
                let k = self.model.add_const(self.name(node, ".weights"), kernel)?;
                Value::Wire(
                    self.model.wire_node(
                        self.name(node, ""),
                        Conv::new(spec, KernelFormat::OIHW, group, None),
                        &[x, k, bias],
                    )?[0],
                )
            }
            "MaxPool" | "AveragePool" => {
                let x = self.wire(first)?;
                let c = self.channels(x)?;
                let k = usizes(
                    &attr_ints(node, "kernel_shape")?.context("it has no kernel_shape")?,
                    "kernel_shape",
                )?;
                ensure!(
                    attr_int(node, "storage_order", 0)? == 0,
                    "storage_order 1 is not supported"
                );
                let spec = self.pool_spec(node, k, (c, c), true)?;
                let name = self.name(node, "");
                let w = if node.op_type == "MaxPool" {
                    self.model.wire_node(name, MaxPool::new(spec, None), &[x])?
                } else {
                    let count_include_pad = attr_int(node, "count_include_pad", 0)? == 1;
                    self.model.wire_node(name, SumPool::new(spec, count_include_pad, true), &[x])?
                };
                Value::Wire(w[0])
            }
            "GlobalAveragePool" => {
                let x = self.wire(first)?;
                let fact = self.model.outlet_fact(x)?.clone();
                let axes: TVec<usize> = (2..fact.rank()).collect();
                let n = fact
                    .shape
                    .iter()
                    .skip(2)
                    .product::<TDim>()
                    .to_usize()
                    .context("its input's size is not known")?;
                let sum = self.model.wire_node(
                    self.name(node, ".sum"),
                    Reduce::new(axes, Reducer::Sum),
                    &[x],
                )?[0];
                let n = self.scalar(node, ".count", n as f32, x)?;
                Value::Wire(
                    self.model.wire_node(
                        self.name(node, ""),
                        TypedBinOp(Box::new(math::Div), None),
                        &[sum, n],
                    )?[0],
                )
            }
            "Pad" => {
                let x = self.wire(first)?;
                let rank = self.rank(x)?;
                let (pads, value) = if self.opset >= 11 {
                    let pads = self.konst(input(1).context("it has no pads")?, "pads")?;
                    let pads = pads
                        .cast_to::<i64>()?
                        .to_plain_array_view::<i64>()?
                        .iter()
                        .copied()
                        .collect::<Vec<_>>();
                    let value = match input(2) {
                        Some(v) => *self
                            .konst(v, "constant value")?
                            .cast_to::<f32>()?
                            .to_plain_array_view::<f32>()?
                            .iter()
                            .next()
                            .context("its constant value is empty")?,
                        None => 0.0,
                    };
                    (pads, value)
                } else {
                    (
                        attr_ints(node, "pads")?.context("it has no pads")?,
                        attr_float(node, "value", 0.0)?,
                    )
                };
                ensure!(pads.len() == 2 * rank, "pads {pads:?} do not match a rank-{rank} input");
                let pads = usizes(&pads, "pads")?;
                let mode = match attr_string(node, "mode")?.as_deref() {
                    None | Some("constant") => PadMode::Constant(tensor0(value).into_arc_tensor()),
                    Some("reflect") => PadMode::Reflect,
                    Some("edge") => PadMode::Edge,
                    Some(other) => bail!("pad mode {other:?} is not supported"),
                };
                let pads = (0..rank).map(|i| (pads[i], pads[rank + i])).collect();
                Value::Wire(self.model.wire_node(self.name(node, ""), Pad { pads, mode }, &[x])?[0])
            }
            "Flatten" => {
                let x = self.wire(first)?;
                let shape = self.model.outlet_fact(x)?.shape.to_tvec();
                let at = axis(attr_int(node, "axis", 1)?, shape.len() + 1)?;
                let to = tvec![
                    shape[..at].iter().product::<TDim>(),
                    shape[at..].iter().product::<TDim>()
                ];
                Value::Wire(
                    self.model.wire_node(
                        self.name(node, ""),
                        AxisOp::Reshape(0, shape, to),
                        &[x],
                    )?[0],
                )
            }
            "Gemm" => {
                let b_name = input(1).context("it has one input; two are expected")?;
                let (trans_a, trans_b) =
                    (attr_int(node, "transA", 0)? == 1, attr_int(node, "transB", 0)? == 1);
                let (alpha, beta) =
                    (attr_float(node, "alpha", 1.0)?, attr_float(node, "beta", 1.0)?);
                let x = self.wire(first)?;
                // How our encoders project their features: one operator with the constant
                // weights (why: in dense), instead of tract's Einstein sum below.
                let plain = !trans_a
                    && !trans_b
                    && alpha == 1.0
                    && beta == 1.0
                    && self.rank(x)? == 2
                    && self.model.outlet_fact(x)?.datum_type == f32::datum_type();
                let bias = match input(2).map(|c| self.value(c)).transpose()? {
                    None => Some(None),
                    Some(Value::Const(c)) => Some(Some(c)),
                    Some(Value::Wire(_)) => None,
                };
                let dense = match (self.value(b_name)?, bias) {
                    (Value::Const(w), Some(c)) if plain => {
                        crate::runtime::ops::dense::Dense::new(w, c)
                    }
                    _ => None,
                };
                if let Some(dense) = dense {
                    Value::Wire(self.model.wire_node(self.name(node, ""), dense, &[x])?[0])
                } else {
                    let (a, b) = (x, self.wire(b_name)?);
                    ensure!(
                        self.rank(a)? == 2 && self.rank(b)? == 2,
                        "its inputs are not matrices"
                    );
                    let axes = AxesMapping::for_numpy_matmul(2, trans_a, trans_b, false)?;
                    let mut y = self.model.wire_node(
                        self.name(node, ".ab"),
                        EinSum::new(axes, f32::datum_type()),
                        &[a, b],
                    )?[0];
                    if alpha != 1.0 {
                        let alpha = self.scalar(node, ".alpha", alpha, y)?;
                        y = self.model.wire_node(
                            self.name(node, ".alpha_ab"),
                            TypedBinOp(Box::new(math::Mul), None),
                            &[alpha, y],
                        )?[0];
                    }
                    if let (Some(c), true) = (input(2), beta != 0.0) {
                        let mut c = self.wire(c)?;
                        if beta != 1.0 {
                            let beta = self.scalar(node, ".beta", beta, c)?;
                            c = self.model.wire_node(
                                self.name(node, ".beta_c"),
                                TypedBinOp(Box::new(math::Mul), None),
                                &[beta, c],
                            )?[0];
                        }
                        let name = self.name(node, "");
                        y = wire_with_rank_broadcast(
                            name,
                            &mut self.model,
                            TypedBinOp(Box::new(math::Add), None),
                            &[y, c],
                        )?[0];
                    }
                    Value::Wire(y)
                }
            }
            "LpNormalization" => {
                let x = self.wire(first)?;
                let rank = self.rank(x)?;
                let ax = axis(attr_int(node, "axis", -1)?, rank)?;
                let p = attr_int(node, "p", 2)?;
                ensure!(p == 1 || p == 2, "p = {p}; 1 and 2 are supported");
                if p == 2
                    && ax + 1 == rank
                    && self.model.outlet_fact(x)?.datum_type == f32::datum_type()
                {
                    // How our encoders end: one operator instead of the seven below (why: in
                    // l2_norm).
                    Value::Wire(
                        self.model.wire_node(
                            self.name(node, ""),
                            crate::runtime::ops::l2_norm::L2Normalize,
                            &[x],
                        )?[0],
                    )
                } else {
                    let parts = if p == 2 {
                        self.model.wire_node(self.name(node, ".square"), math::square(), &[x])?
                    } else {
                        self.model.wire_node(self.name(node, ".abs"), math::abs(), &[x])?
                    };
                    let mut norm = self.model.wire_node(
                        self.name(node, ".sum"),
                        Reduce::new(tvec!(ax), Reducer::Sum),
                        &parts,
                    )?[0];
                    if p == 2 {
                        norm = self.model.wire_node(
                            self.name(node, ".sqrt"),
                            math::sqrt(),
                            &[norm],
                        )?[0];
                    }
                    // ONNX asks for zeros where every value along the axis is zero, not NaN: divide
                    // those by one.
                    let (zero, one) = (
                        self.scalar(node, ".zero", 0.0, norm)?,
                        self.scalar(node, ".one", 1.0, norm)?,
                    );
                    let degenerate = self.model.wire_node(
                        self.name(node, ".degenerate"),
                        TypedBinOp(logic::comp_eq(), None),
                        &[norm, zero],
                    )?[0];
                    let norm = self.model.wire_node(
                        self.name(node, ".safe_norm"),
                        logic::Iff,
                        &[degenerate, one, norm],
                    )?[0];
                    Value::Wire(
                        self.model.wire_node(
                            self.name(node, ""),
                            TypedBinOp(Box::new(math::Div), None),
                            &[x, norm],
                        )?[0],
                    )
                }
            }
            other => bail!(
                "operator {other} is not supported; siamese-wasm reads {}",
                OPERATORS.join(", ")
            ),
        };
        let name = node.output.iter().find(|o| !o.is_empty()).unwrap();
        self.values.insert(name.clone(), out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::encoder::{optimised_plan, run_plan, runnable};
    use crate::runtime::onnx::{
        attr_float, attr_int, attr_ints, f32_tensor, node, onnx_model, raw_tensor, value_info,
        GraphProto,
    };

    /// The declared input shape of `proto`'s graph (a named dimension as 1).
    fn input_shape(proto: &ModelProto) -> [usize; 4] {
        use crate::runtime::onnx::tensor_shape_proto::dimension::Value::DimValue;
        let Some(onnx::type_proto::Value::TensorType(t)) =
            proto.graph.as_ref().unwrap().input[0].r#type.as_ref().unwrap().value.as_ref()
        else {
            panic!()
        };
        let dims: Vec<usize> = t
            .shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| match d.value {
                Some(DimValue(v)) => v as usize,
                _ => 1,
            })
            .collect();
        dims.try_into().unwrap()
    }

    /// Runs `proto` through our import and our rewrites, and through tract-onnx's front end
    /// and tract's own optimisation, on the same input, and checks the outputs agree to
    /// `tolerance` of their largest magnitude.
    fn agrees_with_tract_onnx(proto: &ModelProto, shape: [usize; 4], tolerance: f32, what: &str) {
        let n: usize = shape.iter().product();
        let input: Vec<f32> = (0..n).map(|i| ((i * 7919) % 200) as f32 / 100.0 - 1.0).collect();
        let theirs =
            run_plan(&optimised_plan(proto, shape, what).unwrap(), shape, input.clone(), what)
                .unwrap();
        let ours =
            run_plan(&runnable(proto.clone(), shape, what).unwrap(), shape, input, what).unwrap();
        assert_eq!(ours.len(), theirs.len(), "{what}");
        let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let scale = theirs.iter().map(|x| x.abs()).fold(0f32, f32::max);
        assert!(scale > 0.0 && worst <= tolerance * scale, "{what}: off by {worst} of {scale}");
    }

    #[test]
    fn every_shipped_model_computes_what_tract_onnx_computes() {
        // Ours and tract-onnx's differ in the order some products are summed in (our kernels,
        // our pools), so f32 rounding differs a little: 1e-5 of the largest output.
        for file in [
            "signature.onnx",
            "signature.f32.onnx",
            "face.onnx",
            "face.f32.onnx",
            "face-recognition.onnx",
            "face-detector.onnx",
            "face-landmarks.onnx",
        ] {
            let bytes =
                std::fs::read(format!("{}/models/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let proto = onnx::decode(&bytes).unwrap();
            assert!(unsupported_operators(&proto).is_empty(), "{file}");
            agrees_with_tract_onnx(&proto, input_shape(&proto), 1e-5, file);
        }
    }

    #[test]
    fn our_projection_and_normalisation_compute_what_tract_onnx_computes() {
        // Flatten, Gemm and LpNormalization (p = 2, last axis), how our encoders end, at sizes
        // that leave outputs to the tail of Dense's 32-wide loop, several rows, no bias.
        let values = |n: usize, seed: usize| {
            (0..n).map(|i| (((i * 31 + seed) % 17) as f32 - 8.0) / 10.0).collect::<Vec<f32>>()
        };
        for (shape, n, bias) in [
            ([1usize, 2, 4, 8], 128, true),
            ([3, 1, 5, 1], 45, true),
            ([2, 3, 1, 1], 1, false),
            ([1, 1, 2, 2], 70, true),
        ] {
            let k = shape[1] * shape[2] * shape[3];
            let mut g = GraphProto::default();
            g.input.push(value_info("x", &shape.map(Some)));
            g.output.push(value_info("y", &[]));
            g.node.push(node("Flatten", "", &["x"], &["f"], vec![]));
            g.initializer.push(f32_tensor("w", &[k, n], &values(k * n, 1)));
            let mut inputs = vec!["f", "w"];
            if bias {
                g.initializer.push(f32_tensor("b", &[n], &values(n, 2)));
                inputs.push("b");
            }
            g.node.push(node("Gemm", "", &inputs, &["h"], vec![]));
            g.node.push(node(
                "LpNormalization",
                "",
                &["h"],
                &["y"],
                vec![attr_int("axis", 1), attr_int("p", 2)],
            ));
            let proto = onnx_model(g);
            let plan = runnable(proto.clone(), shape, "test").unwrap();
            let ops: Vec<_> = plan.model().nodes.iter().map(|n| n.op.name().to_string()).collect();
            assert!(
                ops.contains(&"Dense".to_string()) && ops.contains(&"L2Normalize".to_string()),
                "{ops:?}"
            );
            agrees_with_tract_onnx(&proto, shape, 1e-5, &format!("{shape:?} -> {n}"));
        }
    }

    #[test]
    fn a_zero_row_stays_zeros_when_normalised() {
        let x = tract_ndarray::arr2(&[[3.0f32, 0.0, -4.0], [0.0, 0.0, 0.0]]).into_tensor();
        let y = crate::runtime::ops::l2_norm::L2Normalize
            .eval_out_of_plan(tvec!(x.into_tvalue()))
            .unwrap()
            .unwrap();
        let y: Vec<f32> = y[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect();
        assert_eq!(y, [0.6, 0.0, -0.8, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn operators_the_shipped_models_do_not_use_compute_what_tract_onnx_computes() {
        // One graph through the rest of what the import reads, attributes set away from their
        // defaults: a SAME_UPPER strided convolution without bias, LeakyRelu, Cast, Div,
        // Identity, reflect and constant Pad, an average pool counting padding, Flatten at axis
        // 2, Gemm with transB, alpha and beta, L1 normalisation.
        let mut g = GraphProto::default();
        g.input.push(value_info("x", &[Some(1), Some(2), Some(9), Some(11)]));
        g.output.push(value_info("y", &[]));
        let values = |n: usize, seed: usize| {
            (0..n).map(|i| (((i * 31 + seed) % 17) as f32 - 8.0) / 10.0).collect::<Vec<f32>>()
        };
        let string = |name: &str, v: &str| crate::runtime::onnx::AttributeProto {
            name: name.into(),
            r#type: AttributeType::String as i32,
            s: v.as_bytes().to_vec(),
            ..Default::default()
        };
        g.initializer.push(f32_tensor("w", &[4, 2, 3, 3], &values(72, 1)));
        g.node.push(node(
            "Conv",
            "",
            &["x", "w"],
            &["c"],
            vec![attr_ints("strides", &[2, 1]), string("auto_pad", "SAME_UPPER")],
        ));
        g.node.push(node("LeakyRelu", "", &["c"], &["l"], vec![attr_float("alpha", 0.2)]));
        g.node.push(node(
            "Cast",
            "",
            &["l"],
            &["l32"],
            vec![attr_int("to", onnx::ONNX_FLOAT as i64)],
        ));
        g.initializer.push(f32_tensor("d", &[4, 1, 1], &[1.0, 2.0, -4.0, 0.5]));
        g.node.push(node("Div", "", &["l32", "d"], &["q"], vec![]));
        g.node.push(node("Identity", "", &["q"], &["i"], vec![]));
        g.initializer.push(raw_tensor(
            "pads",
            onnx::ONNX_INT64,
            &[8],
            [0i64, 0, 1, 2, 0, 0, 2, 1].iter().flat_map(|v| v.to_le_bytes()).collect(),
        ));
        g.node.push(node("Pad", "", &["i", "pads"], &["p"], vec![string("mode", "reflect")]));
        g.initializer.push(f32_tensor("fill", &[], &[0.25]));
        g.initializer.push(raw_tensor(
            "pads2",
            onnx::ONNX_INT64,
            &[8],
            [0i64, 0, 1, 1, 0, 0, 1, 1].iter().flat_map(|v| v.to_le_bytes()).collect(),
        ));
        g.node.push(node("Pad", "", &["p", "pads2", "fill"], &["p2"], vec![]));
        g.node.push(node(
            "AveragePool",
            "",
            &["p2"],
            &["a"],
            vec![
                attr_ints("kernel_shape", &[3, 2]),
                attr_ints("pads", &[1, 0, 1, 1]),
                attr_ints("strides", &[2, 2]),
                attr_int("count_include_pad", 1),
            ],
        ));
        g.node.push(node("GlobalAveragePool", "", &["a"], &["ga"], vec![]));
        g.node.push(node("Add", "", &["a", "ga"], &["s"], vec![]));
        g.node.push(node("Flatten", "", &["s"], &["f"], vec![attr_int("axis", 2)]));
        g.node.push(node("Flatten", "", &["f"], &["f2"], vec![attr_int("axis", 1)]));
        // f2 is [1, 4 * h * w]; the projection's weights come transposed ([out, in]).
        let mut probe = g.clone();
        probe.output = vec![value_info("f2", &[])];
        let proto = onnx_model(probe);
        let flat = {
            let plan = runnable(proto, [1, 2, 9, 11], "probe").unwrap();
            plan.model().output_fact(0).unwrap().shape.as_concrete().unwrap()[1]
        };
        g.initializer.push(f32_tensor("pw", &[5, flat], &values(5 * flat, 2)));
        g.initializer.push(f32_tensor("pb", &[5], &values(5, 3)));
        g.node.push(node(
            "Gemm",
            "",
            &["f2", "pw", "pb"],
            &["h"],
            vec![attr_int("transB", 1), attr_float("alpha", 0.5), attr_float("beta", 2.0)],
        ));
        g.node.push(node(
            "LpNormalization",
            "",
            &["h"],
            &["y"],
            vec![attr_int("axis", -1), attr_int("p", 1)],
        ));
        let proto = onnx_model(g);
        // A Gemm with transB, alpha and beta, and L1 normalisation, are left to tract's operators.
        let plan = runnable(proto.clone(), [1, 2, 9, 11], "the probe graph").unwrap();
        assert!(!plan.model().nodes.iter().any(|n| n.op_is::<crate::runtime::ops::dense::Dense>()
            || n.op_is::<crate::runtime::ops::l2_norm::L2Normalize>()));
        agrees_with_tract_onnx(&proto, [1, 2, 9, 11], 1e-5, "the probe graph");
    }

    #[test]
    fn an_operator_the_import_does_not_read_is_named_in_the_error() {
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/face.qlinear.onnx"))
            .unwrap();
        let proto = onnx::decode(&bytes).unwrap();
        assert_eq!(
            unsupported_operators(&proto),
            ["DequantizeLinear", "QLinearConv", "QuantizeLinear"]
        );
        let e = runnable(proto, [1, 1, 64, 64], "the ONNX graph").unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::BadModel);
        assert!(
            e.message.contains(
                "operator QuantizeLinear is not supported; siamese-wasm reads Add, AveragePool"
            ),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_graph_reading_a_name_nothing_writes_is_refused() {
        let mut g = GraphProto::default();
        g.input.push(value_info("x", &[Some(1), Some(1), Some(4), Some(4)]));
        g.output.push(value_info("y", &[]));
        g.node.push(node("Add", "", &["x", "nowhere"], &["y"], vec![]));
        let e = runnable(onnx_model(g.clone()), [1, 1, 4, 4], "the ONNX graph").unwrap_err();
        assert!(
            e.message.contains("it reads \"nowhere\", which no earlier node or initializer writes"),
            "{}",
            e.message
        );
        // And an input of another shape than the metadata's.
        g.node[0].input[1] = "x".into();
        let e = runnable(onnx_model(g), [1, 1, 8, 8], "the ONNX graph").unwrap_err();
        assert!(e.message.contains("does not take the shape [1, 1, 8, 8]"), "{}", e.message);
    }
}
