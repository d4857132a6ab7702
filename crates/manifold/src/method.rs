//! The interface every training method implements — ODELoRA with each
//! integrator, and every baseline — so experiments treat them uniformly and
//! count their cost the same way.

use faer::Mat;
use odelora_problems::Objective;

use crate::{LoraPair, ManifoldError};

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    /// The step size (learning rate) of the step.
    pub h: f64,
}

/// Why no step was taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MethodError {
    /// The iterate or the update became non-finite: the run diverged.
    #[error("the iterate became non-finite")]
    NonFinite,
    /// The next step would exceed the gradient-evaluation budget.
    #[error("the gradient-evaluation budget is used up")]
    BudgetExhausted,
    /// An integrator with an end time has reached it.
    #[error("the end time of the integration was reached")]
    EndTimeReached,
    /// An adaptive integrator's step size fell below its minimum.
    #[error("the adaptive step size fell below its minimum")]
    StepTooSmall,
    /// A manifold operation failed (e.g. rebalancing).
    #[error(transparent)]
    Manifold(#[from] ManifoldError),
}

/// A training method: built from an objective and a seed, it takes steps
/// and reports the adapted weights and the gradient evaluations it used.
pub trait Method: Send {
    /// The method's name as the command line spells it (e.g. `odelora-rk4`).
    fn name(&self) -> &str;
    /// Take one step (one accepted step for adaptive integrators) using at
    /// most `max_evals` gradient evaluations (`None`: no limit). When no
    /// step is taken the method's state is unchanged.
    fn step(&mut self, objective: &mut dyn Objective, max_evals: Option<u64>) -> Result<StepInfo, MethodError>;
    /// The adapted weights `W = W0 + s·B·A` of each layer after the last step.
    fn weights(&self) -> &[Mat<f64>];
    /// Gradient evaluations used so far, including any the initialization
    /// needed (the spectral init evaluates `∇L(W0)` once).
    fn evals(&self) -> u64;
    /// The LoRA factors of each layer, or `None` for full fine-tuning.
    fn factors(&self) -> Option<&[LoraPair]>;
    /// Largest balance gap over layers (SPEC §2), `None` without factors.
    fn balance_gap(&self) -> Option<f64> {
        self.factors().map(|layers| layers.iter().map(LoraPair::balance_gap).fold(0.0, f64::max))
    }
}

/// Validate a step size (learning rate): positive and finite.
pub fn check_step_size(h: f64) -> Result<f64, ManifoldError> {
    if h.is_finite() && h > 0.0 {
        Ok(h)
    } else {
        Err(ManifoldError::InvalidParameter(format!("step size must be positive and finite, got {h}")))
    }
}
