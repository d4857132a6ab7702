//! The interface every problem implements.

use faer::Mat;

/// Problem metrics recorded alongside the loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// The training loss.
    pub loss: f64,
    /// The problem's relative error (e.g. `‖X − X*‖_F / ‖X*‖_F`); NaN only if
    /// the problem defines none.
    pub rel_error: f64,
}

/// A training objective over a list of adapted weight matrices.
///
/// Every method in this project needs only the full-weight gradient
/// `G = ∇_W L(W)` of each adapted matrix (LoRA's factor gradients are
/// `s·G·Aᵀ` and `s·Bᵀ·G`), so that is all an objective provides. Weights are
/// passed as the full adapted matrices `W = W0 + s·B·A`, one per layer, in
/// the shapes [`layer_shapes`](Objective::layer_shapes) gives.
///
/// Methods take `&mut self` so an objective can keep its workspaces; clone
/// an objective (cheaply: problem data is shared) to use it from several
/// threads.
pub trait Objective: Send {
    /// `(out, in)` shape of each adapted matrix.
    fn layer_shapes(&self) -> &[(usize, usize)];
    /// The pretrained weights `W0` of each adapted matrix.
    fn base_weights(&self) -> &[Mat<f64>];
    /// The loss at `weights`, and the full-weight gradient of each layer
    /// written to `gradients` (same shapes). This is one gradient evaluation.
    fn loss_and_gradient(&mut self, weights: &[Mat<f64>], gradients: &mut [Mat<f64>]) -> f64;
    /// The loss and problem metrics at `weights` (no gradient).
    fn metrics(&mut self, weights: &[Mat<f64>]) -> Metrics;
}
