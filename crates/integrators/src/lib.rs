//! Explicit Runge–Kutta integrators, generic over a small [`State`] trait.
//!
//! An ODE `y' = f(t, y)` is integrated from a [`VectorField`] (the right-hand
//! side, writing into a caller-provided output), a [`RungeKutta`] stepper
//! driven by a [`ButcherTableau`] stored as data ([`EULER`], [`RK4`],
//! [`DORMAND_PRINCE`]), and the [`integrate`] driver, which returns a
//! [`Solution`] with its [`Stats`] and a [`Termination`] reason. Cost is
//! counted in field evaluations ([`EvalCounter`]): for ODELoRA each one is a
//! gradient evaluation, the unit every comparison in this project uses
//! (Euler 1, RK4 4, Dormand–Prince 6 per accepted step thanks to FSAL).
//!
//! Nothing here is specific to ODELoRA: the state can be any `f64` vector
//! space (`Vec<f64>` is provided; `odelora-manifold` adds LoRA factor pairs).
//!
//! # Example
//!
//! ```
//! use odelora_integrators::{integrate, EvalCounter, FixedStepParams, Termination, RK4};
//!
//! // Harmonic oscillator y'' = −y from (1, 0): y(t) = (cos t, −sin t).
//! let mut field = EvalCounter::new(|_t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| {
//!     dy[0] = y[1];
//!     dy[1] = -y[0];
//! });
//! let params = FixedStepParams::new(0.01, 1.0).unwrap();
//! let sol = integrate(&mut field, RK4, 0.0, &vec![1.0, 0.0], &params, &mut ()).unwrap();
//! assert_eq!(sol.termination, Termination::Reached);
//! assert_eq!(sol.stats.evals, 400);
//! assert!((sol.y[0] - 1f64.cos()).abs() < 1e-10);
//! ```

mod driver;
mod field;
mod runge_kutta;
mod state;
mod tableau;

pub use driver::{
    integrate, FixedStepParams, IntegrateError, Observer, Solution, Stats, StepRecord, Termination,
};
pub use field::{EvalCounter, VectorField};
pub use runge_kutta::{RungeKutta, StepAttempt};
pub use state::{weighted_square_sum_slices, State};
pub use tableau::{ButcherTableau, DORMAND_PRINCE, EULER, RK4};
