//! Step-size controllers: a constant step, and Hairer's PI controller.

use crate::{IntegrateError, State};

/// What a controller decided about an attempted step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Keep the proposed state.
    pub accept: bool,
    /// The step size to try next (after an accepted or a rejected step).
    pub next_h: f64,
}

/// Accepts or rejects attempted steps and proposes the next step size.
pub trait StepSizeController {
    /// Whether the controller needs the stepper's error estimate (an
    /// embedded tableau); pairing it with a tableau without one is an error.
    fn needs_error_estimate(&self) -> bool;

    /// Decide on an attempt of size `h` whose scaled error norm is `error`
    /// (`None` without an estimate; `err ≤ 1` means within tolerance).
    fn decide(&mut self, h: f64, error: Option<f64>) -> Decision;

    /// Decide on an attempt whose state or stages were non-finite: the
    /// controller may shrink `h` and retry (`Some`), or give up (`None`).
    fn shrink_after_non_finite(&mut self, h: f64) -> Option<f64>;

    /// The scaled norm of an error estimate `error` of a step from `y0` to
    /// `y1` (≤ 1 means within tolerance).
    fn error_norm<S: State>(&self, error: &S, y0: &S, y1: &S) -> f64;

    /// The first step size, from `f0 = f(t0, y0)`; `eval_at(h, y, out)`
    /// evaluates the field at `t0 + h` if the rule needs it.
    fn initial_step<S: State>(&self, y0: &S, f0: &S, order: u32, eval_at: impl FnMut(f64, &S, &mut S)) -> f64;

    /// Steps below this size end the run with `StepTooSmall`.
    fn h_min(&self) -> f64 {
        0.0
    }
}

/// A constant step: every finite attempt is accepted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConstantStep {
    /// The step size.
    pub h: f64,
}

impl ConstantStep {
    /// A constant step `h > 0`.
    pub fn new(h: f64) -> Result<Self, IntegrateError> {
        if h.is_finite() && h > 0.0 {
            Ok(Self { h })
        } else {
            Err(IntegrateError::InvalidStep(h))
        }
    }
}

impl StepSizeController for ConstantStep {
    fn needs_error_estimate(&self) -> bool {
        false
    }
    fn decide(&mut self, _h: f64, _error: Option<f64>) -> Decision {
        Decision { accept: true, next_h: self.h }
    }
    /// A fixed-step method has no smaller step to retry with.
    fn shrink_after_non_finite(&mut self, _h: f64) -> Option<f64> {
        None
    }
    fn error_norm<S: State>(&self, _error: &S, _y0: &S, _y1: &S) -> f64 {
        0.0
    }
    fn initial_step<S: State>(&self, _y0: &S, _f0: &S, _order: u32, _eval_at: impl FnMut(f64, &S, &mut S)) -> f64 {
        self.h
    }
}

/// Tolerances and constants of [`PiController`] (Hairer, Nørsett, Wanner,
/// *Solving ODEs I*, §II.4 and the DOPRI5 code).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PiParams {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Integral gain α (exponent of the current error); default `0.2 − 0.75β`.
    pub alpha: f64,
    /// Proportional gain β (exponent of the previous error); default 0.04.
    pub beta: f64,
    /// Safety factor; default 0.9.
    pub safety: f64,
    /// Smallest factor between consecutive step sizes; default 0.2.
    pub min_factor: f64,
    /// Largest factor between consecutive step sizes; default 10.
    pub max_factor: f64,
    /// Smallest step size before the run stops with `StepTooSmall`.
    pub h_min: f64,
    /// Largest step size.
    pub h_max: f64,
}

impl PiParams {
    /// Hairer's defaults for an error estimator of order 4 (Dormand–Prince):
    /// β = 0.04, α = 0.2 − 0.75β, safety 0.9, factor ∈ [0.2, 10].
    pub fn new(rtol: f64, atol: f64) -> Result<Self, IntegrateError> {
        let positive = |x: f64| x.is_finite() && x >= 0.0;
        if !(positive(rtol) && positive(atol) && rtol + atol > 0.0) {
            return Err(IntegrateError::InvalidTolerance { rtol, atol });
        }
        let beta = 0.04;
        Ok(Self {
            rtol,
            atol,
            alpha: 0.2 - 0.75 * beta,
            beta,
            safety: 0.9,
            min_factor: 0.2,
            max_factor: 10.0,
            h_min: 1e-12,
            h_max: f64::INFINITY,
        })
    }
}

/// Hairer's PI step-size controller: after an attempt with scaled error
/// `err`, `h_new = h · clamp(safety · err^(−α) · err_prev^β, min, max)`;
/// accept if `err ≤ 1`. A rejection shrinks by `max(min, safety · err^(−α))`
/// and the step after a rejection may not grow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PiController {
    /// The parameters.
    pub params: PiParams,
    previous_error: f64,
    rejected_last: bool,
}

impl PiController {
    /// A controller with `params`.
    pub fn new(params: PiParams) -> Self {
        // Hairer's initial value of the previous error.
        Self { params, previous_error: 1e-4, rejected_last: false }
    }
}

impl StepSizeController for PiController {
    fn needs_error_estimate(&self) -> bool {
        true
    }

