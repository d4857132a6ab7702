//! Baselines behind the same [`Method`] interface as ODELoRA, with the
//! update rules their authors published (SPEC §4).
//!
//! Every rule needs only the full-weight gradient `G = ∇_W L(W)` at the
//! adapted weight `W = W0 + s·B·A`, `s = α/r`: LoRA's factor gradients are
//! `g_B = s·G·Aᵀ` and `g_A = s·Bᵀ·G`.
//!
//! - [`Lora`] with [`LoraRule::Gd`] (LoRA-GD): `B ← B − η g_B`, `A ← A − η g_A`,
//!   both from the pre-step pair, one learning rate, standard LoRA init
//!   (`A ~ U(−1/√n, 1/√n)`, `B = 0`; Hu et al. 2021).
//!
//! Inits other than LoRA's (e.g. spectral, to compare update rules from the
//! same start) describe the product `X = s·B·A`; the factors are divided by
//! `√s` so that the adapted model starts at the same `W` whatever `α`.
//!
//! # Example
//!
//! ```
//! use odelora_baselines::{Lora, LoraParams};
//! use odelora_manifold::Method;
//! use odelora_problems::{MatrixSensing, MatrixSensingParams, Objective};
//!
//! let mut sensing = MatrixSensing::new(MatrixSensingParams::square(10, 2)).unwrap();
//! let mut method = Lora::new("lora-gd", LoraParams::gd(0.2, 2), &mut sensing, 0).unwrap();
//! let start = sensing.metrics(method.weights()).loss;
//! for _ in 0..50 {
//!     method.step(&mut sensing, None).unwrap();
//! }
//! assert!(sensing.metrics(method.weights()).loss < start);
//! assert_eq!(method.evals(), 50);
//! ```

use faer::{Mat, Par};
use odelora_integrators::State;
use odelora_manifold::{
    check_step_size, initial_layers, zeros_like, Init, LoraPair, ManifoldError, Method, MethodError, StepInfo,
};
use odelora_problems::Objective;

/// The update rule applied to the LoRA factor gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum LoraRule {
    /// Plain gradient descent on B and A with one learning rate.
    Gd,
}

/// Parameters of a LoRA-family run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoraParams {
    /// The update rule.
    pub rule: LoraRule,
    /// Learning rate η.
    pub lr: f64,
    /// LoRA rank r.
    pub rank: usize,
    /// LoRA α; the scale is `s = α / r`. Default `α = r` (s = 1).
    pub alpha: f64,
    /// Initialization; default [`Init::Lora`].
    pub init: Init,
}

impl LoraParams {
    /// LoRA-GD with learning rate `lr` at rank `rank`, LoRA init, α = r.
    pub fn gd(lr: f64, rank: usize) -> Self {
        Self { rule: LoraRule::Gd, lr, rank, alpha: rank as f64, init: Init::Lora }
    }

    /// The LoRA scale `s = α / r`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

/// A LoRA-family baseline: factors `(B, A)` of every layer updated from
/// their gradients `g_B = s·G·Aᵀ`, `g_A = s·Bᵀ·G`.
pub struct Lora {
    name: String,
    params: LoraParams,
    layers: Vec<LoraPair>,
    base: Vec<Mat<f64>>,
    weights: Vec<Mat<f64>>,
    gradients: Vec<Mat<f64>>,
    factor_gradients: Vec<LoraPair>,
    evals: u64,
}

impl Lora {
    /// Initialize from `objective` with randomness from `seed`.
    pub fn new(
        name: impl Into<String>,
        params: LoraParams,
        objective: &mut dyn Objective,
        seed: u64,
    ) -> Result<Self, ManifoldError> {
        check_step_size(params.lr)?;
        if !(params.alpha.is_finite() && params.alpha > 0.0) {
            return Err(ManifoldError::InvalidParameter(format!("LoRA α must be positive, got {}", params.alpha)));
        }
        let (mut layers, evals) = initial_layers(params.init, objective, params.rank, seed)?;
        if params.init != Init::Lora {
            // The init describes X = s·B·A: split the scale evenly.
            let f = faer::Scale(1.0 / params.scale().sqrt());
            for pair in &mut layers {
                pair.b *= f;
                pair.a *= f;
            }
        }
        let base = objective.base_weights().to_vec();
        let zeros = zeros_like(&base);
        let factor_gradients = layers.iter().map(|p| LoraPair::zeros(p.out_dim(), p.in_dim(), p.rank())).collect();
        let mut method = Self {
            name: name.into(),
            params,
            layers,
            base,
            weights: zeros.clone(),
            gradients: zeros,
            factor_gradients,
            evals,
        };
        method.refresh_weights();
        Ok(method)
    }

