//! Baselines behind the same [`Method`] interface as ODELoRA, with the
//! update rules their authors published (SPEC §4).
//!
//! Every rule needs only the full-weight gradient `G = ∇_W L(W)` at the
//! adapted weight `W = W0 + s·B·A`, `s = α/r`: LoRA's factor gradients are
//! `g_B = s·G·Aᵀ` and `g_A = s·Bᵀ·G`, both taken at the pre-step pair.
//!
//! | method | rule | source |
//! |---|---|---|
//! | LoRA-GD / LoRA-Adam | GD / AdamW on B and A, one learning rate η | Hu et al. 2021 |
//! | LoRA+ | as LoRA with `η_B = λ·η_A`, λ = 16 by default (`lr` is η_A) | Hayou, Ghosh, Yu 2024 |
//! | Riemannian (scaled GD / scaled AdamW) | `A ← A − η (BᵀB + λI)⁻¹ g_A`, `B ← B − η g_B (AAᵀ + λI)⁻¹`; for AdamW the preconditioned gradient feeds the moments; λ = 1e-6 | Zhang & Pilanci 2024 |
//! | full fine-tuning | GD / AdamW on `W` itself | the flow ODELoRA emulates |
//!
//! With λ = 0 and the spectral init on matrix sensing, Riemannian GD is
//! ScaledGD (Tong, Ma, Chi 2021). AdamW uses β = (0.9, 0.999), ε = 1e-8,
//! bias correction and decoupled weight decay (default 0).
//!
//! LoRA-family methods start from the standard LoRA init
//! (`A ~ U(−1/√n, 1/√n)`, `B = 0`) unless told otherwise. Other inits (e.g.
//! spectral, to compare update rules from the same start) describe the
//! product `X = s·B·A`; the factors are divided by `√s` so that the adapted
//! model starts at the same `W` whatever `α`.
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

mod full;
mod lora;
mod optimizer;

pub use full::{FullFineTuning, FullParams};
pub use lora::{Lora, LoraParams, Preconditioner};
pub use optimizer::{AdamParams, Optimizer};

/// The LoRA+ learning-rate ratio `η_B / η_A` its authors recommend.
pub const LORAPLUS_DEFAULT_RATIO: f64 = 16.0;
/// The default damping λ of Riemannian preconditioning.
pub const RIEMANNIAN_DEFAULT_DAMPING: f64 = 1e-6;
