//! A fully connected layer with constant weights as one operator for tract: our encoders'
//! projection (ONNX `Gemm`: flattened features times a 4096 x 128 matrix, plus a bias).
//!
//! Why our own: tract imports a `Gemm` as an Einstein sum, whose rules and code generation
//! (axis analysis, kernel choice, packing the features for a matrix-vector kernel) are a large
//! share of the generic code that a page's first model load runs, and the engine compiles, for
//! the first time, for one product of a vector by a matrix. One loop computes it, in wasm 32
//! outputs at a time in eight simd128 accumulators, reading the weights as they are stored.

use tract_core::internal::*;

/// `y = x . w + b` for each row of `x`: `x` is `[m, k]` (f32, a wire), `w` is `[k, n]` and `b`
/// holds `n` values (both constants); `y` is `[m, n]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dense {
    weights: Arc<Tensor>,
    bias: Option<Arc<Tensor>>,
}

impl Dense {
    /// The layer, if `weights` is an f32 `[k, n]` matrix and `bias` (when given) holds `n` f32
    /// values.
    pub fn new(weights: Arc<Tensor>, bias: Option<Arc<Tensor>>) -> Option<Dense> {
        let f32_ = |t: &Tensor| t.datum_type() == f32::datum_type() && t.is_plain();
        let n = *weights.shape().get(1)?;
        let bias_ok = bias.as_ref().is_none_or(|b| {
            f32_(b) && b.len() == n && b.shape().iter().rev().skip(1).all(|&d| d == 1)
        });
        (weights.rank() == 2 && f32_(&weights) && bias_ok).then_some(Dense { weights, bias })
    }
}

impl Op for Dense {
    fn name(&self) -> StaticName {
        "Dense".into()
    }

    tract_core::op_as_typed_op!();
}

impl EvalOp for Dense {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        ensure!(inputs.len() == 1, "Dense takes one input");
        let x = &inputs[0];
        let (k, n) = (self.weights.shape()[0], self.weights.shape()[1]);
        ensure!(
            x.datum_type() == f32::datum_type() && x.rank() == 2 && x.shape()[1] == k,
            "Dense multiplies [m, {k}] f32 matrices"
        );
        let m = x.shape()[0];
        let w = self.weights.try_as_plain_ram()?.as_slice::<f32>()?;
        let bias = self
            .bias
            .as_ref()
            .map(|b| b.try_as_plain_ram().and_then(|b| b.as_slice::<f32>()))
            .transpose()?;
        let x = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let mut y = Tensor::zero::<f32>(&[m, n])?;
        let out = unsafe { y.as_slice_mut_unchecked::<f32>() };
        for r in 0..m {
            let row = &mut out[r * n..][..n];
            if let Some(b) = bias {
                row.copy_from_slice(b);
            }
            add_product(row, &x[r * k..][..k], w);
        }
        Ok(tvec!(y.into_tvalue()))
    }

    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(EvalOp::eval(self, &EvalContext::out_of_plan(), inputs)?))
    }
}

impl TypedOp for Dense {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        ensure!(
            x.rank() == 2 && x.shape[1] == self.weights.shape()[0].to_dim(),
            "Dense multiplies [m, {}] matrices, not {:?}",
            self.weights.shape()[0],
            x.shape
        );
        Ok(tvec!(f32::fact([x.shape[0].clone(), self.weights.shape()[1].to_dim()])))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        Ok(tvec!((Cost::FMA(f32::datum_type()), inputs[0].shape[0].clone() * self.weights.len())))
    }

    tract_core::as_op!();
}

/// `y[j] += sum over i of x[i] * w[i * n + j]`, `n = y.len()`, summed in order of `i`.
fn add_product(y: &mut [f32], x: &[f32], w: &[f32]) {
    let n = y.len();
    let done = add_product_simd(y, x, w);
    for (i, &xi) in x.iter().enumerate() {
        for (yj, &wj) in y[done..].iter_mut().zip(&w[i * n + done..(i + 1) * n]) {
            *yj += xi * wj;
        }
    }
}

/// The first outputs of [`add_product`], 32 at a time (eight simd128 accumulators, which stay
/// in registers over the whole of `x`); how many it computed.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn add_product_simd(y: &mut [f32], x: &[f32], w: &[f32]) -> usize {
    use std::arch::wasm32::*;
    let n = y.len();
    assert!(w.len() >= x.len() * n);
    let mut j = 0;
    while j + 32 <= n {
        // Safety: j + 32 <= n, so each load reads row i's values j..j + 32, within w (asserted
        // above), and each store writes y[j..j + 32].
        unsafe {
            let mut acc = [f32x4_splat(0.0); 8];
            for (a, v) in acc.iter_mut().enumerate() {
                *v = v128_load(y.as_ptr().add(j + 4 * a) as *const v128);
            }
            for (i, &xi) in x.iter().enumerate() {
                let xv = f32x4_splat(xi);
                let row = w.as_ptr().add(i * n + j);
                for (a, v) in acc.iter_mut().enumerate() {
                    *v = crate::runtime::kernels::gemm::madd(
                        *v,
                        xv,
                        v128_load(row.add(4 * a) as *const v128),
                    );
                }
            }
            for (a, v) in acc.iter().enumerate() {
                v128_store(y.as_mut_ptr().add(j + 4 * a) as *mut v128, *v);
            }
        }
        j += 32;
    }
    j
}

/// Natively the scalar loop does it all (the compiler vectorises it).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn add_product_simd(_: &mut [f32], _: &[f32], _: &[f32]) -> usize {
    0
}
