//! Small (r × r) symmetric eigen-solves without allocation: damped inverses
//! of Gram matrices and the Lyapunov solve of the ODELoRA field.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

/// Workspace for eigendecompositions of small (`r × r`) symmetric matrices,
/// sized once: damped (pseudo-)inverses of Gram matrices and the Lyapunov
/// solve of the ODELoRA field, without allocation.
pub struct SymmetricEigen {
    vectors: Mat<f64>,
    values: Diag<f64>,
    scratch: Mat<f64>,
    rotated: Mat<f64>,
    buffer: MemBuffer,
}

impl std::fmt::Debug for SymmetricEigen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymmetricEigen").field("dim", &self.vectors.nrows()).finish_non_exhaustive()
    }
}

impl SymmetricEigen {
    /// A workspace for `r × r` matrices.
    pub fn new(r: usize) -> Self {
        let req = evd::self_adjoint_evd_scratch::<f64>(r, ComputeEigenvectors::Yes, Par::Seq, Default::default());
        Self {
            vectors: Mat::zeros(r, r),
            values: Diag::zeros(r),
            scratch: Mat::zeros(r, r),
            rotated: Mat::zeros(r, r),
            buffer: MemBuffer::new(req),
        }
    }

    /// Eigendecomposition of the symmetric `a` (lower half read). Returns
    /// false if it did not converge (the caller writes NaN).
    fn decompose(&mut self, a: MatRef<'_, f64>) -> bool {
        evd::self_adjoint_evd(
            a,
            self.values.as_mut(),
            Some(self.vectors.as_mut()),
            Par::Seq,
            MemStack::new(&mut self.buffer),
            Default::default(),
        )
        .is_ok()
    }

    fn eigenvalue(&self, i: usize) -> f64 {
        self.values.column_vector()[i]
    }

    /// `out ← (a + δI)⁻¹` through `a = V Λ Vᵀ`. A singular `a + δI` gives
    /// non-finite entries, which the integrator reports, never hides.
    pub fn damped_inverse(&mut self, a: MatRef<'_, f64>, delta: f64, out: &mut Mat<f64>) {
        if !self.decompose(a) {
            out.fill(f64::NAN);
            return;
        }
        let r = a.nrows();
        for j in 0..r {
            let inv = 1.0 / (self.eigenvalue(j) + delta);
            for i in 0..r {
                self.scratch[(i, j)] = self.vectors[(i, j)] * inv;
            }
        }
        matmul(out.as_mut(), Accum::Replace, self.scratch.as_ref(), self.vectors.transpose(), 1.0, Par::Seq);
    }

    /// `out ← (a + δI)⁺`, the Moore–Penrose pseudo-inverse: eigenvalues of
    /// `a + δI` at or below `r · ε · λ_max` count as zero, so a zero factor
    /// (LoRA's `B = 0`) with `δ = 0` gives a zero preconditioner, not NaN.
    pub fn damped_pseudo_inverse(&mut self, a: MatRef<'_, f64>, delta: f64, out: &mut Mat<f64>) {
        if !self.decompose(a) {
            out.fill(f64::NAN);
            return;
        }
        let r = a.nrows();
        let largest = (0..r).map(|j| self.eigenvalue(j) + delta).fold(0.0, f64::max);
        let cutoff = r as f64 * f64::EPSILON * largest;
        for j in 0..r {
            let lambda = self.eigenvalue(j) + delta;
            let inv = if lambda > cutoff { 1.0 / lambda } else { 0.0 };
            for i in 0..r {
                self.scratch[(i, j)] = self.vectors[(i, j)] * inv;
            }
        }
        matmul(out.as_mut(), Accum::Replace, self.scratch.as_ref(), self.vectors.transpose(), 1.0, Par::Seq);
    }

    /// `out ← K` solving the Lyapunov equation `S K + K S = C` for symmetric
    /// positive definite `s`, through `S = Q Λ Qᵀ`:
    /// `K = Q [(Qᵀ C Q)_ij / (λ_i + λ_j)] Qᵀ`.
    pub fn lyapunov(&mut self, s: MatRef<'_, f64>, c: MatRef<'_, f64>, out: &mut Mat<f64>) {
        if !self.decompose(s) {
            out.fill(f64::NAN);
            return;
        }
        let r = s.nrows();
        let q = self.vectors.as_ref();
        matmul(self.scratch.as_mut(), Accum::Replace, c, q, 1.0, Par::Seq);
        matmul(self.rotated.as_mut(), Accum::Replace, q.transpose(), self.scratch.as_ref(), 1.0, Par::Seq);
        for j in 0..r {
            for i in 0..r {
                self.rotated[(i, j)] /= self.eigenvalue(i) + self.eigenvalue(j);
            }
        }
        matmul(self.scratch.as_mut(), Accum::Replace, q, self.rotated.as_ref(), 1.0, Par::Seq);
        matmul(out.as_mut(), Accum::Replace, self.scratch.as_ref(), q.transpose(), 1.0, Par::Seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spd(r: usize) -> Mat<f64> {
        let x = Mat::from_fn(r, r, |i, j| ((i * 7 + j * 3) % 5) as f64 - 2.0 + if i == j { 4.0 } else { 0.0 });
        x.transpose() * &x
    }

    #[test]
    fn damped_inverse_inverts() {
        let a = spd(4);
        let mut eig = SymmetricEigen::new(4);
        let mut inv = Mat::zeros(4, 4);
        eig.damped_inverse(a.as_ref(), 0.0, &mut inv);
        let err = (&a * &inv - Mat::<f64>::identity(4, 4)).norm_l2();
        assert!(err < 1e-12, "{err}");
        eig.damped_inverse(a.as_ref(), 0.5, &mut inv);
        let shifted = &a + Mat::<f64>::identity(4, 4) * 0.5;
        assert!((&shifted * &inv - Mat::<f64>::identity(4, 4)).norm_l2() < 1e-12);
    }

    #[test]
    fn pseudo_inverse_of_zero_is_zero_and_of_spd_is_the_inverse() {
        let mut eig = SymmetricEigen::new(3);
        let mut out = Mat::zeros(3, 3);
        eig.damped_pseudo_inverse(Mat::<f64>::zeros(3, 3).as_ref(), 0.0, &mut out);
        assert_eq!(out, Mat::zeros(3, 3));
        let a = spd(3);
        eig.damped_pseudo_inverse(a.as_ref(), 0.0, &mut out);
        assert!((&a * &out - Mat::<f64>::identity(3, 3)).norm_l2() < 1e-12);
        // Rank one: the pseudo-inverse inverts on the range only.
        let v = Mat::from_fn(3, 1, |i, _| i as f64 + 1.0);
        let p = &v * v.transpose();
        eig.damped_pseudo_inverse(p.as_ref(), 0.0, &mut out);
        assert!((&p * &out * &p - &p).norm_l2() < 1e-12 * p.norm_l2());
    }

    #[test]
    fn lyapunov_solves_the_equation() {
        let s = spd(3);
        let c = Mat::from_fn(3, 3, |i, j| (i + j) as f64 - 1.5);
        let mut eig = SymmetricEigen::new(3);
        let mut k = Mat::zeros(3, 3);
        eig.lyapunov(s.as_ref(), c.as_ref(), &mut k);
        let residual = (&s * &k + &k * &s - &c).norm_l2();
        assert!(residual < 1e-12 * c.norm_l2(), "{residual}");
    }
}