    fn decide(&mut self, h: f64, error: Option<f64>) -> Decision {
        let p = self.params;
        let err = error.unwrap_or(f64::INFINITY);
        if err <= 1.0 {
            let err = err.max(1e-16);
            let factor = p.safety * err.powf(-p.alpha) * self.previous_error.powf(p.beta);
            let mut factor = factor.clamp(p.min_factor, p.max_factor);
            if self.rejected_last {
                factor = factor.min(1.0);
            }
            self.previous_error = err.max(1e-4);
            self.rejected_last = false;
            Decision { accept: true, next_h: (h * factor).min(p.h_max) }
        } else {
            let factor = (p.safety * err.powf(-p.alpha)).max(p.min_factor);
            self.rejected_last = true;
            Decision { accept: false, next_h: h * factor }
        }
    }

    fn shrink_after_non_finite(&mut self, h: f64) -> Option<f64> {
        self.rejected_last = true;
        Some(h * self.params.min_factor)
    }

    fn error_norm<S: State>(&self, error: &S, y0: &S, y1: &S) -> f64 {
        error.weighted_rms_norm(y0, y1, self.params.atol, self.params.rtol)
    }

    fn h_min(&self) -> f64 {
        self.params.h_min
    }

    /// Hairer's initial step (`hinit` of DOPRI5) for a method of `order`,
    /// from `f0 = f(t0, y0)` and one more evaluation `f1` at `y0 + h·f0`,
    /// which `eval_at` performs: one evaluation.
    fn initial_step<S: State>(&self, y0: &S, f0: &S, order: u32, mut eval_at: impl FnMut(f64, &S, &mut S)) -> f64 {
        let p = &self.params;
        let norm = |v: &S| v.weighted_rms_norm(y0, y0, p.atol, p.rtol);
        let (dny, dnf) = (norm(y0), norm(f0));
        let mut h = if dnf <= 1e-10 || dny <= 1e-10 { 1e-6 } else { 0.01 * dny / dnf };
        h = h.min(p.h_max);
        let mut y1 = y0.clone();
        y1.axpy(h, f0);
        let mut f1 = f0.zeros_like();
        eval_at(h, &y1, &mut f1);
        f1.axpy(-1.0, f0);
        let der2 = norm(&f1) / h;
        let der12 = der2.max(dnf);
        let h1 = if der12.is_nan() || der12 <= 1e-15 {
            (h * 1e-3).max(1e-6)
        } else {
            (0.01 / der12).powf(1.0 / f64::from(order))
        };
        let h = (100.0 * h).min(h1).min(p.h_max);
        if h.is_finite() && h > 0.0 {
            h
        } else {
            1e-6f64.min(p.h_max)
        }
    }
}

/// Either controller, for code that picks one at run time (e.g. from a
/// method name).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    /// [`ConstantStep`].
    Constant(ConstantStep),
    /// [`PiController`].
    Pi(PiController),
}

impl StepSizeController for Control {
    fn needs_error_estimate(&self) -> bool {
        match self {
            Control::Constant(c) => c.needs_error_estimate(),
            Control::Pi(c) => c.needs_error_estimate(),
        }
    }
    fn decide(&mut self, h: f64, error: Option<f64>) -> Decision {
        match self {
            Control::Constant(c) => c.decide(h, error),
            Control::Pi(c) => c.decide(h, error),
        }
    }
    fn shrink_after_non_finite(&mut self, h: f64) -> Option<f64> {
        match self {
            Control::Constant(c) => c.shrink_after_non_finite(h),
            Control::Pi(c) => c.shrink_after_non_finite(h),
        }
    }
    fn error_norm<S: State>(&self, error: &S, y0: &S, y1: &S) -> f64 {
        match self {
            Control::Constant(c) => c.error_norm(error, y0, y1),
            Control::Pi(c) => c.error_norm(error, y0, y1),
        }
    }
    fn initial_step<S: State>(&self, y0: &S, f0: &S, order: u32, eval_at: impl FnMut(f64, &S, &mut S)) -> f64 {
        match self {
            Control::Constant(c) => c.initial_step(y0, f0, order, eval_at),
            Control::Pi(c) => c.initial_step(y0, f0, order, eval_at),
        }
    }
    fn h_min(&self) -> f64 {
        match self {
            Control::Constant(c) => c.h_min(),
            Control::Pi(c) => c.h_min(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pi_accepts_within_tolerance_and_limits_growth() {
        let mut c = PiController::new(PiParams::new(1e-6, 1e-9).unwrap());
        let d = c.decide(0.1, Some(1e-12));
        assert!(d.accept);
        assert!((d.next_h - 1.0).abs() < 1e-12, "growth is capped at 10×");
        let r = c.decide(1.0, Some(1e6));
        assert!(!r.accept);
        assert!((r.next_h - 0.2).abs() < 1e-12, "shrink is capped at 0.2×");
        let after = c.decide(0.2, Some(1e-12));
        assert!(after.accept && after.next_h <= 0.2, "no growth right after a rejection");
    }

    #[test]
    fn pi_factor_matches_hairer() {
        let mut c = PiController::new(PiParams::new(1e-6, 1e-9).unwrap());
        let d = c.decide(1.0, Some(0.5));
        let want = 0.9 * 0.5f64.powf(-0.17) * 1e-4f64.powf(0.04);
        assert!((d.next_h - want).abs() < 1e-14);
        let d2 = c.decide(1.0, Some(0.25));
        let want2 = 0.9 * 0.25f64.powf(-0.17) * 0.5f64.powf(0.04);
        assert!((d2.next_h - want2).abs() < 1e-14);
    }

    #[test]
    fn bad_tolerances_are_errors() {
        assert!(PiParams::new(-1.0, 1e-9).is_err());
        assert!(PiParams::new(0.0, 0.0).is_err());
        assert!(PiParams::new(f64::NAN, 1e-9).is_err());
        assert!(ConstantStep::new(0.0).is_err());
    }
}
