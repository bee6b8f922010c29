//! An 8x8 f32 matrix-multiply kernel for tract in WebAssembly, and the dispatch tier that makes
//! tract use it for every f32 matrix product wider than one column (our convolutions).
//!
//! Why our own: every f32 GEMM kernel tract-linalg's wasm dispatch picks holds 16 `v128`
//! accumulators in its k loop (8x8, 4x16). With the operands and broadcasts of a k-step that is
//! over 20 live vectors, and V8 on x86-64 gives wasm SIMD values 16 xmm registers, so each
//! k-step must spill and reload accumulators (inferred from the speedup this kernel gives,
//! bench/README.md; not read from V8's machine code). This kernel keeps tract's 8x8 tile but
//! runs the k loop twice, once per 4-row half: 8 accumulators, one broadcast A value and two
//! B vectors, 11 registers, no spills. The B panel is read twice, from L1. A true 4x8 tile
//! (tried) does as well in the k loop but doubles tract's per-tile work and its lazy im2col
//! gathers.
//! Each output still sums its k products in order, so results equal tract's own kernel's.
//!
//! It plugs in through tract-linalg's public registries: a `MmmRoutine` makes the kernel
//! runnable on wasm32 simd128, and a `MmmTier` one rung above tract's own wasm tier names it.
//! tract then packs, tiles, fuses bias and activation, and handles border tiles as for its own
//! kernels; the kernel only has to honour the fused-op list (`FusedKerSpec`), the same contract
//! as tract's wasm kernels, whose f32 semantics it follows op by op. Both registrations are
//! static constructors, like tract's own: `web::init` runs them once per instance.
#![cfg(all(target_arch = "wasm32", target_feature = "simd128"))]

use std::arch::wasm32::*;

use tract_core::prelude::DatumType;
use tract_linalg::isa::{Arch, IsaSet};
use tract_linalg::mmm::{DynKernel, FusedKerSpec, MatMatMul, Query, Suitable};
use tract_linalg::pack::Packing;
use tract_linalg::Scaler;

/// Rows (output channels) and columns (output pixels) of one tile.
const MR: usize = 8;
const NR: usize = 8;

/// The kernel's name, as tract reports it (profiles, `preferred_kernel`).
pub const KERNEL_NAME: &str = "siamese_wasm_f32_8x8";

/// Multiply-add: fused where the build has relaxed SIMD (one instruction, and the relaxed
/// build exists for that), separate multiply and add otherwise. Either way it rounds as tract's
/// own kernels do in the same build.
#[inline(always)]
pub(crate) fn madd(acc: v128, a: v128, b: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        f32x4_relaxed_madd(a, b, acc)
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        f32x4_add(acc, f32x4_mul(a, b))
    }
}

/// `acc[2r]` holds row r's columns 0-3, `acc[2r + 1]` its columns 4-7: the tile row-major,
/// which is also the layout of `LoadTile`'s row-major buffer.
type Tile = [v128; MR * 2];

#[inline(always)]
fn each(acc: &mut Tile, f: impl Fn(v128) -> v128) {
    for v in acc.iter_mut() {
        *v = f(*v);
    }
}

/// Applies `f(operand, acc)` with one operand per row, splatted across the row.
#[inline(always)]
unsafe fn per_row(acc: &mut Tile, row: *const f32, f: impl Fn(v128, v128) -> v128) {
    for r in 0..MR {
        let s = f32x4_splat(unsafe { *row.add(r) });
        acc[2 * r] = f(s, acc[2 * r]);
        acc[2 * r + 1] = f(s, acc[2 * r + 1]);
    }
}

/// Applies `f(operand, acc)` with one operand per column.
#[inline(always)]
unsafe fn per_col(acc: &mut Tile, cols: *const f32, f: impl Fn(v128, v128) -> v128) {
    let (lo, hi) =
        unsafe { (v128_load(cols as *const v128), v128_load(cols.add(4) as *const v128)) };
    for r in 0..MR {
        acc[2 * r] = f(lo, acc[2 * r]);
        acc[2 * r + 1] = f(hi, acc[2 * r + 1]);
    }
}

/// Row r of a strided f32 tile, as two vectors.
#[inline(always)]
unsafe fn read_row(ptr: *const u8, col_stride: isize) -> (v128, v128) {
    unsafe {
        if col_stride == 4 {
            (v128_load(ptr as *const v128), v128_load(ptr.add(16) as *const v128))
        } else {
            let at = |c: isize| *(ptr.offset(c * col_stride) as *const f32);
            (f32x4(at(0), at(1), at(2), at(3)), f32x4(at(4), at(5), at(6), at(7)))
        }
    }
}

