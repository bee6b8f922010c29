//! Our 2x2, stride-2 max pool for tract: the pool every block of our encoders ends with.
//!
//! Why our own: tract's pool goes through generic patch geometry with bounds checks on every
//! tap, and was a large share of an embedding (docs/design.md). A 2x2 window at stride 2 with no
//! padding needs none of that geometry: each output row is the larger of two input rows, then
//! the larger of each pair of neighbours, which wasm's simd128 does four outputs at a time
//! (two loads per row, a vertical max, and a shuffle that pairs the even and odd lanes).
//!
//! `encoder::own_max_pools` puts it in place of tract's pool in the imported graph, where
//! tract's code generation leaves it alone. Floor rounding, as the ONNX default: an odd last
//! row or column is dropped, as tract's pool does.
//!
//! It also takes in the two steps that follow it in our encoders: the ReLU (moved after the
//! pool by `encoder::relu_after_max_pools`) and the zero border that tract's code generation
//! puts before the next 3x3 convolution (a `Pad` feeding its im2col; `encoder::pad_in_pools`).
//! Each was a pass of its own over the pooled values, and its own operator code, which a
//! page's first model load ran, and the engine compiled, for the first time.

use tract_core::internal::*;

/// Max over each 2x2 block of every plane of an NCHW f32 tensor, stride 2, no padding; then,
/// with `relu`, `max(x, 0)`; written inside a border of `pad` zeros on each side of each plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MaxPool2x2 {
    pub relu: bool,
    pub pad: usize,
}

impl MaxPool2x2 {
    /// The pooled shape for an NCHW `input` shape, without the border: floor rounding, as the
    /// ONNX default.
    pub(crate) fn output_shape(input: &[usize]) -> TVec<usize> {
        tvec![input[0], input[1], input[2] / 2, input[3] / 2]
    }

    /// The output shape, border included.
    fn padded_shape(&self, input: &[usize]) -> TVec<usize> {
        let mut shape = Self::output_shape(input);
        shape[2] += 2 * self.pad;
        shape[3] += 2 * self.pad;
        shape
    }
}

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2".into()
    }

    tract_core::op_as_typed_op!();
}

impl EvalOp for MaxPool2x2 {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        ensure!(inputs.len() == 1, "MaxPool2x2 takes one input");
        let input = &inputs[0];
        ensure!(
            input.datum_type() == f32::datum_type() && input.rank() == 4,
            "MaxPool2x2 pools NCHW f32 tensors"
        );
        let shape = input.shape();
        let (h, w) = (shape[2], shape[3]);
        let out_shape = self.padded_shape(shape);
        let src = input.try_as_plain_ram()?.as_slice::<f32>()?;
        // Every value of an output without a border is written below; a border must be zeros.
        let mut output = if self.pad == 0 {
            unsafe { Tensor::uninitialized::<f32>(&out_shape)? }
        } else {
            Tensor::zero::<f32>(&out_shape)?
        };
        let dst = unsafe { output.as_slice_mut_unchecked::<f32>() };
        let (oh, ow, p) = (h / 2, w / 2, self.pad);
        let (ph, pw) = (oh + 2 * p, ow + 2 * p);
        if oh > 0 && ow > 0 {
            for (plane, out_plane) in src.chunks_exact(h * w).zip(dst.chunks_exact_mut(ph * pw)) {
                for y in 0..oh {
                    let top = &plane[2 * y * w..][..2 * ow];
                    let bottom = &plane[(2 * y + 1) * w..][..2 * ow];
                    pool_rows(top, bottom, &mut out_plane[(y + p) * pw + p..][..ow], self.relu);
                }
            }
        }
        Ok(tvec!(output.into_tvalue()))
    }

    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(EvalOp::eval(self, &EvalContext::out_of_plan(), inputs)?))
    }
}

impl TypedOp for MaxPool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let fact = inputs[0];
        let shape = fact.shape.as_concrete().context("MaxPool2x2 needs a concrete input shape")?;
        ensure!(shape.len() == 4, "MaxPool2x2 pools NCHW tensors");
        Ok(tvec!(fact.datum_type.fact(self.padded_shape(shape))))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        // Three comparisons per output, one per input value near enough.
        Ok(tvec!((Cost::Buffer(f32::datum_type()), inputs[0].shape.volume())))
    }

    tract_core::as_op!();
}

/// `out[i] = max(top[2i], top[2i + 1], bottom[2i], bottom[2i + 1])`, then `max(out[i], 0)`
/// with `relu`; `top` and `bottom` hold `2 * out.len()` values.
#[inline]
fn pool_rows(top: &[f32], bottom: &[f32], out: &mut [f32], relu: bool) {
    let done = pool_rows_simd(top, bottom, out, relu);
    for (j, o) in out.iter_mut().enumerate().skip(done) {
        let m = top[2 * j].max(top[2 * j + 1]).max(bottom[2 * j].max(bottom[2 * j + 1]));
        *o = if relu { m.max(0.0) } else { m };
    }
}

/// The first outputs of [`pool_rows`], four at a time with simd128; how many it wrote.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn pool_rows_simd(top: &[f32], bottom: &[f32], out: &mut [f32], relu: bool) -> usize {
    use std::arch::wasm32::*;
    // The ReLU as one more max, against zeros, or against -inf (which changes nothing).
    let floor = f32x4_splat(if relu { 0.0 } else { f32::NEG_INFINITY });
    let mut i = 0;
    while i + 4 <= out.len() {
        // Safety: `top` and `bottom` hold 2 * out.len() >= 2 * i + 8 values.
        unsafe {
            let t = top.as_ptr().add(2 * i) as *const v128;
            let b = bottom.as_ptr().add(2 * i) as *const v128;
            let lo = f32x4_max(v128_load(t), v128_load(b));
            let hi = f32x4_max(v128_load(t.add(1)), v128_load(b.add(1)));
            let even = i32x4_shuffle::<0, 2, 4, 6>(lo, hi);
            let odd = i32x4_shuffle::<1, 3, 5, 7>(lo, hi);
            v128_store(
                out.as_mut_ptr().add(i) as *mut v128,
                f32x4_max(f32x4_max(even, odd), floor),
            );
        }
        i += 4;
    }
    i
}

/// Natively the scalar loop does it all (the compiler vectorises it where it can).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
fn pool_rows_simd(_: &[f32], _: &[f32], _: &mut [f32], _: bool) -> usize {
    0
}
