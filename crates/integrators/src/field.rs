//! Vector fields and the evaluation counter.

use crate::State;

/// The right-hand side `f(t, y)` of `y' = f(t, y)`.
///
/// Writes into a caller-provided output so steppers never allocate. A field
/// that cannot be evaluated at `y` (for example a singular Gram matrix) writes
/// non-finite values; the driver turns that into a rejected step or a
/// [`Termination::NonFinite`](crate::Termination::NonFinite).
pub trait VectorField<S: State> {
    /// `dy ← f(t, y)`.
    fn eval(&mut self, t: f64, y: &S, dy: &mut S);
}

impl<S: State, F: FnMut(f64, &S, &mut S)> VectorField<S> for F {
    fn eval(&mut self, t: f64, y: &S, dy: &mut S) {
        self(t, y, dy)
    }
}

/// Wraps a field and counts its evaluations, so the cost of a run (in
/// gradient evaluations, for ODELoRA) can never be forgotten.
#[derive(Debug, Clone)]
pub struct EvalCounter<F> {
    field: F,
    evals: u64,
}

impl<F> EvalCounter<F> {
    /// Start counting from zero.
    pub fn new(field: F) -> Self {
        Self { field, evals: 0 }
    }
    /// Evaluations so far.
    pub fn evals(&self) -> u64 {
        self.evals
    }
    /// The wrapped field.
    pub fn inner(&self) -> &F {
        &self.field
    }
    /// The wrapped field, mutably (evaluations through it are not counted).
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.field
    }
    /// Unwrap.
    pub fn into_inner(self) -> F {
        self.field
    }
}

impl<S: State, F: VectorField<S>> VectorField<S> for EvalCounter<F> {
    fn eval(&mut self, t: f64, y: &S, dy: &mut S) {
        self.evals += 1;
        self.field.eval(t, y, dy);
    }
}
