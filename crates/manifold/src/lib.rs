//! The balanced low-rank manifold and the ODELoRA vector field.
//!
//! ODELoRA (Gao & Tan, *ODELoRA: Training Low-Rank Adaptation by Solving
//! Ordinary Differential Equations*, arXiv 2602.07479) trains LoRA factors
//! `B ∈ R^{m×r}`, `A ∈ R^{r×n}` of an adapted weight `W = W0 + B·A` by
//! integrating an ODE whose flow emulates full fine-tuning `Ẇ = −∇L(W)`
//! restricted to the rank-r manifold, while keeping the factors balanced
//! (`BᵀB = AAᵀ`). With `G = ∇_W L`, `M_B = BᵀB`, `M_A = AAᵀ`:
//!
//! ```text
//! S   = M_B⁻¹ (Bᵀ G Aᵀ)
//! K   : (M_A + M_B) K + K (M_A + M_B) = −(S + Sᵀ) − γ (M_B − M_A)     (K symmetric)
//! Ḃ   = −(G Aᵀ) M_A⁻¹ + B [S M_A⁻¹ + K]
//! Ȧ   = −M_B⁻¹ (Bᵀ G) − K A
//! ```
//!
//! Then `Ḃ A + B Ȧ = −P_T(G)`, the tangent projection of the full gradient
//! ([`tangent_project`]), and `d/dt (BᵀB − AAᵀ) = −γ (BᵀB − AAᵀ)`. These
//! properties (P1–P5 of the spec) are property tests in `tests/`.
//!
//! Conventions, each with its reason:
//! - **Scale.** ODELoRA moves `X = s·B·A` and does not depend on `s = α/r`,
//!   so it runs on `B̃ = √s·B`, `Ã = √s·A` and the adapted weight is `W0 + B̃Ã`.
//! - **Gauge.** The skew part of `K` is a free rotation `B → BΩ, A → ΩᵀA`
//!   that changes neither `BA` nor the balance; `K` is taken symmetric.
//! - **Damping.** Gram inverses are damped, `M⁻¹ → (M + δI)⁻¹` with the
//!   scale-free default `δ = 1e-12 · tr(M)/r` ([`Damping`]); `δ = 0` gives
//!   the exact field. A singular Gram matrix (e.g. `B = 0`) yields a
//!   non-finite field, which integrators report — the LoRA init cannot be
//!   used by ODELoRA, and [`Odelora::new`] says so.
//! - **Lyapunov solve** through the eigendecomposition of the `r × r`
//!   matrix `M_A + M_B` ([`odelora_field`] never forms an `m × m` or `n × n`
//!   matrix and does not allocate).
//!
//! The crate also holds the balanced factorisations ([`balanced_split`],
//! [`rebalance`]), the initializations ([`Init`]), and the training
//! [`Method`] interface with ODELoRA's implementation ([`Odelora`]): a
//! method is a rule for moving LoRA factors, and the baselines in
//! `odelora-baselines` implement the same trait.
//!
//! # Example
//!
//! Evaluate the field at a random balanced pair and check that it moves
//! `X = BA` by exactly `−P_T(G)` and keeps the pair balanced:
//!
//! ```
//! use faer::{Mat, Par};
//! use odelora_manifold::{
//!     balanced_split, odelora_field, tangent_project, FieldParams, FieldWorkspace, LoraPair,
//! };
//!
//! let (m, n, r) = (6, 5, 2);
//! let x = Mat::from_fn(m, n, |i, j| ((i + 2 * j) as f64).sin());
//! let pair = balanced_split(x.as_ref(), r).unwrap();
//! let g = Mat::from_fn(m, n, |i, j| ((3 * i + j) as f64).cos());
//!
//! let mut velocity = LoraPair::zeros(m, n, r);
//! let mut ws = FieldWorkspace::for_pair(&pair);
//! odelora_field(&mut velocity, &pair, g.as_ref(), &FieldParams::exact(), &mut ws, Par::Seq);
//!
//! // d/dt (BA) = Ḃ A + B Ȧ = −P_T(G)
//! let dx = &velocity.b * &pair.a + &pair.b * &velocity.a;
//! let projected = tangent_project(&pair, g.as_ref()).unwrap();
//! assert!((dx + &projected).norm_l2() < 1e-10 * projected.norm_l2());
//! // d/dt (BᵀB − AAᵀ) = 0 with γ = 0
//! let drift = velocity.b.transpose() * &pair.b + pair.b.transpose() * &velocity.b
//!     - &velocity.a * pair.a.transpose() - &pair.a * velocity.a.transpose();
//! assert!(drift.norm_l2() < 1e-10 * g.norm_l2());
//! ```

mod balance;
mod field;
mod init;
mod method;
mod pair;
mod symmetric;
mod trainer;

pub use balance::{balanced_split, check_rank, rebalance, top_singular_subspace};
pub use field::{odelora_field, tangent_project, Damping, FieldParams, FieldWorkspace};
pub use init::{initial_layers, lora_init, preserve_base, small_balanced_init, spectral_init, zeros_like, Init};
pub use method::{check_step_size, Method, MethodError, StepInfo};
pub use pair::{LoraLayers, LoraPair};
pub use symmetric::SymmetricEigen;
pub use trainer::{Odelora, OdeloraParams, StepControl};

/// Why a manifold operation could not be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifoldError {
    /// The rank exceeds what the matrix shape allows.
    #[error("rank {rank} exceeds min(m, n) = {} for a {m}×{n} matrix", m.min(n))]
    RankTooLarge {
        /// Requested rank.
        rank: usize,
        /// Rows.
        m: usize,
        /// Columns.
        n: usize,
    },
    /// Factors that must be full rank are not (e.g. a zero gradient for the
    /// spectral init).
    #[error("the factors are rank-deficient; the ODELoRA field needs full-rank B and A")]
    RankDeficient,
    /// Shapes that must agree do not.
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),
    /// A parameter is out of range.
    #[error("{0}")]
    InvalidParameter(String),
    /// An input has NaN or infinite entries.
    #[error("{0} has non-finite entries")]
    NonFinite(&'static str),
    /// A dense decomposition failed to converge.
    #[error("decomposition failed: {0}")]
    Decomposition(String),
}
