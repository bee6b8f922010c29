//! Our 2x2, stride-2 max pool for tract: the pool every block of our encoders ends with.
//!
//! Why our own: tract's max pool visits one output at a time through its generic patch
//! geometry, with bounds checks on every tap, and its vector path serves stride 1 only.
//! Profiled per node in Chromium, the four pools were 18% of a signature embedding even split
//! into a row pool and a column pool (bench/README.md). A 2x2 window at stride 2 with no
//! padding needs none of that geometry: each output row is the larger of two input rows, then
//! the larger of each pair of neighbours, which wasm's simd128 does four outputs at a time
//! (two loads per row, a vertical max, and a shuffle that pairs the even and odd lanes).
//!
//! `encoder::own_max_pools` puts it in place of tract's pool in the imported graph, where
//! tract's code generation leaves it alone. Floor rounding, as the ONNX default: an odd last
//! row or column is dropped, as tract's pool does.

use tract_core::prelude::*;
use tract_core::internal::*;

/// Max over each 2x2 block of every plane of an NCHW f32 tensor, stride 2, no padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MaxPool2x2;

impl MaxPool2x2 {
    /// The output shape for an NCHW `input` shape: floor rounding, as the ONNX default.
    pub(crate) fn output_shape(input: &[usize]) -> TVec<usize> {
        tvec![input[0], input[1], input[2] / 2, input[3] / 2]
    }
}

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2".into()
    }

    fn as_typed(&self) -> Option<&dyn TypedOp> {
        Some(self)
    }
}

impl EvalOp for MaxPool2x2 {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        ensure!(inputs.len() == 1, "MaxPool2x2 takes one input");
        let input = &inputs[0];
        ensure!(input.datum_type() == f32::datum_type() && input.rank() == 4, "MaxPool2x2 pools NCHW f32 tensors");
        let shape = input.shape();
        let (h, w) = (shape[2], shape[3]);
        let out_shape = Self::output_shape(shape);
        let src = input.try_as_plain_ram()?.as_slice::<f32>()?;
        let mut output = unsafe { Tensor::uninitialized::<f32>(&out_shape)? };
        let dst = unsafe { output.as_slice_mut_unchecked::<f32>() };
        let (oh, ow) = (h / 2, w / 2);
        if ow > 0 {
            for (plane, out_plane) in src.chunks_exact(h * w).zip(dst.chunks_exact_mut(oh * ow)) {
                for (y, out_row) in out_plane.chunks_exact_mut(ow).enumerate() {
                    let top = &plane[2 * y * w..][..2 * ow];
                    let bottom = &plane[(2 * y + 1) * w..][..2 * ow];
                    pool_rows(top, bottom, out_row);
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
        Ok(tvec!(fact.datum_type.fact(Self::output_shape(shape))))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        // Three comparisons per output, one per input value near enough.
        Ok(tvec!((Cost::Buffer(f32::datum_type()), inputs[0].shape.volume())))
    }

    fn as_op(&self) -> &dyn Op {
        self
    }

    fn as_op_mut(&mut self) -> &mut dyn Op {
        self
    }
}

/// `out[i] = max(top[2i], top[2i + 1], bottom[2i], bottom[2i + 1])`; `top` and `bottom` hold
/// `2 * out.len()` values.
#[inline]
fn pool_rows(top: &[f32], bottom: &[f32], out: &mut [f32]) {
    let done = pool_rows_simd(top, bottom, out);
    for (j, o) in out.iter_mut().enumerate().skip(done) {
        *o = top[2 * j].max(top[2 * j + 1]).max(bottom[2 * j].max(bottom[2 * j + 1]));
    }
}

/// The first outputs of [`pool_rows`], four at a time with simd128; how many it wrote.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn pool_rows_simd(top: &[f32], bottom: &[f32], out: &mut [f32]) -> usize {
    use std::arch::wasm32::*;
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
            v128_store(out.as_mut_ptr().add(i) as *mut v128, f32x4_max(even, odd));
        }
        i += 4;
    }
    i
}

/// Natively the scalar loop does it all (the compiler vectorises it where it can).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
fn pool_rows_simd(_: &[f32], _: &[f32], _: &mut [f32]) -> usize {
    0
}
