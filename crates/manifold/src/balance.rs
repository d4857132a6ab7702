//! Balanced factorisations: `balanced_split` (X → (B, A)) and `rebalance`
//! (the QR + SVD retraction that keeps `BA` and restores `BᵀB = AAᵀ`).

use faer::{Mat, MatRef};

use crate::{LoraPair, ManifoldError};

/// Check that a rank-`r` LoRA pair fits an `m × n` matrix.
pub fn check_rank(m: usize, n: usize, r: usize) -> Result<(), ManifoldError> {
    if r == 0 {
        return Err(ManifoldError::InvalidParameter("rank must be at least 1".into()));
    }
    if r > m.min(n) {
        return Err(ManifoldError::RankTooLarge { rank: r, m, n });
    }
    Ok(())
}

/// The balanced rank-`r` factorisation of the best rank-`r` approximation of
/// `x`: with `x ≈ U_r Σ_r V_rᵀ` (top-r SVD), `B = U_r Σ_r^{1/2}` and
/// `A = Σ_r^{1/2} V_rᵀ`, so `BᵀB = AAᵀ = Σ_r`.
///
/// Large matrices (`min(m, n) > 256`) use block subspace iteration instead of
/// a full SVD (see [`top_singular_subspace`]), which costs `O(mn(r + 10))` per
/// iteration instead of `O(mn·min(m, n))`.
pub fn balanced_split(x: MatRef<'_, f64>, r: usize) -> Result<LoraPair, ManifoldError> {
    let (m, n) = x.shape();
    check_rank(m, n, r)?;
    if !x.is_all_finite() {
        return Err(ManifoldError::NonFinite("the matrix to split"));
    }
    let svd_error = |e| ManifoldError::Decomposition(format!("SVD: {e:?}"));
    if m.min(n) <= FULL_SVD_LIMIT {
        let svd = x.thin_svd().map_err(svd_error)?;
        return Ok(split_from_svd(svd.U(), svd.S().column_vector().iter().copied(), svd.V(), r));
    }
    // X ≈ Q (QᵀX): the SVD of the small QᵀX gives the top-r triplets.
    let q = top_singular_subspace(x, r);
    let small = q.transpose() * x;
    let svd = small.thin_svd().map_err(svd_error)?;
    let u = &q * svd.U();
    Ok(split_from_svd(u.as_ref(), svd.S().column_vector().iter().copied(), svd.V(), r))
}

/// Above this `min(m, n)` the top-r SVD uses subspace iteration.
const FULL_SVD_LIMIT: usize = 256;

