//! Matrix sensing (SPEC §5.1): recover a low-rank `X*` from random linear
//! measurements `y_k = ⟨A_k, X*⟩ (+ noise)`.

use std::sync::Arc;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand_distr::{Distribution, StandardNormal};

use crate::random::{gaussian_mat, haar_orthonormal, seeded_rng, stream};
use crate::{Metrics, Objective, ProblemError};

/// Parameters of a matrix-sensing instance.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSensingParams {
    /// Rows of `X*`.
    pub n1: usize,
    /// Columns of `X*`.
    pub n2: usize,
    /// Rank `r*` of `X*`.
    pub true_rank: usize,
    /// Condition number: singular values `linspace(1, 1/κ, r*)`.
    pub kappa: f64,
    /// Number of measurements `m`; `None` means the default `5·max(n1, n2)·r*`.
    pub measurements: Option<usize>,
    /// Standard deviation of the measurement noise, in the units of `y`.
    pub noise: f64,
    /// Seed of the instance (target, measurements, noise).
    pub seed: u64,
}

impl MatrixSensingParams {
    /// A square `n × n` instance of rank `true_rank` with the other
    /// parameters at their defaults (κ = 10, `m = 5·n·r*`, no noise, seed 0).
    pub fn square(n: usize, true_rank: usize) -> Self {
        Self { n1: n, n2: n, true_rank, kappa: 10.0, measurements: None, noise: 0.0, seed: 0 }
    }

    /// The number of measurements this instance uses.
    pub fn measurement_count(&self) -> usize {
        self.measurements.unwrap_or(5 * self.n1.max(self.n2) * self.true_rank)
    }

    fn validate(&self) -> Result<(), ProblemError> {
        if self.n1 == 0 || self.n2 == 0 {
            return Err(ProblemError::InvalidParameter(format!(
                "matrix size must be positive, got {} × {}",
                self.n1, self.n2
            )));
        }
        if self.true_rank == 0 || self.true_rank > self.n1.min(self.n2) {
            return Err(ProblemError::InvalidParameter(format!(
                "true rank {} must lie in 1..=min(n1, n2) = {}",
                self.true_rank,
                self.n1.min(self.n2)
            )));
        }
        if !(self.kappa.is_finite() && self.kappa >= 1.0) {
            return Err(ProblemError::InvalidParameter(format!(
                "condition number κ must be finite and ≥ 1, got {}",
                self.kappa
            )));
        }
        if self.measurement_count() == 0 {
            return Err(ProblemError::InvalidParameter("at least one measurement is needed".into()));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(ProblemError::InvalidParameter(format!(
                "noise level must be finite and ≥ 0, got {}",
                self.noise
            )));
        }
        Ok(())
    }
}

/// The immutable part of an instance, shared between clones.
#[derive(Debug)]
struct SensingData {
    params: MatrixSensingParams,
    /// Row `k` is `vec(A_k)` (column-major vectorisation), entries `N(0, 1/m)`.
    operator: Mat<f64>,
    observations: Mat<f64>,
    target: Mat<f64>,
    target_norm: f64,
}

/// A matrix-sensing objective `L(X) = ½ Σ_k (⟨A_k, X⟩ − y_k)²` with one
/// adapted `n1 × n2` matrix and zero base weights.
///
/// The measurements are stored as one dense `m × (n1·n2)` matrix, so the
/// gradient `Σ_k r_k A_k` is two streaming matrix–vector products (residual,
/// then transposed product) that run near memory bandwidth.
#[derive(Debug, Clone)]
pub struct MatrixSensing {
    data: Arc<SensingData>,
    shapes: [(usize, usize); 1],
    base: [Mat<f64>; 1],
    /// Workspaces: vec(W), the residual, vec(G).
    vec_w: Mat<f64>,
    residual: Mat<f64>,
    vec_g: Mat<f64>,
    /// Whether `residual` (and its loss) belongs to the weights in `vec_w`:
    /// recording metrics after a step and the next step's gradient then
    /// share one pass over the measurements instead of two.
    residual_valid: bool,
    residual_loss: f64,
    par: Par,
}

