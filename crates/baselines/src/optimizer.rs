//! The per-parameter update rules the baselines share: gradient descent and
//! AdamW (Loshchilov & Hutter 2019; Kingma & Ba 2015 moments with bias
//! correction).

use faer::{unzip, zip, Mat};

use odelora_manifold::{ManifoldError, MethodError};
use odelora_problems::Objective;

/// The gradient evaluation that starts every step of a one-gradient-per-step
/// method: refuse if the budget has no evaluation left, else evaluate at
/// `weights` into `gradients` and count it.
pub(crate) fn evaluate_gradient(
    objective: &mut dyn Objective,
    weights: &[Mat<f64>],
    gradients: &mut [Mat<f64>],
    evals: &mut u64,
    max_evals: Option<u64>,
) -> Result<(), MethodError> {
    if max_evals == Some(0) {
        return Err(MethodError::BudgetExhausted);
    }
    objective.loss_and_gradient(weights, gradients);
    *evals += 1;
    Ok(())
}

/// AdamW hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamParams {
    /// First-moment decay β₁ (default 0.9).
    pub beta1: f64,
    /// Second-moment decay β₂ (default 0.999).
    pub beta2: f64,
    /// ε added to `√v̂` (default 1e-8).
    pub eps: f64,
    /// Decoupled weight decay λ_wd (default 0): `p ← p − η λ_wd p`.
    pub weight_decay: f64,
}

impl Default for AdamParams {
    fn default() -> Self {
        Self { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

impl AdamParams {
    fn validate(&self) -> Result<(), ManifoldError> {
        let unit = |b: f64| (0.0..1.0).contains(&b);
        if !(unit(self.beta1) && unit(self.beta2)) {
            return Err(ManifoldError::InvalidParameter(format!(
                "Adam β must lie in [0, 1), got β₁ = {}, β₂ = {}",
                self.beta1, self.beta2
            )));
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(ManifoldError::InvalidParameter(format!("Adam ε must be positive, got {}", self.eps)));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(ManifoldError::InvalidParameter(format!(
                "weight decay must be ≥ 0, got {}",
                self.weight_decay
            )));
        }
        Ok(())
    }
}

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// `p ← p − η g`.
    Gd,
    /// AdamW.
    Adam(AdamParams),
}

impl Optimizer {
    /// Check the hyper-parameters.
    pub fn validate(&self) -> Result<(), ManifoldError> {
        match self {
            Optimizer::Gd => Ok(()),
            Optimizer::Adam(p) => p.validate(),
        }
    }
}

/// The optimizer's state for a list of parameter matrices (slots).
#[derive(Debug, Clone)]
pub(crate) struct OptimizerState {
    rule: Optimizer,
    first: Vec<Mat<f64>>,
    second: Vec<Mat<f64>>,
    steps: i32,
}

impl OptimizerState {
    /// State for parameters shaped like `shapes`.
    pub(crate) fn new(rule: Optimizer, shapes: &[(usize, usize)]) -> Self {
        let zeros = || shapes.iter().map(|&(m, n)| Mat::zeros(m, n)).collect::<Vec<_>>();
        let (first, second) = match rule {
            Optimizer::Gd => (Vec::new(), Vec::new()),
            Optimizer::Adam(_) => (zeros(), zeros()),
        };
        Self { rule, first, second, steps: 0 }
    }

    /// Count a step (Adam's bias correction uses the step number).
    pub(crate) fn begin_step(&mut self) {
        self.steps = self.steps.saturating_add(1);
    }

    /// Update parameter `slot` from its (preconditioned) gradient.
    pub(crate) fn apply(&mut self, slot: usize, param: &mut Mat<f64>, grad: &Mat<f64>, lr: f64) {
        match self.rule {
            Optimizer::Gd => zip!(param.as_mut(), grad.as_ref()).for_each(|unzip!(p, g)| *p -= lr * *g),
            Optimizer::Adam(a) => {
                let c1 = 1.0 - a.beta1.powi(self.steps);
                let c2 = 1.0 - a.beta2.powi(self.steps);
                let (m, v) = (&mut self.first[slot], &mut self.second[slot]);
                zip!(param.as_mut(), grad.as_ref(), m.as_mut(), v.as_mut()).for_each(|unzip!(p, g, m, v)| {
                    *m = a.beta1 * *m + (1.0 - a.beta1) * *g;
                    *v = a.beta2 * *v + (1.0 - a.beta2) * *g * *g;
                    let update = (*m / c1) / ((*v / c2).sqrt() + a.eps);
                    *p -= lr * (update + a.weight_decay * *p);
                });
            }
        }
    }
}