    fn refresh_weights(&mut self) {
        let s = self.params.scale();
        for ((w, base), pair) in self.weights.iter_mut().zip(&self.base).zip(&self.layers) {
            pair.write_adapted(w, base.as_ref(), s, Par::Seq);
        }
    }
}

impl Method for Lora {
    fn name(&self) -> &str {
        &self.name
    }

    fn step(&mut self, objective: &mut dyn Objective, max_evals: Option<u64>) -> Result<StepInfo, MethodError> {
        if max_evals == Some(0) {
            return Err(MethodError::BudgetExhausted);
        }
        objective.loss_and_gradient(&self.weights, &mut self.gradients);
        self.evals += 1;
        let s = self.params.scale();
        for ((pair, g), grad) in self.layers.iter_mut().zip(&self.gradients).zip(&mut self.factor_gradients) {
            // g_B = s·G·Aᵀ, g_A = s·Bᵀ·G, both from the pre-step pair.
            faer::linalg::matmul::matmul(
                grad.b.as_mut(),
                faer::Accum::Replace,
                g.as_ref(),
                pair.a.transpose(),
                s,
                Par::Seq,
            );
            faer::linalg::matmul::matmul(
                grad.a.as_mut(),
                faer::Accum::Replace,
                pair.b.transpose(),
                g.as_ref(),
                s,
                Par::Seq,
            );
            match self.params.rule {
                LoraRule::Gd => pair.axpy(-self.params.lr, grad),
            }
            if !(pair.b.is_all_finite() && pair.a.is_all_finite()) {
                return Err(MethodError::NonFinite);
            }
        }
        self.refresh_weights();
        Ok(StepInfo { h: self.params.lr })
    }

    fn weights(&self) -> &[Mat<f64>] {
        &self.weights
    }

    fn evals(&self) -> u64 {
        self.evals
    }

    fn factors(&self) -> Option<&[LoraPair]> {
        Some(&self.layers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use odelora_problems::{MatrixSensing, MatrixSensingParams};

    /// One LoRA-GD step by hand on a 2×3 problem with r = 1.
    #[test]
    fn one_gd_step_by_hand() {
        let params = MatrixSensingParams {
            n1: 2,
            n2: 3,
            true_rank: 1,
            measurements: Some(12),
            ..MatrixSensingParams::square(2, 1)
        };
        let mut sensing = MatrixSensing::new(params).unwrap();
        let lora = LoraParams { alpha: 2.0, ..LoraParams::gd(0.1, 1) };
        let mut method = Lora::new("lora-gd", lora, &mut sensing, 4).unwrap();
        // Move off B = 0 first so both factor updates are non-trivial.
        method.step(&mut sensing, None).unwrap();
        let before = method.layers[0].clone();
        let w = method.weights()[0].clone();
        let mut g = [Mat::zeros(2, 3)];
        sensing.loss_and_gradient(std::slice::from_ref(&w), &mut g);
        let s = 2.0;
        let want_b = &before.b - (&g[0] * before.a.transpose()) * faer::Scale(0.1 * s);
        let want_a = &before.a - (before.b.transpose() * &g[0]) * faer::Scale(0.1 * s);
        assert!((w - (&before.b * &before.a) * faer::Scale(s)).norm_l2() < 1e-15);
        method.step(&mut sensing, None).unwrap();
        assert!((&method.layers[0].b - want_b).norm_l2() < 1e-12);
        assert!((&method.layers[0].a - want_a).norm_l2() < 1e-12);
        assert_eq!(method.evals(), 2);
    }

    #[test]
    fn lora_init_starts_at_the_base_weights() {
        let mut sensing = MatrixSensing::new(MatrixSensingParams::square(5, 1)).unwrap();
        let method = Lora::new("lora-gd", LoraParams::gd(0.1, 2), &mut sensing, 0).unwrap();
        assert_eq!(method.weights()[0], Mat::zeros(5, 5));
        assert_eq!(method.balance_gap(), Some(1.0));
    }

    #[test]
    fn bad_learning_rate_is_an_error() {
        let mut sensing = MatrixSensing::new(MatrixSensingParams::square(5, 1)).unwrap();
        for lr in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Lora::new("lora-gd", LoraParams::gd(lr, 1), &mut sensing, 0).is_err());
        }
    }
}