impl MatrixSensing {
    /// Draw an instance: `X* = U diag(σ) Vᵀ` with independent Haar `U`, `V`,
    /// `σ = linspace(1, 1/κ, r*)`, Gaussian measurements, optional noise.
    pub fn new(params: MatrixSensingParams) -> Result<Self, ProblemError> {
        params.validate()?;
        let (n1, n2, rs) = (params.n1, params.n2, params.true_rank);
        let m = params.measurement_count();
        let u = haar_orthonormal(&mut seeded_rng(params.seed, stream::TARGET_LEFT), n1, rs);
        let v = haar_orthonormal(&mut seeded_rng(params.seed, stream::TARGET_RIGHT), n2, rs);
        let sigma = linspace(1.0, 1.0 / params.kappa, rs);
        let mut us = u.clone();
        for (j, s) in sigma.iter().enumerate() {
            us.col_mut(j).iter_mut().for_each(|x| *x *= s);
        }
        let target = &us * v.transpose();
        let operator =
            gaussian_mat(&mut seeded_rng(params.seed, stream::MEASUREMENTS), m, n1 * n2, 1.0 / (m as f64).sqrt());
        let mut observations = Mat::zeros(m, 1);
        let vec_target = vectorize(target.as_ref());
        matmul(observations.as_mut(), Accum::Replace, operator.as_ref(), vec_target.as_ref(), 1.0, Par::Seq);
        if params.noise > 0.0 {
            let mut rng = seeded_rng(params.seed, stream::NOISE);
            for k in 0..m {
                let z: f64 = StandardNormal.sample(&mut rng);
                observations[(k, 0)] += params.noise * z;
            }
        }
        let target_norm = target.norm_l2();
        Ok(Self {
            shapes: [(n1, n2)],
            base: [Mat::zeros(n1, n2)],
            vec_w: Mat::zeros(n1 * n2, 1),
            residual: Mat::zeros(m, 1),
            vec_g: Mat::zeros(n1 * n2, 1),
            residual_valid: false,
            residual_loss: 0.0,
            par: Par::Seq,
            data: Arc::new(SensingData { params, operator, observations, target, target_norm }),
        })
    }

    /// Use `par` for the measurement products (default sequential: runs are
    /// parallelised at the outer level, over seeds and settings).
    pub fn with_parallelism(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// The parameters this instance was drawn from.
    pub fn params(&self) -> &MatrixSensingParams {
        &self.data.params
    }

    /// The ground truth `X*`.
    pub fn target(&self) -> MatRef<'_, f64> {
        self.data.target.as_ref()
    }

    /// `r = A(W) − y` into the residual workspace; returns `½‖r‖²`. Reuses
    /// the residual when `w` equals the weights it was computed at.
    fn residual_at(&mut self, w: &Mat<f64>) -> f64 {
        assert_eq!((w.nrows(), w.ncols()), self.shapes[0], "weight shape mismatch");
        let n1 = w.nrows();
        let mut same = self.residual_valid;
        for j in 0..w.ncols() {
            for i in 0..n1 {
                let slot = &mut self.vec_w[(i + j * n1, 0)];
                // Bitwise comparison: reuse only for exactly the same point.
                same &= slot.to_bits() == w[(i, j)].to_bits();
                *slot = w[(i, j)];
            }
        }
        if same {
            return self.residual_loss;
        }
        for k in 0..self.residual.nrows() {
            self.residual[(k, 0)] = -self.data.observations[(k, 0)];
        }
        matmul(self.residual.as_mut(), Accum::Add, self.data.operator.as_ref(), self.vec_w.as_ref(), 1.0, self.par);
        self.residual_loss = 0.5 * self.residual.squared_norm_l2();
        self.residual_valid = true;
        self.residual_loss
    }
}

impl Objective for MatrixSensing {
    fn layer_shapes(&self) -> &[(usize, usize)] {
        &self.shapes
    }

    fn base_weights(&self) -> &[Mat<f64>] {
        &self.base
    }

    fn loss_and_gradient(&mut self, weights: &[Mat<f64>], gradients: &mut [Mat<f64>]) -> f64 {
        let loss = self.residual_at(&weights[0]);
        matmul(
            self.vec_g.as_mut(),
            Accum::Replace,
            self.data.operator.transpose(),
            self.residual.as_ref(),
            1.0,
            self.par,
        );
        let g = &mut gradients[0];
        let n1 = g.nrows();
        for j in 0..g.ncols() {
            for i in 0..n1 {
                g[(i, j)] = self.vec_g[(i + j * n1, 0)];
            }
        }
        loss
    }

