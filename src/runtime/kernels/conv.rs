//! A four-channel convolution kernel along W for tract in WebAssembly (tract-linalg's
//! `conv_w4_f32` routine), which lets tract run the signature network's first convolution
//! directly instead of through im2col and a matrix product.
//!
//! Why: tract lowers an f32 convolution to its direct spatial form (`DirectSpatialConv`: each
//! output row as a filter along W, four output channels at a time) on machines that have a
//! `conv_w4_f32` kernel, and has one for x86-64 (AVX2) and arm64 but none for wasm. Without it,
//! the first convolution (one input channel, 3x3, 64x128 points, 16 channels) becomes a matrix
//! product with a depth of 9: tract gathers 9 values per point for its im2col, packs them and
//! runs 8x8 tiles whose inner loop is 9 steps long, so most of the work is moving data. The
//! direct form reads each input row where it lies. tract only takes it for output rows of at
//! least 128 points (its `MIN_DIRECT_SPATIAL_W`), so among our networks it is the signature
//! network's first convolution.
//!
//! It plugs in through tract-linalg's public routine inventory, like our matrix kernel
//! (`kernels::gemm`), as a static constructor (`web::init` runs them once per instance); tract
//! owns the zones, the padding and which points each call covers.
#![cfg(all(target_arch = "wasm32", target_feature = "simd128"))]

use std::arch::wasm32::*;

use crate::runtime::kernels::gemm::madd;
use tract_linalg::isa::{Arch, IsaReq};
use tract_linalg::routines::{Func, Routine, RoutineFactory};

/// The kernel's name, as tract reports it.
pub const KERNEL_NAME: &str = "siamese_wasm_simd128_conv_w4_f32";

/// Four convolution output runs of `len` points, as tract-linalg's `ConvW4F32` describes: point
/// `i` of channel `o` (written at `output + o * oc_stride + i`) is `bias[o]` plus, for each tap
/// `t` in order, `taps[o * n + t] * input[offsets[t] + i * in_stride]`. Input strides 1 and 2
/// (the convolutions tract sends here with strides 1 and 2) are computed eight points to a
/// step, four to a vector; other strides and the last few points one point at a time. Loads
/// never reach past `offsets[t] + (len - 1) * in_stride`.
///
/// # Safety
/// As tract-linalg's `ConvW4F32`: `input + offsets[t] + i * in_stride` readable for every tap
/// and every `i < len`, `taps.len() == 4 * offsets.len()`, and `len` points writable from
/// `output + o * oc_stride` for `o < 4`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn conv_w4_f32(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: &[f32; 4],
    len: usize,
    in_stride: isize,
    oc_stride: isize,
) {
    let n = offsets.len();
    debug_assert_eq!(taps.len(), 4 * n);
    let out = |o: usize, i: usize| unsafe { output.offset(o as isize * oc_stride).add(i) };
    let mut i = 0usize;
    if in_stride == 1 || in_stride == 2 {
        let stride = in_stride as usize;
        // At stride 2 four points' inputs are the even lanes of eight values, the last of
        // which is the next point's first: that point has to be in the run too.
        let reach = if stride == 2 { 1 } else { 0 };
        let b = bias.map(|v| f32x4_splat(v));
        // Eight points (two vectors) for four channels: 8 accumulators, 2 input vectors and one
        // broadcast tap stay in V8's 16 vector registers on x86-64.
        while i + 8 + reach <= len {
            let mut acc = [b[0], b[1], b[2], b[3], b[0], b[1], b[2], b[3]];
            for (t, &off) in offsets.iter().enumerate() {
                unsafe {
                    let p = input.offset(off).add(i * stride);
                    let (x, y) = (load4(p, stride), load4(p.add(4 * stride), stride));
                    for o in 0..4 {
                        let k = v128_load32_splat(taps.as_ptr().add(o * n + t) as *const u32);
                        acc[o] = madd(acc[o], x, k);
                        acc[4 + o] = madd(acc[4 + o], y, k);
                    }
                }
            }
            for o in 0..4 {
                unsafe {
                    v128_store(out(o, i) as *mut v128, acc[o]);
                    v128_store(out(o, i + 4) as *mut v128, acc[4 + o]);
                }
            }
            i += 8;
        }
        while i + 4 + reach <= len {
            let mut acc = b;
            for (t, &off) in offsets.iter().enumerate() {
                unsafe {
                    let x = load4(input.offset(off).add(i * stride), stride);
                    for (o, a) in acc.iter_mut().enumerate() {
                        *a = madd(
                            *a,
                            x,
                            v128_load32_splat(taps.as_ptr().add(o * n + t) as *const u32),
                        );
                    }
                }
            }
            for (o, a) in acc.iter().enumerate() {
                unsafe { v128_store(out(o, i) as *mut v128, *a) };
            }
            i += 4;
        }
    }
    // The rest one point at a time, multiply-adds rounded as the vector lanes round them.
    for i in i..len {
        for o in 0..4 {
            let mut sum = f32x4_splat(bias[o]);
            for (t, &off) in offsets.iter().enumerate() {
                let x = unsafe { *input.offset(off + i as isize * in_stride) };
                sum = madd(sum, f32x4_splat(x), f32x4_splat(taps[o * n + t]));
            }
            unsafe { *out(o, i) = f32x4_extract_lane::<0>(sum) };
        }
    }
}

/// The inputs of four consecutive points `stride` (1 or 2) values apart, from `p`.
///
/// # Safety
/// `4 * stride` values readable from `p`.
#[inline(always)]
unsafe fn load4(p: *const f32, stride: usize) -> v128 {
    unsafe {
        if stride == 1 {
            v128_load(p as *const v128)
        } else {
            i32x4_shuffle::<0, 2, 4, 6>(
                v128_load(p as *const v128),
                v128_load(p.add(4) as *const v128),
            )
        }
    }
}

inventory::submit! {
    Routine {
        func: Func::ConvW4,
        arch: Some(Arch::Wasm32Simd128),
        isa: IsaReq::ANY,
        boost: 0,
        round_trip: false,
        factory: RoutineFactory::ConvW4F32 { name: KERNEL_NAME, run: conv_w4_f32 },
    }
}
