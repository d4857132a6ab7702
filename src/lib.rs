//! ODELoRA: training LoRA adapters by integrating the gradient flow of full
//! fine-tuning restricted to the balanced low-rank manifold.
//!
//! This facade re-exports the workspace's core crates under one name:
//!
//! - [`manifold`]: LoRA factor pairs, the ODELoRA vector field, balancing,
//!   initializations and the [`manifold::Method`] interface;
//! - [`integrators`]: explicit Runge–Kutta integrators over a state trait;
//! - [`problems`]: objectives (matrix sensing, …) behind one interface;
//! - [`baselines`]: LoRA-family baselines behind the same method interface.
//!
//! # Example
//!
//! Train rank-2 LoRA factors on a matrix-sensing problem with ODELoRA-RK4:
//!
//! ```
//! use odelora::integrators::RK4;
//! use odelora::manifold::{Method, Odelora, OdeloraParams};
//! use odelora::problems::{MatrixSensing, MatrixSensingParams, Objective};
//!
//! let mut sensing = MatrixSensing::new(MatrixSensingParams::square(12, 2)).unwrap();
//! let mut method = Odelora::new("odelora-rk4", OdeloraParams::new(RK4, 1.0, 2), &mut sensing, 0).unwrap();
//! for _ in 0..100 {
//!     method.step(&mut sensing, None).unwrap();
//! }
//! assert!(sensing.metrics(method.weights()).rel_error < 1e-8);
//! ```

pub use odelora_baselines as baselines;
pub use odelora_integrators as integrators;
pub use odelora_manifold as manifold;
pub use odelora_problems as problems;
