//! The strongly convex objective of SPEC §5.2:
//! `L(W) = ½ Σ_ij q_ij (W − W*)_ij²`, for the linear-convergence theorems.

use std::sync::Arc;

use faer::{unzip, zip, Mat, MatRef};
use rand::Rng;

use crate::random::{haar_orthonormal, seeded_rng, stream};
use crate::{Metrics, Objective, ProblemError};

/// Parameters of a convex quadratic instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvexQuadraticParams {
    /// Rows of W.
    pub m: usize,
    /// Columns of W.
    pub n: usize,
    /// Rank of the minimiser W*.
    pub rank: usize,
    /// Condition number κ_Q = L/μ bound: weights `q_ij` log-uniform in `[1, κ_Q]`.
    pub kappa_q: f64,
    /// Seed of the instance.
    pub seed: u64,
}

impl ConvexQuadraticParams {
    fn validate(&self) -> Result<(), ProblemError> {
        if self.m == 0 || self.n == 0 {
            return Err(ProblemError::InvalidParameter(format!("shape must be positive, got {} × {}", self.m, self.n)));
        }
        if self.rank == 0 || self.rank > self.m.min(self.n) {
            return Err(ProblemError::InvalidParameter(format!(
                "rank {} of W* must lie in 1..=min(m, n) = {}",
                self.rank,
                self.m.min(self.n)
            )));
        }
        if !(self.kappa_q.is_finite() && self.kappa_q >= 1.0) {
            return Err(ProblemError::InvalidParameter(format!("κ_Q must be finite and ≥ 1, got {}", self.kappa_q)));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct QuadraticData {
    params: ConvexQuadraticParams,
    weights: Mat<f64>,
    target: Mat<f64>,
    target_norm: f64,
    mu: f64,
    lipschitz: f64,
}

/// `L(W) = ½ Σ_ij q_ij (W − W*)_ij²` with `q_ij = κ_Q^{u_ij}`, `u_ij ~ U(0, 1)`
/// (log-uniform in `[1, κ_Q]`), and `rank W* = r` exactly: Haar singular
/// vectors, singular values uniform in `[0.5, 1]`. Strongly convex with
/// `μ = min q`, smooth with `L = max q`; one adapted `m × n` matrix, `W0 = 0`.
#[derive(Debug, Clone)]
pub struct ConvexQuadratic {
    data: Arc<QuadraticData>,
    shapes: [(usize, usize); 1],
    base: [Mat<f64>; 1],
}

impl ConvexQuadratic {
    /// Draw an instance.
    pub fn new(params: ConvexQuadraticParams) -> Result<Self, ProblemError> {
        params.validate()?;
        let (m, n, r) = (params.m, params.n, params.rank);
        let u = haar_orthonormal(&mut seeded_rng(params.seed, stream::TARGET_LEFT), m, r);
        let v = haar_orthonormal(&mut seeded_rng(params.seed, stream::TARGET_RIGHT), n, r);
        let mut rng = seeded_rng(params.seed, stream::MEASUREMENTS);
        let sigma: Vec<f64> = (0..r).map(|_| rng.random_range(0.5..=1.0)).collect();
        let target = Mat::from_fn(m, r, |i, j| u[(i, j)] * sigma[j]) * v.transpose();
        let ln_kappa = params.kappa_q.ln();
        let weights = Mat::from_fn(m, n, |_, _| (ln_kappa * rng.random::<f64>()).exp());
        let (mut mu, mut lipschitz) = (f64::INFINITY, 0.0f64);
        zip!(weights.as_ref()).for_each(|unzip!(q)| {
            mu = mu.min(*q);
            lipschitz = lipschitz.max(*q);
        });
        let target_norm = target.norm_l2();
        Ok(Self {
            shapes: [(m, n)],
            base: [Mat::zeros(m, n)],
            data: Arc::new(QuadraticData { params, weights, target, target_norm, mu, lipschitz }),
        })
    }

    /// Strong-convexity constant `μ = min q_ij`.
    pub fn mu(&self) -> f64 {
        self.data.mu
    }

    /// Smoothness constant `L = max q_ij`.
    pub fn lipschitz(&self) -> f64 {
        self.data.lipschitz
    }

    /// The minimiser W*.
    pub fn target(&self) -> MatRef<'_, f64> {
        self.data.target.as_ref()
    }

    /// The parameters of this instance.
    pub fn params(&self) -> &ConvexQuadraticParams {
        &self.data.params
    }
}

impl Objective for ConvexQuadratic {
    fn layer_shapes(&self) -> &[(usize, usize)] {
        &self.shapes
    }

    fn base_weights(&self) -> &[Mat<f64>] {
        &self.base
    }

    fn loss_and_gradient(&mut self, weights: &[Mat<f64>], gradients: &mut [Mat<f64>]) -> f64 {
        let d = &self.data;
        let mut loss = 0.0;
        zip!(gradients[0].as_mut(), weights[0].as_ref(), d.target.as_ref(), d.weights.as_ref()).for_each(
            |unzip!(g, w, t, q)| {
                let diff = *w - *t;
                *g = *q * diff;
                loss += *q * diff * diff;
            },
        );
        0.5 * loss
    }

    fn metrics(&mut self, weights: &[Mat<f64>]) -> Metrics {
        let d = &self.data;
        let mut loss = 0.0;
        zip!(weights[0].as_ref(), d.target.as_ref(), d.weights.as_ref()).for_each(|unzip!(w, t, q)| {
            loss += *q * (*w - *t) * (*w - *t);
        });
        let rel_error = (&weights[0] - &d.target).norm_l2() / d.target_norm;
        Metrics { loss: 0.5 * loss, rel_error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::gaussian_mat;

    fn instance() -> ConvexQuadratic {
        ConvexQuadratic::new(ConvexQuadraticParams { m: 7, n: 5, rank: 2, kappa_q: 10.0, seed: 3 }).unwrap()
    }

    #[test]
    fn constants_and_target() {
        let q = instance();
        assert!(q.mu() >= 1.0 && q.lipschitz() <= 10.0 && q.mu() < q.lipschitz());
        let s = q.target().singular_values().unwrap();
        assert!(s[0] <= 1.0 && s[1] >= 0.5 && s[2] < 1e-12, "{s:?}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let mut q = instance();
        let w = gaussian_mat(&mut seeded_rng(0, 0), 7, 5, 1.0);
        let mut g = [Mat::zeros(7, 5)];
        q.loss_and_gradient(std::slice::from_ref(&w), &mut g);
        let eps = 1e-6;
        for (i, j) in [(0, 0), (6, 4), (3, 2)] {
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp[(i, j)] += eps;
            wm[(i, j)] -= eps;
            let fd = (q.metrics(&[wp]).loss - q.metrics(&[wm]).loss) / (2.0 * eps);
            assert!((fd - g[0][(i, j)]).abs() < 1e-8 * (1.0 + fd.abs()), "({i},{j}): {fd} vs {}", g[0][(i, j)]);
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        let ok = ConvexQuadraticParams { m: 4, n: 3, rank: 2, kappa_q: 2.0, seed: 0 };
        for bad in [
            ConvexQuadraticParams { rank: 4, ..ok.clone() },
            ConvexQuadraticParams { rank: 0, ..ok.clone() },
            ConvexQuadraticParams { kappa_q: 0.5, ..ok.clone() },
            ConvexQuadraticParams { m: 0, ..ok.clone() },
        ] {
            assert!(ConvexQuadratic::new(bad).is_err());
        }
    }
}
