//! The width-scaling toy of SPEC §5.3 (feature learning): a linear model
//! `f(x) = (W0 + s·B·A) x` on a small batch, at widths n = 2^7 … 2^12.

use std::sync::Arc;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use crate::random::{gaussian_mat, haar_orthonormal, seeded_rng, stream};
use crate::{Metrics, Objective, ProblemError};

/// Parameters of a width-toy instance.
#[derive(Debug, Clone, PartialEq)]
pub struct WidthToyParams {
    /// Width n (the weights are n × n).
    pub width: usize,
    /// Rank r* of the target map (SPEC: 2).
    pub rank: usize,
    /// Batch size N (SPEC: 4).
    pub batch: usize,
    /// Seed of the instance (inputs and target).
    pub seed: u64,
}

impl WidthToyParams {
    /// The SPEC's toy at width `n`: rank 2, batch 4.
    pub fn new(width: usize, seed: u64) -> Self {
        Self { width, rank: 2, batch: 4, seed }
    }
}

#[derive(Debug)]
struct ToyData {
    params: WidthToyParams,
    inputs: Mat<f64>,
    targets: Mat<f64>,
    target_map: Mat<f64>,
    target_norm: f64,
}

/// `L(W) = ½ mean_k ‖W x_k − y_k‖² = ‖W X − Y‖_F² / (2N)` with inputs
/// `x_k ~ N(0, I_n)` (so `‖x‖² ≈ n`), targets `y_k = X* x_k`, `X*` of rank
/// r* with Haar singular vectors and singular values `linspace(1, 0.5, r*)`,
/// `W0 = 0`. Gradient `G = (W X − Y) Xᵀ / N`.
#[derive(Debug, Clone)]
pub struct WidthToy {
    data: Arc<ToyData>,
    shapes: [(usize, usize); 1],
    base: [Mat<f64>; 1],
    residual: Mat<f64>,
}

impl WidthToy {
    /// Draw an instance.
    pub fn new(params: WidthToyParams) -> Result<Self, ProblemError> {
        let (n, r, batch) = (params.width, params.rank, params.batch);
        if n == 0 || batch == 0 {
            return Err(ProblemError::InvalidParameter(format!("width and batch must be positive, got {n}, {batch}")));
        }
        if r == 0 || r > n {
            return Err(ProblemError::InvalidParameter(format!("target rank {r} must lie in 1..=width = {n}")));
        }
        let u = haar_orthonormal(&mut seeded_rng(params.seed, stream::TARGET_LEFT), n, r);
        let v = haar_orthonormal(&mut seeded_rng(params.seed, stream::TARGET_RIGHT), n, r);
        let sigma: Vec<f64> =
            (0..r).map(|i| if r == 1 { 1.0 } else { 1.0 - 0.5 * i as f64 / (r - 1) as f64 }).collect();
        let target_map = Mat::from_fn(n, r, |i, j| u[(i, j)] * sigma[j]) * v.transpose();
        let inputs = gaussian_mat(&mut seeded_rng(params.seed, stream::MEASUREMENTS), n, batch, 1.0);
        let targets = &target_map * &inputs;
        let target_norm = target_map.norm_l2();
        Ok(Self {
            shapes: [(n, n)],
            base: [Mat::zeros(n, n)],
            residual: Mat::zeros(n, batch),
            data: Arc::new(ToyData { params, inputs, targets, target_map, target_norm }),
        })
    }

    /// The batch inputs `X` (n × N), one column per example.
    pub fn inputs(&self) -> MatRef<'_, f64> {
        self.data.inputs.as_ref()
    }

    /// The parameters of this instance.
    pub fn params(&self) -> &WidthToyParams {
        &self.data.params
    }

    /// RMS over the batch of `‖M x_k‖`, e.g. the feature change
    /// `df = rms ‖(W_T − W_0) x‖` or `dz_a = rms ‖(A_T − A_0) x‖`.
    pub fn rms_feature_norm(&self, map: MatRef<'_, f64>) -> f64 {
        let z = map * &self.data.inputs;
        (z.squared_norm_l2() / self.data.params.batch as f64).sqrt()
    }

    /// `R = W X − Y` into the residual workspace; returns the loss.
    fn residual_at(&mut self, w: &Mat<f64>) -> f64 {
        let d = &self.data;
        faer::zip!(self.residual.as_mut(), d.targets.as_ref()).for_each(|faer::unzip!(r, y)| *r = -*y);
        matmul(self.residual.as_mut(), Accum::Add, w.as_ref(), d.inputs.as_ref(), 1.0, Par::Seq);
        self.residual.squared_norm_l2() / (2.0 * d.params.batch as f64)
    }
}

impl Objective for WidthToy {
    fn layer_shapes(&self) -> &[(usize, usize)] {
        &self.shapes
    }

    fn base_weights(&self) -> &[Mat<f64>] {
        &self.base
    }

    fn loss_and_gradient(&mut self, weights: &[Mat<f64>], gradients: &mut [Mat<f64>]) -> f64 {
        let loss = self.residual_at(&weights[0]);
        let scale = 1.0 / self.data.params.batch as f64;
        matmul(
            gradients[0].as_mut(),
            Accum::Replace,
            self.residual.as_ref(),
            self.data.inputs.transpose(),
            scale,
            Par::Seq,
        );
        loss
    }

    fn metrics(&mut self, weights: &[Mat<f64>]) -> Metrics {
        let loss = self.residual_at(&weights[0]);
        let rel_error = (&weights[0] - &self.data.target_map).norm_l2() / self.data.target_norm;
        Metrics { loss, rel_error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let mut toy = WidthToy::new(WidthToyParams::new(6, 1)).unwrap();
        let w = gaussian_mat(&mut seeded_rng(4, 0), 6, 6, 0.3);
        let mut g = [Mat::zeros(6, 6)];
        toy.loss_and_gradient(std::slice::from_ref(&w), &mut g);
        let eps = 1e-6;
        for (i, j) in [(0, 0), (5, 2), (3, 5)] {
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp[(i, j)] += eps;
            wm[(i, j)] -= eps;
            let fd = (toy.metrics(&[wp]).loss - toy.metrics(&[wm]).loss) / (2.0 * eps);
            assert!((fd - g[0][(i, j)]).abs() < 1e-8 * (1.0 + fd.abs()), "({i},{j}): {fd} vs {}", g[0][(i, j)]);
        }
    }

    #[test]
    fn target_map_fits_the_targets_and_inputs_have_norm_near_width() {
        let mut toy = WidthToy::new(WidthToyParams::new(512, 2)).unwrap();
        let target = toy.data.target_map.clone();
        assert!(toy.metrics(&[target]).loss < 1e-24);
        let rms_input = toy.rms_feature_norm(Mat::<f64>::identity(512, 512).as_ref());
        assert!((rms_input / 512f64.sqrt() - 1.0).abs() < 0.1, "rms ‖x‖ = {rms_input}");
    }
}
