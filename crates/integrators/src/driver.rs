//! The driver: a stepper and a controller advance a state one accepted step
//! at a time ([`Integrator`]), and [`integrate`] loops that over an interval.

use crate::{ButcherTableau, RungeKutta, State, StepSizeController, VectorField};

/// Why a run stopped. Each reason is distinct so a caller can tell a
/// finished integration from an exhausted budget or a blow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Termination {
    /// Reached the end time.
    Reached,
    /// The next attempt would exceed the gradient-evaluation budget.
    Budget,
    /// The maximum number of accepted steps was taken.
    MaxSteps,
    /// The controller asked for a step below `h_min`.
    StepTooSmall,
    /// The state or a field value was non-finite and could not be avoided
    /// by shrinking the step.
    NonFinite,
}

/// Counters of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Attempted steps (accepted + rejected).
    pub steps: u64,
    /// Accepted steps.
    pub accepted: u64,
    /// Rejected attempts (error too large, or non-finite).
    pub rejected: u64,
    /// Field evaluations, including the initial-step heuristic's.
    pub evals: u64,
}

/// What [`integrate`] returns: the final state and the record of the run.
#[derive(Debug, Clone)]
pub struct Solution<S> {
    /// Time reached.
    pub t: f64,
    /// State at `t` (the last accepted state if the run blew up).
    pub y: S,
    /// Counters.
    pub stats: Stats,
    /// Why it stopped.
    pub termination: Termination,
}

/// One accepted step, as observers see it.
#[derive(Debug)]
pub struct StepRecord<'a, S> {
    /// Index of the accepted step (0 is the initial state).
    pub step: u64,
    /// Time after the step.
    pub t: f64,
    /// Step size used (0 for the initial state).
    pub h: f64,
    /// State after the step.
    pub y: &'a S,
    /// Counters so far.
    pub stats: Stats,
}

