//! The driver loop: integrate a field over an interval and return the record.

use crate::{ButcherTableau, RungeKutta, State, VectorField};

/// Why a run stopped. Each reason is distinct so a caller can tell a
/// finished integration from an exhausted budget or a blow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Termination {
    /// Reached the end time.
    Reached,
    /// The next step would exceed the gradient-evaluation budget.
    Budget,
    /// The maximum number of accepted steps was taken.
    MaxSteps,
    /// An adaptive controller asked for a step below `h_min`.
    StepTooSmall,
    /// The state or a field value became non-finite.
    NonFinite,
}

/// Counters of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Attempted steps (accepted + rejected).
    pub steps: u64,
    /// Accepted steps.
    pub accepted: u64,
    /// Rejected attempts.
    pub rejected: u64,
    /// Field evaluations.
    pub evals: u64,
}

/// What [`integrate`] returns: the final state and the record of the run.
#[derive(Debug, Clone)]
pub struct Solution<S> {
    /// Time reached.
    pub t: f64,
    /// State at `t` (the last finite state if the run blew up).
    pub y: S,
    /// Counters.
    pub stats: Stats,
    /// Why it stopped.
    pub termination: Termination,
}

/// One accepted step, as observers see it.
#[derive(Debug)]
pub struct StepRecord<'a, S> {
    /// Index of the accepted step (1-based; 0 is the initial state).
    pub step: u64,
    /// Time after the step.
    pub t: f64,
    /// Step size used.
    pub h: f64,
    /// State after the step.
    pub y: &'a S,
    /// Field evaluations so far.
    pub evals: u64,
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

/// Options of a fixed-step integration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedStepParams {
    /// Step size `h > 0`.
    pub h: f64,
    /// End time (the last step is shortened to land on it).
    pub t_end: f64,
    /// Maximum accepted steps.
    pub max_steps: u64,
    /// Maximum field evaluations; a step that would exceed it is not taken.
    pub eval_budget: Option<u64>,
}

impl FixedStepParams {
    /// Validated parameters for steps of size `h` up to `t_end`.
    pub fn new(h: f64, t_end: f64) -> Result<Self, IntegrateError> {
        if !(h.is_finite() && h > 0.0) {
            return Err(IntegrateError::InvalidStep(h));
        }
        if !t_end.is_finite() {
            return Err(IntegrateError::InvalidEndTime(t_end));
        }
        Ok(Self {
            h,
            t_end,
            max_steps: u64::MAX,
            eval_budget: None,
        })
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
    #[error("end time must be finite and not before the start time, got {0}")]
    InvalidEndTime(f64),
    /// The initial state has a non-finite component.
    #[error("initial state has non-finite components")]
    NonFiniteInitialState,
}

/// Integrate `y' = f(t, y)` from `(t0, y0)` to `params.t_end` with constant
/// steps of the given tableau.
pub fn integrate<S: State, F: VectorField<S>>(
    field: &mut F,
    tableau: ButcherTableau,
    t0: f64,
    y0: &S,
    params: &FixedStepParams,
    observer: &mut impl Observer<S>,
) -> Result<Solution<S>, IntegrateError> {
    if !(params.t_end >= t0) {
        return Err(IntegrateError::InvalidEndTime(params.t_end));
    }
    if !y0.is_finite() {
        return Err(IntegrateError::NonFiniteInitialState);
    }
    let mut stepper = RungeKutta::new(tableau, y0);
    let mut y = y0.clone();
    let mut y_new = y0.zeros_like();
    let mut t = t0;
    let mut stats = Stats::default();
    observer.observe(&StepRecord {
        step: 0,
        t,
        h: 0.0,
        y: &y,
        evals: 0,
    });
    // Relative slack so rounding in t does not produce a spurious tiny last step.
    let slack = 1e-12 * (params.t_end - t0).abs().max(params.h);
    let termination = loop {
        let remaining = params.t_end - t;
        if remaining <= slack {
            break Termination::Reached;
        }
        if stats.accepted >= params.max_steps {
            break Termination::MaxSteps;
        }
        let cost = tableau.stages() as u64;
        if params.eval_budget.is_some_and(|b| stats.evals + cost > b) {
            break Termination::Budget;
        }
        let h = params.h.min(remaining);
        let attempt = stepper.attempt(field, t, h, &y, &mut y_new, None);
        stats.steps += 1;
        stats.evals += attempt.evals;
        if !attempt.finite {
            stats.rejected += 1;
            break Termination::NonFinite;
        }
        stepper.accept();
        stats.accepted += 1;
        std::mem::swap(&mut y, &mut y_new);
        t = if remaining - h <= slack {
            params.t_end
        } else {
            t + h
        };
        observer.observe(&StepRecord {
            step: stats.accepted,
            t,
            h,
            y: &y,
            evals: stats.evals,
        });
    };
    Ok(Solution {
        t,
        y,
        stats,
        termination,
    })
}
