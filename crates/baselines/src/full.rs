//! Full fine-tuning: gradient descent or AdamW on the weights themselves —
//! the flow ODELoRA emulates, as a reference.

use faer::Mat;
use odelora_manifold::{check_step_size, zeros_like, LoraPair, ManifoldError, Method, MethodError, StepInfo};
use odelora_problems::Objective;

use crate::optimizer::{evaluate_gradient, Optimizer, OptimizerState};

/// Parameters of full fine-tuning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FullParams {
    /// Gradient descent or AdamW.
    pub optimizer: Optimizer,
    /// Learning rate η.
    pub lr: f64,
}

/// Full fine-tuning of every adapted matrix, starting from `W0`.
pub struct FullFineTuning {
    name: String,
    params: FullParams,
    weights: Vec<Mat<f64>>,
    gradients: Vec<Mat<f64>>,
    optimizer: OptimizerState,
    evals: u64,
}

impl FullFineTuning {
    /// Start from the objective's pretrained weights `W0`.
    pub fn new(name: impl Into<String>, params: FullParams, objective: &dyn Objective) -> Result<Self, ManifoldError> {
        Self::from_weights(name, params, objective.base_weights().to_vec())
    }

    /// Start from the given weights (e.g. another method's starting point).
    pub fn from_weights(
        name: impl Into<String>,
        params: FullParams,
        weights: Vec<Mat<f64>>,
    ) -> Result<Self, ManifoldError> {
        check_step_size(params.lr)?;
        params.optimizer.validate()?;
        let shapes: Vec<(usize, usize)> = weights.iter().map(|w| w.shape()).collect();
        Ok(Self {
            name: name.into(),
            optimizer: OptimizerState::new(params.optimizer, &shapes),
            params,
            gradients: zeros_like(&weights),
            weights,
            evals: 0,
        })
    }
}

impl Method for FullFineTuning {
    fn name(&self) -> &str {
        &self.name
    }

    fn step(&mut self, objective: &mut dyn Objective, max_evals: Option<u64>) -> Result<StepInfo, MethodError> {
        evaluate_gradient(objective, &self.weights, &mut self.gradients, &mut self.evals, max_evals)?;
        self.optimizer.begin_step();
        for (slot, (w, g)) in self.weights.iter_mut().zip(&self.gradients).enumerate() {
            self.optimizer.apply(slot, w, g, self.params.lr);
            if !w.is_all_finite() {
                return Err(MethodError::NonFinite);
            }
        }
        Ok(StepInfo { h: self.params.lr })
    }

    fn weights(&self) -> &[Mat<f64>] {
        &self.weights
    }

    fn evals(&self) -> u64 {
        self.evals
    }

    fn factors(&self) -> Option<&[LoraPair]> {
        None
    }
}
