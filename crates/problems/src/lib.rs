//! Training objectives for ODELoRA experiments, behind one interface.
//!
//! An [`Objective`] maps the adapted weights `W = W0 + s·B·A` of each layer to
//! the loss and the full-weight gradient `G = ∇_W L(W)` — all that ODELoRA
//! and every baseline need — plus problem [`Metrics`] such as a relative
//! error. Problems draw all randomness from [`random::seeded_rng`], so an
//! instance is a pure function of its parameters.
//!
//! - [`MatrixSensing`] (SPEC §5.1): `L(X) = ½ Σ_k (⟨A_k, X⟩ − y_k)²` for a
//!   rank-`r*` target with condition number κ, Gaussian measurements.
//! - [`ConvexQuadratic`] (SPEC §5.2): `L(W) = ½ Σ q_ij (W − W*)_ij²`, strongly
//!   convex with `μ = min q`, `L = max q`, `rank W* = r`.
//! - [`WidthToy`] (SPEC §5.3): a linear model `f(x) = W x` on a batch of 4
//!   Gaussian inputs at width n, for the feature-learning scaling.
//! - [`pinn::Pinn`] (SPEC §5.4): the residual loss of a tanh MLP on one of
//!   four PDEs, with hand-derived input derivatives and weight gradients,
//!   adapting every parameter (pretraining) or the hidden-to-hidden weights.
//!
//! # Example
//!
//! ```
//! use faer::Mat;
//! use odelora_problems::{MatrixSensing, MatrixSensingParams, Objective};
//!
//! let mut sensing = MatrixSensing::new(MatrixSensingParams::square(10, 2)).unwrap();
//! let zero = [Mat::zeros(10, 10)];
//! let mut grad = [Mat::zeros(10, 10)];
//! let loss = sensing.loss_and_gradient(&zero, &mut grad);
//! // At X = 0 the relative error is exactly 1 and the loss is ½‖y‖² > 0.
//! assert!(loss > 0.0);
//! assert_eq!(sensing.metrics(&zero).rel_error, 1.0);
//! ```

mod convex_quadratic;
mod matrix_sensing;
mod objective;
pub mod pinn;
pub mod random;
mod width_toy;

pub use convex_quadratic::{ConvexQuadratic, ConvexQuadraticParams};
pub use matrix_sensing::{MatrixSensing, MatrixSensingParams};
pub use objective::{Metrics, Objective};
pub use width_toy::{WidthToy, WidthToyParams};

/// Why a problem could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemError {
    /// A parameter is out of range; the message says which and why.
    #[error("{0}")]
    InvalidParameter(String),
}
