//! Physics-informed neural networks (SPEC §5.4): fine-tuning a pretrained
//! PINN to a new PDE parameter.
//!
//! - [`network`]: a tanh MLP whose input derivatives (u_x, u_t, u_xx, u_yy)
//!   are carried forward as jets and whose parameter gradients are a
//!   hand-written reverse pass — no autodiff framework.
//! - [`Pde`]: convection, reaction, Burgers and Helmholtz with their initial
//!   and boundary conditions and reference solutions (closed forms; Burgers
//!   by the Cole–Hopf integral, [`BurgersReference`]).
//! - [`Pinn`]: the loss `mean r_res² + mean r_init² + mean r_bc²` on fixed
//!   collocation points behind the [`Objective`](crate::Objective)
//!   interface, adapting either every parameter (pretraining) or the
//!   hidden-to-hidden weights (LoRA fine-tuning), with the relative L2 error
//!   on a test grid as its metric.

pub mod network;
mod pde;
mod problem;
mod reference;

pub use network::{Architecture, Derivatives};
pub use pde::{Boundary, Pde, PdeKind};
pub use problem::{Adapted, Pinn, PinnParams};
pub use reference::*;
