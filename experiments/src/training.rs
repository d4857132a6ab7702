//! The training loop shared by `train` and every figure: step a method,
//! record a row per step, detect divergence.

use std::time::Instant;

use odelora::manifold::{Method, MethodError};
use odelora::problems::Objective;

/// One recorded step (step 0 is the initialization).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Step index.
    pub step: u64,
    /// Gradient evaluations so far.
    pub evals: u64,
    /// Wall time of the method's steps so far (recording excluded).
    pub time_s: f64,
    /// Training loss.
    pub loss: f64,
    /// Problem's relative error.
    pub rel_error: f64,
    /// Balance gap (SPEC §2), `None` without LoRA factors.
    pub balance_gap: Option<f64>,
    /// Step size of this step (0 for the initial row).
    pub h: f64,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Took every requested step.
    Completed,
    /// Stopped because the next step would exceed the evaluation budget.
    Budget,
    /// An adaptive integrator reached its end time.
    Reached,
    /// An adaptive integrator's step fell below its minimum.
    StepTooSmall,
    /// The iterate became non-finite, or the loss exceeded 1e3 × its
    /// initial value (SPEC §6), at this step.
    Diverged {
        /// The step at which it diverged.
        step: u64,
    },
}

impl Outcome {
    /// A short name for output (`completed`, `budget`, …).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "steps",
            Outcome::Budget => "budget",
            Outcome::Reached => "end-time",
            Outcome::StepTooSmall => "step-too-small",
            Outcome::Diverged { .. } => "diverged",
        }
    }
}

/// When to stop, and which steps to record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopRule {
    /// Maximum number of steps.
    pub steps: u64,
    /// Maximum gradient evaluations (a step that would exceed it is not taken).
    pub eval_budget: Option<u64>,
    /// Record every this many steps (and always the initial and the last
    /// step). Recording evaluates the metrics, which for a PINN (the test-grid
    /// error) costs more than a gradient; the loss-increase test of
    /// divergence then looks at recorded steps only.
    pub record_every: u64,
}

impl StopRule {
    /// At most `steps` steps and `eval_budget` evaluations, every step recorded.
    pub fn new(steps: u64, eval_budget: Option<u64>) -> Self {
        Self { steps, eval_budget, record_every: 1 }
    }

    /// Record every `k`-th step only (k ≥ 1).
    pub fn recording_every(self, k: u64) -> Self {
        Self { record_every: k.max(1), ..self }
    }
}

/// A loss above this multiple of the initial loss counts as divergence.
pub const DIVERGENCE_FACTOR: f64 = 1e3;

/// Run `method` on `objective`, calling `on_row` for every recorded row
/// (with the method, for observers that measure more than the row holds).
///
/// Metrics are evaluated after each step without counting as gradient
/// evaluations and outside the timed region: recording is the observer's
/// cost, not the method's.
pub fn run(
    method: &mut dyn Method,
    objective: &mut dyn Objective,
    stop: StopRule,
    mut on_row: impl FnMut(&Row, &dyn Method),
) -> Outcome {
    let record = |method: &dyn Method, objective: &mut dyn Objective, step, time_s, h| {
        let metrics = objective.metrics(method.weights());
        Row {
            step,
            evals: method.evals(),
            time_s,
            loss: metrics.loss,
            rel_error: metrics.rel_error,
            balance_gap: method.balance_gap(),
            h,
        }
    };
    let first = record(method, objective, 0, 0.0, 0.0);
    on_row(&first, method);
    let initial_loss = first.loss;
    let mut elapsed = 0.0;
    // The last step taken but not recorded, with its step size.
    let mut pending = None;
    let mut outcome = Outcome::Completed;
    for step in 1..=stop.steps {
        let max_evals = stop.eval_budget.map(|b| b.saturating_sub(method.evals()));
        let start = Instant::now();
        let result = method.step(objective, max_evals);
        elapsed += start.elapsed().as_secs_f64();
        let info = match result {
            Ok(info) => info,
            Err(e) => {
                outcome = match e {
                    MethodError::BudgetExhausted => Outcome::Budget,
                    MethodError::EndTimeReached => Outcome::Reached,
                    MethodError::StepTooSmall => Outcome::StepTooSmall,
                    // A non-finite iterate, or any other numerical breakdown of a step.
                    _ => return Outcome::Diverged { step },
                };
                break;
            }
        };
        if step % stop.record_every != 0 && step != stop.steps {
            pending = Some((step, info.h));
            continue;
        }
        pending = None;
        let row = record(method, objective, step, elapsed, info.h);
        on_row(&row, method);
        if !row.loss.is_finite() || (initial_loss > 0.0 && row.loss > DIVERGENCE_FACTOR * initial_loss) {
            return Outcome::Diverged { step };
        }
    }
    if let Some((step, h)) = pending {
        let row = record(method, objective, step, elapsed, h);
        on_row(&row, method);
        if !row.loss.is_finite() || (initial_loss > 0.0 && row.loss > DIVERGENCE_FACTOR * initial_loss) {
            return Outcome::Diverged { step };
        }
    }
    outcome
}