/// An orthonormal basis (m × k, k = min(r + 10, m, n)) of the dominant
/// left singular subspace of `x`, by block subspace iteration from a fixed
/// pseudo-random start (Halko, Martinsson, Tropp 2011, Alg. 4.4): iterate
/// `Q ← orth(X orth(Xᵀ Q))` until the top-r singular subspace moves by less
/// than 1e-13 per iteration, at most 200 times. The oversampling makes the
/// top-r error decay like `(σ_{k+1}/σ_r)^{2q}`; a matrix of rank ≤ k is exact
/// after one iteration.
pub fn top_singular_subspace(x: MatRef<'_, f64>, r: usize) -> Mat<f64> {
    let (m, n) = x.shape();
    let k = (r + 10).min(m).min(n);
    // Deterministic start: a fixed Hadamard-like sign pattern mixed by index,
    // so the result does not depend on any random stream.
    let omega = Mat::from_fn(n, k, |i, j| {
        let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (j as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        ((h >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    });
    let mut q = (x * &omega).qr().compute_thin_Q();
    let mut previous: Option<Mat<f64>> = None;
    for _ in 0..200 {
        let z = (x.transpose() * &q).qr().compute_thin_Q();
        q = (x * &z).qr().compute_thin_Q();
        // Converged when the top-r left singular subspace stops moving
        // (singular values converge quadratically faster, so they are not
        // a safe test).
        let Ok(svd) = (q.transpose() * x).thin_svd() else { break };
        let top = &q * svd.U().subcols(0, r.min(k));
        if let Some(old) = &previous {
            let moved = (&top - old * (old.transpose() * &top)).norm_l2();
            if moved <= 1e-13 * (r as f64).sqrt() {
                break;
            }
        }
        previous = Some(top);
    }
    q
}

/// `B = U_r Σ^{1/2}`, `A = Σ^{1/2} V_rᵀ` from SVD factors (singular values in
/// nonincreasing order, as faer returns them).
fn split_from_svd(u: MatRef<'_, f64>, sigma: impl Iterator<Item = f64>, v: MatRef<'_, f64>, r: usize) -> LoraPair {
    let root: Vec<f64> = sigma.take(r).map(|s| s.max(0.0).sqrt()).collect();
    let b = Mat::from_fn(u.nrows(), r, |i, j| u[(i, j)] * root[j]);
    let a = Mat::from_fn(r, v.nrows(), |i, j| root[i] * v[(j, i)]);
    LoraPair { b, a }
}

/// Rebalance `pair` in place without changing `BA`: thin QR `B = Q_B R_B`,
/// `Aᵀ = Q_A R_A`, SVD `R_B R_Aᵀ = U Σ Vᵀ`, then `B ← Q_B U Σ^{1/2}`,
/// `A ← Σ^{1/2} Vᵀ Q_Aᵀ`. Costs `O((m + n) r² + r³)`.
///
/// Allocates (it runs every k steps at most, not in the inner loop).
pub fn rebalance(pair: &mut LoraPair) -> Result<(), ManifoldError> {
    let (m, n, r) = (pair.out_dim(), pair.in_dim(), pair.rank());
    check_rank(m, n, r)?;
    if !(pair.b.is_all_finite() && pair.a.is_all_finite()) {
        return Err(ManifoldError::NonFinite("the factors to rebalance"));
    }
    let qr_b = pair.b.qr();
    let qr_a = pair.a.transpose().qr();
    let (q_b, r_b) = (qr_b.compute_thin_Q(), qr_b.thin_R());
    let (q_a, r_a) = (qr_a.compute_thin_Q(), qr_a.thin_R());
    let core = r_b * r_a.transpose();
    let svd = core.svd().map_err(|e| ManifoldError::Decomposition(format!("SVD: {e:?}")))?;
    let u = &q_b * svd.U();
    let v = &q_a * svd.V();
    *pair = split_from_svd(u.as_ref(), svd.S().column_vector().iter().copied(), v.as_ref(), r);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subspace_iteration_matches_the_full_svd() {
        // 300 × 280 with singular values 1, 0.9, 0.8, … (a modest gap after r = 3).
        let (m, n) = (300, 280);
        let a = Mat::from_fn(m, n, |i, j| ((i * 31 + j * 17) % 97) as f64 / 97.0 - 0.5);
        let svd = a.thin_svd().unwrap();
        let spectrum: Vec<f64> = (0..n).map(|i| 0.9f64.powi(i as i32)).collect();
        let x = Mat::from_fn(m, n, |i, j| (0..n).map(|k| svd.U()[(i, k)] * spectrum[k] * svd.V()[(j, k)]).sum());
        let fast = balanced_split(x.as_ref(), 3).unwrap();
        let exact = {
            let s = x.thin_svd().unwrap();
            split_from_svd(s.U(), s.S().column_vector().iter().copied(), s.V(), 3)
        };
        let err = (fast.product() - exact.product()).norm_l2() / exact.product().norm_l2();
        assert!(err < 1e-10, "top-3 approximation differs by {err:e}");
        assert!((fast.gram_b() - fast.gram_a()).norm_l2() < 1e-12);
    }

    #[test]
    fn split_is_balanced_and_exact_for_rank_r() {
        let u = Mat::from_fn(5, 2, |i, j| (i as f64 + 1.0) * if j == 0 { 1.0 } else { -0.5 } + j as f64);
        let v = Mat::from_fn(2, 4, |i, j| ((i + 2 * j) % 3) as f64 - 0.7);
        let x = &u * &v;
        let p = balanced_split(x.as_ref(), 2).unwrap();
        assert!((p.product() - &x).norm_l2() < 1e-12 * x.norm_l2());
        assert!((p.gram_b() - p.gram_a()).norm_l2() < 1e-12 * x.norm_l2());
        assert!(matches!(balanced_split(x.as_ref(), 5), Err(ManifoldError::RankTooLarge { .. })));
    }
}