/// Receives a record after every accepted step (and once for the initial
/// state, with `step == 0`). Core crates never print; observers do.
pub trait Observer<S> {
    /// Called with each record.
    fn observe(&mut self, record: &StepRecord<'_, S>);
}

impl<S> Observer<S> for () {
    fn observe(&mut self, _record: &StepRecord<'_, S>) {}
}

impl<S, F: FnMut(&StepRecord<'_, S>)> Observer<S> for F {
    fn observe(&mut self, record: &StepRecord<'_, S>) {
        self(record)
    }
}

/// Forwards every `n`-th accepted step (and the initial state and the final
/// step of a run that reaches its end time) to `inner`: observation on a
/// schedule.
#[derive(Debug, Clone)]
pub struct Every<O> {
    /// Forward steps whose index is a multiple of this (≥ 1).
    pub n: u64,
    /// The observer that receives the forwarded records.
    pub inner: O,
    /// The end time; the step that reaches it is always forwarded.
    pub t_end: f64,
}

impl<S, O: Observer<S>> Observer<S> for Every<O> {
    fn observe(&mut self, record: &StepRecord<'_, S>) {
        if record.step % self.n.max(1) == 0 || record.t >= self.t_end {
            self.inner.observe(record);
        }
    }
}

/// Limits of an integration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntegrateParams {
    /// End time (the last step is shortened to land on it).
    pub t_end: f64,
    /// First step size; `None` lets the controller choose (Hairer's rule for
    /// [`PiController`](crate::PiController), `h` for a constant step).
    pub h0: Option<f64>,
    /// Maximum accepted steps.
    pub max_steps: u64,
    /// Maximum field evaluations; an attempt that would exceed it is not made.
    pub eval_budget: Option<u64>,
}

impl IntegrateParams {
    /// Integrate up to `t_end` with no other limit.
    pub fn until(t_end: f64) -> Self {
        Self { t_end, h0: None, max_steps: u64::MAX, eval_budget: None }
    }
}

/// Why an integration could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrateError {
    /// The step size is not a positive finite number.
    #[error("step size must be positive and finite, got {0}")]
    InvalidStep(f64),
    /// The end time is not finite or lies before the start.
    #[error("end time must not lie before the start time, got {0}")]
    InvalidEndTime(f64),
    /// Tolerances must be finite, non-negative and not both zero.
    #[error("tolerances must be finite, ≥ 0 and not both zero, got rtol = {rtol}, atol = {atol}")]
    InvalidTolerance {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
    /// An adaptive controller was paired with a tableau without an error estimate.
    #[error("the {0} tableau has no embedded error estimate, which an adaptive step-size controller needs")]
    NoErrorEstimate(&'static str),
    /// The initial state has a non-finite component.
    #[error("initial state has non-finite components")]
    NonFiniteInitialState,
}

/// A stepper and a step-size controller that advance a state one accepted
/// step at a time, retrying rejected attempts. Storage is allocated once.
///
/// [`integrate`] loops it over an interval; a training method calls
/// [`advance`](Self::advance) once per training step.
#[derive(Debug, Clone)]
pub struct Integrator<S, C> {
    stepper: RungeKutta<S>,
    controller: C,
    proposal: S,
    error: S,
    h: Option<f64>,
    stats: Stats,
}

impl<S: State, C: StepSizeController> Integrator<S, C> {
    /// Pair `tableau` with `controller` for states shaped like `template`.
    pub fn new(tableau: ButcherTableau, controller: C, template: &S) -> Result<Self, IntegrateError> {
        if controller.needs_error_estimate() && tableau.b_embedded.is_none() {
            return Err(IntegrateError::NoErrorEstimate(tableau.name));
        }
        Ok(Self {
            stepper: RungeKutta::new(tableau, template),
            controller,
            proposal: template.zeros_like(),
            error: template.zeros_like(),
            h: None,
            stats: Stats::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The controller.
    pub fn controller(&self) -> &C {
        &self.controller
    }

    /// The step size the next attempt will use (once known).
    pub fn next_step_size(&self) -> Option<f64> {
        self.h
    }

    /// Set the next step size (e.g. a user's first-step guess).
    pub fn set_step_size(&mut self, h: f64) -> Result<(), IntegrateError> {
        if !(h.is_finite() && h > 0.0) {
            return Err(IntegrateError::InvalidStep(h));
        }
        self.h = Some(h);
        Ok(())
    }

    /// Forget cached stage values: call after changing the state from
    /// outside (e.g. rebalancing).
    pub fn reset(&mut self) {
        self.stepper.reset();
    }

    /// Advance `y` at time `t` by one accepted step of at most `t_end − t`,
    /// using at most `max_evals` field evaluations in this call. Returns the
    /// step size taken, or why no step could be taken (`y` is then unchanged).
    pub fn advance<F: VectorField<S>>(
        &mut self,
        field: &mut F,
        t: f64,
        y: &mut S,
        t_end: f64,
        max_evals: Option<u64>,
    ) -> Result<f64, Termination> {
        let tableau = *self.stepper.tableau();
        let mut used = 0u64;
        if self.h.is_none() {
            // The controller's first step needs f(t0, y0) and at most one more
            // evaluation; both count.
            let cost = 2;
            if max_evals.is_some_and(|m| used + cost > m) {
                return Err(Termination::Budget);
            }
            let evals = self.stepper.prime(field, t, y);
            let mut extra = 0;
            let h0 = self.controller.initial_step(y, self.stepper.first_stage(), tableau.order, |h, y1, f1| {
                extra += 1;
                field.eval(t + h, y1, f1)
            });
            used += evals + extra;
            self.stats.evals += evals + extra;
            self.h = Some(h0);
        }
        // An infinite end time (training without a horizon) is never reached.
        let slack = if t_end.is_finite() { 1e-12 * t_end.abs().max(1.0) } else { 0.0 };
        loop {
            let remaining = t_end - t;
            if remaining <= slack {
                return Err(Termination::Reached);
            }
            let h = self.h.expect("set above");
            if h < self.controller.h_min() {
                return Err(Termination::StepTooSmall);
            }
            let h_try = h.min(remaining);
            let cost = self.stepper.next_attempt_cost();
            if max_evals.is_some_and(|m| used + cost > m) {
                return Err(Termination::Budget);
            }
            let error = self.controller.needs_error_estimate().then_some(&mut self.error);
            let attempt = self.stepper.attempt(field, t, h_try, y, &mut self.proposal, error);
            used += attempt.evals;
            self.stats.evals += attempt.evals;
            self.stats.steps += 1;
            if !attempt.finite {
                self.stats.rejected += 1;
                match self.controller.shrink_after_non_finite(h_try) {
                    Some(smaller) if smaller >= self.controller.h_min() => {
                        self.h = Some(smaller);
                        continue;
                    }
                    _ => return Err(Termination::NonFinite),
                }
            }
            let error_norm = self
                .controller
                .needs_error_estimate()
                .then(|| self.controller.error_norm(&self.error, y, &self.proposal));
            let decision = self.controller.decide(h_try, error_norm);
            // A shortened landing step must not shrink the next step size.
            self.h = Some(if h_try < h && decision.accept { h.max(decision.next_h) } else { decision.next_h });
            if decision.accept {
                self.stepper.accept();
                std::mem::swap(y, &mut self.proposal);
                self.stats.accepted += 1;
                return Ok(h_try);
            }
            self.stats.rejected += 1;
        }
    }
}

/// Integrate `y' = f(t, y)` from `(t0, y0)` to `params.t_end` with
/// `tableau` and `controller`, calling `observer` after every accepted step.
pub fn integrate<S: State, F: VectorField<S>, C: StepSizeController>(
    field: &mut F,
    tableau: ButcherTableau,
    controller: C,
    t0: f64,
    y0: &S,
    params: &IntegrateParams,
    observer: &mut impl Observer<S>,
) -> Result<Solution<S>, IntegrateError> {
    if !(params.t_end.is_finite() && params.t_end >= t0) {
        return Err(IntegrateError::InvalidEndTime(params.t_end));
    }
    if !y0.is_finite() {
        return Err(IntegrateError::NonFiniteInitialState);
    }
    let mut integrator = Integrator::new(tableau, controller, y0)?;
    if let Some(h0) = params.h0 {
        integrator.set_step_size(h0)?;
    }
    let mut y = y0.clone();
    let mut t = t0;
    // Kahan compensation of t += h, so many constant steps land on t_end
    // instead of leaving a rounding-sized extra step.
    let mut t_compensation = 0.0;
    observer.observe(&StepRecord { step: 0, t, h: 0.0, y: &y, stats: integrator.stats() });
    let termination = loop {
        if integrator.stats().accepted >= params.max_steps {
            break Termination::MaxSteps;
        }
        let max_evals = params.eval_budget.map(|b| b.saturating_sub(integrator.stats().evals));
        match integrator.advance(field, t, &mut y, params.t_end, max_evals) {
            Ok(h) => {
                let increment = h - t_compensation;
                let sum = t + increment;
                t_compensation = (sum - t) - increment;
                t = if params.t_end - sum <= 1e-12 * params.t_end.abs().max(1.0) { params.t_end } else { sum };
                let stats = integrator.stats();
                observer.observe(&StepRecord { step: stats.accepted, t, h, y: &y, stats });
            }
            Err(reason) => break reason,
        }
    };
    Ok(Solution { t, y, stats: integrator.stats(), termination })
}