    fn metrics(&mut self, weights: &[Mat<f64>]) -> Metrics {
        let loss = self.residual_at(&weights[0]);
        let rel_error = (&weights[0] - &self.data.target).norm_l2() / self.data.target_norm;
        Metrics { loss, rel_error }
    }
}

/// `k` evenly spaced values from `start` to `end` inclusive (`[start]` for k = 1).
fn linspace(start: f64, end: f64, k: usize) -> Vec<f64> {
    if k == 1 {
        return vec![start];
    }
    (0..k).map(|i| start + (end - start) * i as f64 / (k - 1) as f64).collect()
}

/// Column-major vectorisation as an `(m·n) × 1` matrix.
fn vectorize(x: MatRef<'_, f64>) -> Mat<f64> {
    let m = x.nrows();
    Mat::from_fn(m * x.ncols(), 1, |k, _| x[(k % m, k / m)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> MatrixSensing {
        let mut p = MatrixSensingParams::square(6, 2);
        p.n2 = 5;
        p.seed = 3;
        MatrixSensing::new(p).unwrap()
    }

    #[test]
    fn target_has_the_requested_spectrum() {
        let p = MatrixSensingParams { kappa: 4.0, ..MatrixSensingParams::square(8, 3) };
        let sensing = MatrixSensing::new(p).unwrap();
        let s = sensing.target().singular_values().unwrap();
        for (got, want) in s.iter().zip([1.0, 0.625, 0.25]) {
            assert!((got - want).abs() < 1e-12, "{s:?}");
        }
        assert!(s[3] < 1e-12);
    }

    #[test]
    fn loss_is_zero_at_the_target_without_noise() {
        let mut sensing = small();
        let target = sensing.target().to_owned();
        let m = sensing.metrics(&[target]);
        assert!(m.loss < 1e-28 && m.rel_error == 0.0, "{m:?}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let mut sensing = small();
        let w = gaussian_mat(&mut seeded_rng(1, 0), 6, 5, 1.0);
        let mut g = [Mat::zeros(6, 5)];
        sensing.loss_and_gradient(std::slice::from_ref(&w), &mut g);
        let eps = 1e-6;
        for (i, j) in [(0, 0), (5, 4), (2, 3)] {
            let mut wp = w.clone();
            wp[(i, j)] += eps;
            let mut wm = w.clone();
            wm[(i, j)] -= eps;
            let fd = (sensing.metrics(&[wp]).loss - sensing.metrics(&[wm]).loss) / (2.0 * eps);
            assert!((fd - g[0][(i, j)]).abs() < 1e-7 * (1.0 + fd.abs()), "({i},{j}): fd {fd} vs {}", g[0][(i, j)]);
        }
    }

    #[test]
    fn reused_residual_gives_the_same_numbers() {
        let mut sensing = small();
        let w = gaussian_mat(&mut seeded_rng(2, 0), 6, 5, 1.0);
        let mut fresh = sensing.clone();
        fresh.residual_valid = false;
        let m1 = sensing.metrics(std::slice::from_ref(&w));
        let mut g1 = [Mat::zeros(6, 5)];
        let mut g2 = [Mat::zeros(6, 5)];
        let l1 = sensing.loss_and_gradient(std::slice::from_ref(&w), &mut g1);
        let l2 = fresh.loss_and_gradient(std::slice::from_ref(&w), &mut g2);
        assert_eq!((m1.loss, l1), (l2, l2));
        assert_eq!(g1[0], g2[0]);
        // A different point is recomputed.
        let mut w2 = w.clone();
        w2[(0, 0)] += 1.0;
        assert_ne!(sensing.metrics(&[w2]).loss, l1);
    }

    #[test]
    fn bad_parameters_are_errors() {
        let bad = [
            MatrixSensingParams { true_rank: 7, ..MatrixSensingParams::square(6, 2) },
            MatrixSensingParams { kappa: 0.5, ..MatrixSensingParams::square(6, 2) },
            MatrixSensingParams { kappa: f64::NAN, ..MatrixSensingParams::square(6, 2) },
            MatrixSensingParams { measurements: Some(0), ..MatrixSensingParams::square(6, 2) },
            MatrixSensingParams { noise: -1.0, ..MatrixSensingParams::square(6, 2) },
        ];
        for p in bad {
            assert!(MatrixSensing::new(p.clone()).is_err(), "{p:?}");
        }
    }
}
