//! The LoRA family: LoRA, LoRA+ and Riemannian preconditioned LoRA, each
//! with gradient descent or AdamW, as one parameterised update rule.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use odelora_manifold::{
    check_step_size, initial_layers, preserve_base, zeros_like, Init, LoraPair, ManifoldError, Method, MethodError,
    StepInfo, SymmetricEigen,
};
use odelora_problems::Objective;

use crate::optimizer::{evaluate_gradient, Optimizer, OptimizerState};

/// Preconditioning of the factor gradients before the optimizer sees them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Preconditioner {
    /// Plain factor gradients (LoRA, LoRA+).
    None,
    /// Riemannian preconditioning (Zhang & Pilanci 2024):
    /// `g_A ← (BᵀB + λI)⁻¹ g_A`, `g_B ← g_B (AAᵀ + λI)⁻¹`, both from the
    /// pre-step pair. With `λ = 0` the pseudo-inverse is used, so a zero
    /// factor (LoRA's `B = 0`) gets a zero preconditioner instead of NaN; its
    /// partner's gradient `g_A = s·BᵀG` is zero there anyway.
    Riemannian {
        /// The damping λ ≥ 0 (default 1e-6).
        damping: f64,
    },
}

/// Parameters of a LoRA-family run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoraParams {
    /// Gradient descent or AdamW.
    pub optimizer: Optimizer,
    /// Learning rate η of A (and of B unless `lr_ratio ≠ 1`).
    pub lr: f64,
    /// LoRA+ ratio λ: `η_B = λ · η_A` (1 for LoRA).
    pub lr_ratio: f64,
    /// Gradient preconditioning.
    pub preconditioner: Preconditioner,
    /// LoRA rank r.
    pub rank: usize,
    /// LoRA α; the scale is `s = α / r`. Default `α = r` (s = 1).
    pub alpha: f64,
    /// Initialization; default [`Init::Lora`].
    pub init: Init,
    /// Shift `W0` by `−s·B0·A0` so the adapted model starts equal to the
    /// pretrained one (fine-tuning from a non-zero init; a no-op for LoRA's
    /// `B = 0`).
    pub preserve_base: bool,
}

impl LoraParams {
    /// LoRA-GD: learning rate `lr`, rank `rank`, LoRA init, α = r.
    pub fn gd(lr: f64, rank: usize) -> Self {
        Self {
            optimizer: Optimizer::Gd,
            lr,
            lr_ratio: 1.0,
            preconditioner: Preconditioner::None,
            rank,
            alpha: rank as f64,
            init: Init::Lora,
            preserve_base: false,
        }
    }

    /// The LoRA scale `s = α / r`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    fn validate(&self) -> Result<(), ManifoldError> {
        check_step_size(self.lr)?;
        self.optimizer.validate()?;
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(ManifoldError::InvalidParameter(format!("LoRA α must be positive, got {}", self.alpha)));
        }
        if !(self.lr_ratio.is_finite() && self.lr_ratio > 0.0) {
            return Err(ManifoldError::InvalidParameter(format!(
                "the LoRA+ ratio must be positive, got {}",
                self.lr_ratio
            )));
        }
        if let Preconditioner::Riemannian { damping } = self.preconditioner {
            if !(damping.is_finite() && damping >= 0.0) {
                return Err(ManifoldError::InvalidParameter(format!(
                    "the Riemannian damping must be ≥ 0, got {damping}"
                )));
            }
        }
        Ok(())
    }
}

