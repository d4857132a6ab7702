//! Explicit Runge–Kutta integrators, generic over a small [`State`] trait.
//!
//! An ODE `y' = f(t, y)` is integrated from separate pieces (the shape of
//! diffrax and argmin): a [`VectorField`] (the right-hand side, writing into
//! a caller-provided output); a [`RungeKutta`] stepper driven by a
//! [`ButcherTableau`] stored as data ([`EULER`], [`RK4`], [`DORMAND_PRINCE`]);
//! a [`StepSizeController`] ([`ConstantStep`], or Hairer's [`PiController`]
//! with his initial-step rule); an [`Integrator`] that advances one accepted
//! step at a time; and the [`integrate`] driver, which returns a [`Solution`]
//! with its [`Stats`] and a [`Termination`] reason. Observers receive typed
//! [`StepRecord`]s, on a schedule with [`Every`].
//!
//! Cost is counted in field evaluations ([`EvalCounter`] and
//! [`Stats::evals`]): for ODELoRA each one is a gradient evaluation, the
//! unit every comparison in this project uses (Euler 1, RK4 4,
//! Dormand–Prince 6 per accepted step thanks to FSAL, plus rejected attempts).
//!
//! Nothing here is specific to ODELoRA: the state can be any `f64` vector
//! space (`Vec<f64>` is provided; `odelora-manifold` adds LoRA factor pairs).
//! The `test_problems` example runs the standard test ODEs from the
//! command line.
//!
//! # Example
//!
//! ```
//! use odelora_integrators::{
//!     integrate, ConstantStep, IntegrateParams, PiController, PiParams, Termination, DORMAND_PRINCE, RK4,
//! };
//!
//! // Harmonic oscillator y'' = −y from (1, 0): y(t) = (cos t, −sin t).
//! let mut field = |_t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| {
//!     dy[0] = y[1];
//!     dy[1] = -y[0];
//! };
//! let y0 = vec![1.0, 0.0];
//! let fixed = ConstantStep::new(0.01).unwrap();
//! let sol = integrate(&mut field, RK4, fixed, 0.0, &y0, &IntegrateParams::until(1.0), &mut ()).unwrap();
//! assert_eq!(sol.termination, Termination::Reached);
//! assert_eq!(sol.stats.evals, 400);
//! assert!((sol.y[0] - 1f64.cos()).abs() < 1e-10);
//!
//! // Adaptive Dormand–Prince 5(4) chooses its own steps.
//! let pi = PiController::new(PiParams::new(1e-8, 1e-10).unwrap());
//! let sol = integrate(&mut field, DORMAND_PRINCE, pi, 0.0, &y0, &IntegrateParams::until(10.0), &mut ()).unwrap();
//! assert!((sol.y[0] - 10f64.cos()).abs() < 1e-6);
//! assert!(sol.stats.accepted < 200);
//! ```

mod controller;
mod driver;
mod field;
mod runge_kutta;
mod state;
mod tableau;
pub mod test_problems;

pub use controller::{ConstantStep, Control, Decision, PiController, PiParams, StepSizeController};
pub use driver::{
    integrate, Every, IntegrateError, IntegrateParams, Integrator, Observer, Solution, Stats, StepRecord, Termination,
};
pub use field::{EvalCounter, VectorField};
pub use runge_kutta::{RungeKutta, StepAttempt};
pub use state::{weighted_square_sum_slices, State};
pub use tableau::{ButcherTableau, DORMAND_PRINCE, EULER, RK4};
