//! One explicit Runge–Kutta stepper for every tableau.

use crate::{ButcherTableau, State, VectorField};

/// What one attempted step produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepAttempt {
    /// Field evaluations this attempt used.
    pub evals: u64,
    /// Whether the proposed state and every stage were finite.
    pub finite: bool,
}

/// Explicit Runge–Kutta stepper driven by a [`ButcherTableau`].
///
/// It proposes `y_1` from `(t, y)` and, for embedded tableaux, the error
/// estimate `h Σ (b_i − b̂_i) k_i`; accepting or rejecting is the
/// controller's job. Stage storage is allocated once, in [`new`](Self::new).
///
/// For FSAL tableaux the last stage of an accepted step is reused as the
/// first stage of the next one; call [`accept`](Self::accept) after every
/// accepted step and [`reset`](Self::reset) whenever the state is changed
/// from outside (e.g. by rebalancing).
#[derive(Debug, Clone)]
pub struct RungeKutta<S> {
    tableau: ButcherTableau,
    stages: Vec<S>,
    stage_input: S,
    /// `stages[0] == f(t, y)` for the `y` the next step starts from.
    first_stage_known: bool,
}

impl<S: State> RungeKutta<S> {
    /// A stepper for `tableau`, with stages shaped like `template`.
    pub fn new(tableau: ButcherTableau, template: &S) -> Self {
        Self {
            tableau,
            stages: (0..tableau.stages()).map(|_| template.zeros_like()).collect(),
            stage_input: template.zeros_like(),
            first_stage_known: false,
        }
    }

    /// The tableau this stepper runs.
    pub fn tableau(&self) -> &ButcherTableau {
        &self.tableau
    }

    /// Whether this stepper can estimate its local error.
    pub fn has_error_estimate(&self) -> bool {
        self.tableau.b_embedded.is_some()
    }

    /// Forget the cached first stage (the state was changed from outside).
    pub fn reset(&mut self) {
        self.first_stage_known = false;
    }

    /// Record that the last attempt was accepted and `y_new` is the next
    /// step's starting point.
    pub fn accept(&mut self) {
        if self.tableau.fsal {
            let last = self.stages.len() - 1;
            self.stages.swap(0, last);
            self.first_stage_known = true;
        } else {
            self.first_stage_known = false;
        }
    }

    /// Evaluate the first stage `f(t, y)` unless it is cached; returns the
    /// evaluations used (0 or 1).
    pub fn prime<F: VectorField<S>>(&mut self, field: &mut F, t: f64, y: &S) -> u64 {
        if self.first_stage_known {
            return 0;
        }
        field.eval(t, y, &mut self.stages[0]);
        self.first_stage_known = true;
        1
    }

    /// Field evaluations the next attempt will use.
    pub fn next_attempt_cost(&self) -> u64 {
        (self.tableau.stages() - usize::from(self.first_stage_known)) as u64
    }

    /// The field value `f(t, y)` at the start of the last attempt.
    pub fn first_stage(&self) -> &S {
        &self.stages[0]
    }

