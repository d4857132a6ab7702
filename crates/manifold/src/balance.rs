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
pub fn balanced_split(x: MatRef<'_, f64>, r: usize) -> Result<LoraPair, ManifoldError> {
    let (m, n) = x.shape();
    check_rank(m, n, r)?;
    if !x.is_all_finite() {
        return Err(ManifoldError::NonFinite("the matrix to split"));
    }
    let svd = x.thin_svd().map_err(|e| ManifoldError::Decomposition(format!("SVD: {e:?}")))?;
    Ok(split_from_svd(svd.U(), svd.S().column_vector().iter().copied(), svd.V(), r))
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
