//! L2 normalisation along the last axis as one operator for tract: how our encoders end (ONNX
//! `LpNormalization`, p = 2, over the embedding).
//!
//! Why our own: tract has no such operator, so the import wrote it as seven (square, sum,
//! square root, a test for a zero norm, a choice, a reciprocal, a product) over 128 values.
//! Each is generic operator code that a page's first model load runs, through tract's
//! optimisation passes and its first run, and the engine compiles, for the first time; the
//! library's own [`l2_normalize`] computes the same.

use crate::verify::metrics::l2_normalize;
use tract_core::internal::*;

/// `x / ||x||` along the last axis of an f32 tensor, as ONNX's `LpNormalization` with p = 2: a
/// row whose norm is zero stays zeros (it is divided by one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct L2Normalize;

impl Op for L2Normalize {
    fn name(&self) -> StaticName {
        "L2Normalize".into()
    }

    tract_core::op_as_typed_op!();
}

impl EvalOp for L2Normalize {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        ensure!(inputs.len() == 1, "L2Normalize takes one input");
        ensure!(
            inputs[0].datum_type() == f32::datum_type() && inputs[0].rank() >= 1,
            "L2Normalize normalises f32 tensors"
        );
        let n = *inputs[0].shape().last().unwrap();
        let mut output = inputs[0].clone().into_tensor();
        if n > 0 {
            unsafe { output.as_slice_mut_unchecked::<f32>() }
                .chunks_exact_mut(n)
                .for_each(l2_normalize);
        }
        Ok(tvec!(output.into_tvalue()))
    }

    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(EvalOp::eval(self, &EvalContext::out_of_plan(), inputs)?))
    }
}

impl TypedOp for L2Normalize {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        // A multiply-add and a division per value.
        Ok(tvec!((Cost::FMA(f32::datum_type()), inputs[0].shape.volume())))
    }

    tract_core::as_op!();
}
