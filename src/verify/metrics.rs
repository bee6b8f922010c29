//! Similarity metrics between embeddings.

/// Dot product; the cosine similarity of two L2-normalised vectors.
///
/// Eight independent partial sums: a compiler may not reorder a float sum, so a single
/// accumulator is one serial chain of adds, while eight map onto SIMD lanes (wasm simd128,
/// SSE, NEON). Gallery search is this loop over every template.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    let mut acc = [0.0f32; 8];
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Dot product of two int8 vectors, exact in i32 (the coarse pass of gallery search).
/// Entries are expected in [-127, 127], so each product fits in i16.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // 16 lanes at a time: i8 x i8 -> i16 products (low and high halves), pairwise
        // added into four i32 sums. LLVM does not find this from the scalar loop for wasm.
        use core::arch::wasm32::*;
        let n = a.len() / 16 * 16;
        let mut acc = i32x4_splat(0);
        let mut i = 0;
        while i < n {
            // SAFETY: i + 16 <= n <= len of both slices; v128_load allows unaligned reads.
            let (x, y) = unsafe {
                (
                    v128_load(a.as_ptr().add(i) as *const v128),
                    v128_load(b.as_ptr().add(i) as *const v128),
                )
            };
            acc = i32x4_add(acc, i32x4_extadd_pairwise_i16x8(i16x8_extmul_low_i8x16(x, y)));
            acc = i32x4_add(acc, i32x4_extadd_pairwise_i16x8(i16x8_extmul_high_i8x16(x, y)));
            i += 16;
        }
        let lanes = i32x4_extract_lane::<0>(acc)
            + i32x4_extract_lane::<1>(acc)
            + i32x4_extract_lane::<2>(acc)
            + i32x4_extract_lane::<3>(acc);
        lanes + a[n..].iter().zip(&b[n..]).map(|(&x, &y)| x as i32 * y as i32).sum::<i32>()
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        // Natively the compiler vectorises this (integer sums may be reordered).
        a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
    }
}

/// Cosine similarity in [-1, 1]; 0 when either vector is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let na = dot(a, a).sqrt();
    let nb = dot(b, b).sqrt();
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot(a, b) / (na * nb)
}

/// Euclidean distance.
pub fn euclidean(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt()
}

/// Scales `v` to unit length in place; leaves an all-zero vector unchanged.
pub fn l2_normalize(v: &mut [f32]) {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// The metric a model's embeddings are compared with. Both give "higher is more alike":
/// Euclidean is reported as its negation so thresholds always mean "score >= threshold".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    Cosine,
    Euclidean,
}

impl Metric {
    pub fn score(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::Cosine => cosine(a, b),
            Metric::Euclidean => -euclidean(a, b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[0.0, 1.0])).abs() < 1e-7);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-6);
        assert!((cosine(&[1.0, 0.0], &[-3.0, 0.0]) + 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn dot_handles_every_length() {
        for n in [0, 1, 7, 8, 9, 128, 131] {
            let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..n).map(|i| 1.0 - i as f32 * 0.25).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - want).abs() < 1e-3 * (1.0 + want.abs()), "n={n}");
        }
    }

    #[test]
    fn dot_i8_is_exact_for_every_length() {
        for n in [0, 1, 15, 16, 17, 128, 131] {
            let a: Vec<i8> = (0..n).map(|i| (i * 37) % 255 - 127).map(|v| v as i8).collect();
            let b: Vec<i8> = (0..n).map(|i| 127 - (i * 91) % 255).map(|v| v as i8).collect();
            let want: i32 = a.iter().zip(&b).map(|(&x, &y)| x as i32 * y as i32).sum();
            assert_eq!(dot_i8(&a, &b), want, "n={n}");
        }
        let ext = vec![127i8; 256];
        assert_eq!(dot_i8(&ext, &ext), 256 * 127 * 127);
    }

    #[test]
    fn euclidean_and_normalize() {
        assert!((euclidean(&[0.0, 0.0], &[3.0, 4.0]) - 5.0).abs() < 1e-6);
        let mut v = [3.0, 4.0];
        l2_normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert!(Metric::Euclidean.score(&[0.0], &[1.0]) < Metric::Euclidean.score(&[0.0], &[0.5]));
    }
}