/// Per-layer buffers of a step, allocated once.
struct LayerWorkspace {
    grad: LoraPair,
    preconditioned: LoraPair,
    gram: Mat<f64>,
    inverse: Mat<f64>,
    eig: SymmetricEigen,
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
    workspaces: Vec<LayerWorkspace>,
    optimizer: OptimizerState,
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
        params.validate()?;
        let (mut layers, evals) = initial_layers(params.init, objective, params.rank, seed)?;
        if params.init != Init::Lora {
            // The init describes X = s·B·A: split the scale evenly.
            let f = faer::Scale(1.0 / params.scale().sqrt());
            for pair in &mut layers {
                pair.b *= f;
                pair.a *= f;
            }
        }
        let mut base = objective.base_weights().to_vec();
        if params.preserve_base {
            for (w0, pair) in base.iter_mut().zip(&layers) {
                preserve_base(w0, pair, params.scale());
            }
        }
        let weights = zeros_like(&base);
        let workspaces = layers
            .iter()
            .map(|p| {
                let (m, n, r) = (p.out_dim(), p.in_dim(), p.rank());
                LayerWorkspace {
                    grad: LoraPair::zeros(m, n, r),
                    preconditioned: LoraPair::zeros(m, n, r),
                    gram: Mat::zeros(r, r),
                    inverse: Mat::zeros(r, r),
                    eig: SymmetricEigen::new(r),
                }
            })
            .collect();
        // Slots 2l and 2l + 1 hold layer l's B and A.
        let shapes: Vec<(usize, usize)> = layers.iter().flat_map(|p| [p.b.shape(), p.a.shape()]).collect();
        let mut method = Self {
            name: name.into(),
            optimizer: OptimizerState::new(params.optimizer, &shapes),
            params,
            layers,
            base,
            gradients: weights.clone(),
            weights,
            workspaces,
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
        evaluate_gradient(objective, &self.weights, &mut self.gradients, &mut self.evals, max_evals)?;
        self.optimizer.begin_step();
        let (s, lr) = (self.params.scale(), self.params.lr);
        for (l, ((pair, g), ws)) in self.layers.iter_mut().zip(&self.gradients).zip(&mut self.workspaces).enumerate() {
            // g_B = s·G·Aᵀ, g_A = s·Bᵀ·G, both from the pre-step pair.
            matmul(ws.grad.b.as_mut(), Accum::Replace, g.as_ref(), pair.a.transpose(), s, Par::Seq);
            matmul(ws.grad.a.as_mut(), Accum::Replace, pair.b.transpose(), g.as_ref(), s, Par::Seq);
            let update = match self.params.preconditioner {
                Preconditioner::None => &ws.grad,
                Preconditioner::Riemannian { damping } => {
                    // g_A ← (BᵀB + λI)⁺ g_A
                    matmul(ws.gram.as_mut(), Accum::Replace, pair.b.transpose(), pair.b.as_ref(), 1.0, Par::Seq);
                    ws.eig.damped_pseudo_inverse(ws.gram.as_ref(), damping, &mut ws.inverse);
                    let pa = &mut ws.preconditioned.a;
                    matmul(pa.as_mut(), Accum::Replace, ws.inverse.as_ref(), ws.grad.a.as_ref(), 1.0, Par::Seq);
                    // g_B ← g_B (AAᵀ + λI)⁺
                    matmul(ws.gram.as_mut(), Accum::Replace, pair.a.as_ref(), pair.a.transpose(), 1.0, Par::Seq);
                    ws.eig.damped_pseudo_inverse(ws.gram.as_ref(), damping, &mut ws.inverse);
                    let pb = &mut ws.preconditioned.b;
                    matmul(pb.as_mut(), Accum::Replace, ws.grad.b.as_ref(), ws.inverse.as_ref(), 1.0, Par::Seq);
                    &ws.preconditioned
                }
            };
            self.optimizer.apply(2 * l, &mut pair.b, &update.b, lr * self.params.lr_ratio);
            self.optimizer.apply(2 * l + 1, &mut pair.a, &update.a, lr);
            if !(pair.b.is_all_finite() && pair.a.is_all_finite()) {
                return Err(MethodError::NonFinite);
            }
        }
        self.refresh_weights();
        Ok(StepInfo { h: lr })
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