/// Rows 0-3 or 4-7 of the tile times the B panel. `a` points at the half's first row in A's
/// packing (k rows of 8 tile rows), `b` at B's (k rows of 8 columns, two vectors). The half's 8
/// accumulators, one splatted A value and two B vectors are 11 live vectors: they stay in
/// registers for the whole k loop, where a full 8x8 tile (16 accumulators) would spill.
#[inline(never)]
unsafe fn add_mat_mul_half(acc: &mut [v128; 8], a: *const f32, b: *const v128, k: usize) {
    let mut c = *acc;
    for i in 0..k {
        unsafe {
            let (lo, hi) = (v128_load(b.add(2 * i)), v128_load(b.add(2 * i + 1)));
            let row = a.add(MR * i) as *const u32;
            for r in 0..4 {
                let s = v128_load32_splat(row.add(r));
                c[2 * r] = madd(c[2 * r], s, lo);
                c[2 * r + 1] = madd(c[2 * r + 1], s, hi);
            }
        }
    }
    *acc = c;
}

/// Runs one fused-op list over an 8x8 tile. The contract (op meanings, the packed layouts of
/// `AddMatMul`: A and B as k rows of 8) is tract-linalg's `FusedKerSpec`.
unsafe fn kernel_f32_8x8(ops: &[FusedKerSpec<f32>]) -> isize {
    let mut acc: Tile = [f32x4_splat(0.0); MR * 2];
    for op in ops {
        unsafe {
            match *op {
                FusedKerSpec::Done => break,
                FusedKerSpec::Clear => acc = [f32x4_splat(0.0); MR * 2],
                FusedKerSpec::LoadTile(_col_major, row_major) => {
                    for (i, v) in acc.iter_mut().enumerate() {
                        *v = v128_load((row_major as *const v128).add(i));
                    }
                }
                FusedKerSpec::ScalarMin(s) => each(&mut acc, |v| f32x4_min(f32x4_splat(s), v)),
                FusedKerSpec::ScalarMax(s) => each(&mut acc, |v| f32x4_max(f32x4_splat(s), v)),
                FusedKerSpec::ScalarAdd(s) => each(&mut acc, |v| f32x4_add(f32x4_splat(s), v)),
                FusedKerSpec::ScalarMul(s) => each(&mut acc, |v| f32x4_mul(f32x4_splat(s), v)),
                FusedKerSpec::ScalarSub(s) => each(&mut acc, |v| f32x4_sub(f32x4_splat(s), v)),
                FusedKerSpec::ScalarSubF(s) => each(&mut acc, |v| f32x4_sub(v, f32x4_splat(s))),
                FusedKerSpec::LeakyRelu(alpha) => each(&mut acc, |v| {
                    let positive = f32x4_gt(v, f32x4_splat(0.0));
                    v128_bitselect(v, f32x4_mul(f32x4_splat(alpha), v), positive)
                }),
                FusedKerSpec::PerRowMin(row) => per_row(&mut acc, row, |s, v| f32x4_min(s, v)),
                FusedKerSpec::PerRowMax(row) => per_row(&mut acc, row, |s, v| f32x4_max(s, v)),
                FusedKerSpec::PerRowAdd(row) => per_row(&mut acc, row, |s, v| f32x4_add(s, v)),
                FusedKerSpec::PerRowMul(row) => per_row(&mut acc, row, |s, v| f32x4_mul(s, v)),
                FusedKerSpec::PerRowSub(row) => per_row(&mut acc, row, |s, v| f32x4_sub(s, v)),
                FusedKerSpec::PerRowSubF(row) => per_row(&mut acc, row, |s, v| f32x4_sub(v, s)),
                FusedKerSpec::PerColMin(cols) => per_col(&mut acc, cols, |s, v| f32x4_min(s, v)),
                FusedKerSpec::PerColMax(cols) => per_col(&mut acc, cols, |s, v| f32x4_max(s, v)),
                FusedKerSpec::PerColAdd(cols) => per_col(&mut acc, cols, |s, v| f32x4_add(s, v)),
                FusedKerSpec::PerColMul(cols) => per_col(&mut acc, cols, |s, v| f32x4_mul(s, v)),
                FusedKerSpec::PerColSub(cols) => per_col(&mut acc, cols, |s, v| f32x4_sub(s, v)),
                FusedKerSpec::PerColSubF(cols) => per_col(&mut acc, cols, |s, v| f32x4_sub(v, s)),
                // The integer requantisation ops, as tract's f32 kernels read them: scalings.
                FusedKerSpec::QScale(shift, policy, mult) => {
                    let scale = f32x4_splat(Scaler::from_fuse_params(shift, policy, mult).scale);
                    each(&mut acc, |v| f32x4_mul(scale, v))
                }
                FusedKerSpec::RoundingShiftRight(shift, _) => {
                    let scale = f32x4_splat(2f32.powi(-(shift as i32)));
                    each(&mut acc, |v| f32x4_mul(scale, v))
                }
                FusedKerSpec::ShiftLeft(shift) => {
                    let scale = f32x4_splat(2f32.powi(shift as i32));
                    each(&mut acc, |v| f32x4_mul(scale, v))
                }
                FusedKerSpec::AddUnicast(tile) => {
                    for r in 0..MR {
                        let (lo, hi) = read_row(
                            tile.ptr.offset(r as isize * tile.row_byte_stride),
                            tile.col_byte_stride,
                        );
                        acc[2 * r] = f32x4_add(acc[2 * r], lo);
                        acc[2 * r + 1] = f32x4_add(acc[2 * r + 1], hi);
                    }
                }
                FusedKerSpec::AddRowColProducts(rows, cols) => {
                    let (lo, hi) =
                        (v128_load(cols as *const v128), v128_load(cols.add(4) as *const v128));
                    for r in 0..MR {
                        let s = f32x4_splat(*rows.add(r));
                        acc[2 * r] = madd(acc[2 * r], s, lo);
                        acc[2 * r + 1] = madd(acc[2 * r + 1], s, hi);
                    }
                }
                FusedKerSpec::Store(tile) => {
                    for r in 0..MR {
                        let ptr = tile.ptr.offset(r as isize * tile.row_byte_stride);
                        let (lo, hi) = (acc[2 * r], acc[2 * r + 1]);
                        if tile.col_byte_stride == 4 {
                            v128_store(ptr as *mut v128, lo);
                            v128_store(ptr.add(16) as *mut v128, hi);
                        } else {
                            let s = tile.col_byte_stride;
                            let at = |c: isize| ptr.offset(c * s) as *mut f32;
                            *at(0) = f32x4_extract_lane::<0>(lo);
                            *at(1) = f32x4_extract_lane::<1>(lo);
                            *at(2) = f32x4_extract_lane::<2>(lo);
                            *at(3) = f32x4_extract_lane::<3>(lo);
                            *at(4) = f32x4_extract_lane::<0>(hi);
                            *at(5) = f32x4_extract_lane::<1>(hi);
                            *at(6) = f32x4_extract_lane::<2>(hi);
                            *at(7) = f32x4_extract_lane::<3>(hi);
                        }
                    }
                }
                FusedKerSpec::AddMatMul { k, pa, pb, packing: _ } => {
                    let (top, bottom) = acc.split_at_mut(8);
                    add_mat_mul_half(
                        top.try_into().unwrap(),
                        pa as *const f32,
                        pb as *const v128,
                        k,
                    );
                    add_mat_mul_half(
                        bottom.try_into().unwrap(),
                        (pa as *const f32).add(4),
                        pb as *const v128,
                        k,
                    );
                }
            }
        }
    }
    0
}

fn kernel() -> Box<dyn MatMatMul> {
    let mut k = DynKernel::<MR, NR, f32>::new(
        KERNEL_NAME,
        kernel_f32_8x8,
        f32::packing(MR),
        f32::packing(NR),
    );
    k.arch = Some(Arch::Wasm32Simd128);
    k.mmm()
}

inventory::submit! {
    tract_linalg::mmm_routines::MmmRoutine { make: kernel }
}

/// Every f32 product with more than one column (convolutions, batched matmuls) runs on this
/// kernel; matrix-vector products (n = 1) and other types are left to the tiers below.
fn preferred(_: &IsaSet, dt: DatumType, query: &Query, _: &[Suitable]) -> Option<&'static str> {
    (dt == DatumType::F32 && query.n != Some(1)).then_some(KERNEL_NAME)
}

inventory::submit! {
    tract_linalg::mmm_tiers::MmmTier {
        arch: Some(Arch::Wasm32Simd128),
        // tract's own wasm tier is precedence 1; a tier's precedence must be unique per arch.
        precedence: 2,
        name: "siamese-wasm-f32-8x8",
        applies: |_| true,
        preferred,
    }
}