    /// Attempt one step of size `h` from `(t, y)`, writing the proposal to
    /// `y_new` and, when `error` is given and the tableau is embedded, the
    /// local error estimate to `error`. A rejected attempt can be retried
    /// from the same `y` with a smaller `h` without re-evaluating `f(t, y)`.
    pub fn attempt<F: VectorField<S>>(
        &mut self,
        field: &mut F,
        t: f64,
        h: f64,
        y: &S,
        y_new: &mut S,
        error: Option<&mut S>,
    ) -> StepAttempt {
        let tab = self.tableau;
        let mut evals = self.prime(field, t, y);
        let mut finite = self.stages[0].is_finite();
        for i in 1..tab.stages() {
            if !finite {
                break;
            }
            self.stage_input.copy_from(y);
            for (j, &a) in tab.a[i].iter().enumerate() {
                if a != 0.0 {
                    self.stage_input.axpy(h * a, &self.stages[j]);
                }
            }
            // Split borrow: stage i is written, stages < i were read above.
            let (_, rest) = self.stages.split_at_mut(i);
            field.eval(t + tab.c[i] * h, &self.stage_input, &mut rest[0]);
            evals += 1;
            finite = rest[0].is_finite();
        }
        if !finite {
            // The first stage stays valid (if it was finite), so a retry from
            // the same y with a smaller step does not recompute it.
            self.first_stage_known = self.stages[0].is_finite();
            return StepAttempt { evals, finite: false };
        }
        y_new.copy_from(y);
        for (k, &b) in self.stages.iter().zip(tab.b) {
            if b != 0.0 {
                y_new.axpy(h * b, k);
            }
        }
        if let (Some(err), Some(bh)) = (error, tab.b_embedded) {
            err.scale(0.0);
            for ((k, &b), &bh) in self.stages.iter().zip(tab.b).zip(bh) {
                let e = b - bh;
                if e != 0.0 {
                    err.axpy(h * e, k);
                }
            }
        }
        StepAttempt { evals, finite: y_new.is_finite() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EvalCounter, DORMAND_PRINCE, EULER, RK4};

    #[test]
    fn euler_step_is_y_plus_h_f() {
        let mut f = |_t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| {
            dy[0] = -2.0 * y[0];
        };
        let y = vec![1.0];
        let mut y1 = vec![0.0];
        let mut rk = RungeKutta::new(EULER, &y);
        let a = rk.attempt(&mut f, 0.0, 0.1, &y, &mut y1, None);
        assert_eq!(a, StepAttempt { evals: 1, finite: true });
        assert!((y1[0] - 0.8).abs() < 1e-15);
    }

    #[test]
    fn rk4_is_exact_for_cubic_in_t() {
        // y' = 3t² + 2t + 1 integrates to t³ + t² + t exactly with RK4.
        let mut f = |t: f64, _y: &Vec<f64>, dy: &mut Vec<f64>| dy[0] = 3.0 * t * t + 2.0 * t + 1.0;
        let y = vec![0.0];
        let mut y1 = vec![0.0];
        let mut rk = RungeKutta::new(RK4, &y);
        rk.attempt(&mut f, 0.0, 0.7, &y, &mut y1, None);
        let want = 0.7f64.powi(3) + 0.49 + 0.7;
        assert!((y1[0] - want).abs() < 1e-14);
    }

    #[test]
    fn fsal_reuses_last_stage() {
        let mut f = EvalCounter::new(|_t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| dy[0] = -y[0]);
        let mut y = vec![1.0];
        let mut y1 = vec![0.0];
        let mut err = vec![0.0];
        let mut rk = RungeKutta::new(DORMAND_PRINCE, &y);
        let first = rk.attempt(&mut f, 0.0, 0.1, &y, &mut y1, Some(&mut err));
        assert_eq!(first.evals, 7);
        rk.accept();
        y.copy_from(&y1);
        let second = rk.attempt(&mut f, 0.1, 0.1, &y, &mut y1, Some(&mut err));
        assert_eq!(second.evals, 6);
        assert_eq!(f.evals(), 13);
        // Fifth order: two steps of 0.1 leave ~5e-10; the embedded fourth-order
        // estimate is larger than the fifth-order error but still small.
        assert!((y1[0] - (-0.2f64).exp()).abs() < 1e-9);
        assert!(err[0].abs() > 1e-10 && err[0].abs() < 1e-5, "estimate {:e}", err[0]);
    }

    #[test]
    fn non_finite_stage_is_reported() {
        let mut f = |_t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| dy[0] = 1.0 / (y[0] - 1.5);
        let y = vec![1.0];
        let mut y1 = vec![0.0];
        let mut rk = RungeKutta::new(RK4, &y);
        // The second stage lands exactly on the pole at y = 1.5.
        let a = rk.attempt(&mut f, 0.0, -0.5, &y, &mut y1, None);
        assert!(!a.finite);
    }
}
