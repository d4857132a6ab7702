//! Adaptive Dormand–Prince with the PI controller on standard problems, and
//! each termination reason of the driver.

use odelora_integrators::test_problems::TestProblem;
use odelora_integrators::{
    integrate, ConstantStep, IntegrateError, IntegrateParams, PiController, PiParams, Solution, Termination,
    DORMAND_PRINCE, RK4,
};

fn run_adaptive(problem: TestProblem, rtol: f64, atol: f64, params: IntegrateParams) -> Solution<Vec<f64>> {
    let mut f = |t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| problem.eval(t, y, dy);
    let pi = PiController::new(PiParams::new(rtol, atol).unwrap());
    integrate(&mut f, DORMAND_PRINCE, pi, 0.0, &problem.y0(), &params, &mut ()).unwrap()
}

fn rk4_reference(problem: TestProblem, t_end: f64, h: f64) -> Vec<f64> {
    let mut f = |t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| problem.eval(t, y, dy);
    let step = ConstantStep::new(h).unwrap();
    integrate(&mut f, RK4, step, 0.0, &problem.y0(), &IntegrateParams::until(t_end), &mut ()).unwrap().y
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Van der Pol and Lotka–Volterra at rtol 1e-6, atol 1e-9 agree with a
/// fine-step RK4 reference (h = 1e-3, error ~1e-12) to 1e-4.
#[test]
fn dopri5_matches_a_fine_rk4_reference() {
    for problem in [TestProblem::VanDerPol, TestProblem::LotkaVolterra] {
        let t_end = problem.default_t_end();
        let sol = run_adaptive(problem, 1e-6, 1e-9, IntegrateParams::until(t_end));
        assert_eq!(sol.termination, Termination::Reached, "{}", problem.name());
        let reference = rk4_reference(problem, t_end, 1e-3);
        let diff = max_abs_diff(&sol.y, &reference);
        assert!(diff < 1e-4, "{}: |y − y_ref| = {diff:e}, stats {:?}", problem.name(), sol.stats);
        // FSAL: 6 evaluations per attempt after the first, plus the 2 of the initial-step rule.
        assert_eq!(sol.stats.evals, 2 + 6 * sol.stats.steps, "{:?}", sol.stats);
        assert_eq!(sol.stats.steps, sol.stats.accepted + sol.stats.rejected);
    }
}

/// Tighter tolerances buy smaller errors with more work, on the linear
/// system against its matrix exponential.
#[test]
fn error_and_work_follow_the_tolerance() {
    let problem = TestProblem::Linear;
    let exact = problem.exact(5.0).unwrap();
    let mut last: Option<(f64, u64)> = None;
    for rtol in [1e-4, 1e-6, 1e-8, 1e-10] {
        let sol = run_adaptive(problem, rtol, rtol * 1e-3, IntegrateParams::until(5.0));
        let err = max_abs_diff(&sol.y, &exact);
        assert!(err < 100.0 * rtol, "rtol {rtol:e}: error {err:e}");
        if let Some((prev_err, prev_evals)) = last {
            assert!(err < prev_err && sol.stats.evals > prev_evals, "rtol {rtol:e}: {err:e} / {}", sol.stats.evals);
        }
        last = Some((err, sol.stats.evals));
    }
}

#[test]
fn budget_and_max_steps_stop_the_run() {
    let problem = TestProblem::VanDerPol;
    let budget = IntegrateParams { eval_budget: Some(100), ..IntegrateParams::until(20.0) };
    let sol = run_adaptive(problem, 1e-6, 1e-9, budget);
    assert_eq!(sol.termination, Termination::Budget);
    assert!(sol.stats.evals <= 100 && sol.stats.evals > 100 - 6, "{:?}", sol.stats);
    let capped = IntegrateParams { max_steps: 7, ..IntegrateParams::until(20.0) };
    let sol = run_adaptive(problem, 1e-6, 1e-9, capped);
    assert_eq!((sol.termination, sol.stats.accepted), (Termination::MaxSteps, 7));
}

/// y' = y² from y(0) = 1 blows up at t = 1: the controller shrinks the step
/// until it falls below h_min.
#[test]
fn blow_up_ends_with_step_too_small() {
    let mut f = |_t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| dy[0] = y[0] * y[0];
    let pi = PiController::new(PiParams::new(1e-8, 1e-8).unwrap());
    let sol = integrate(&mut f, DORMAND_PRINCE, pi, 0.0, &vec![1.0], &IntegrateParams::until(2.0), &mut ()).unwrap();
    assert_eq!(sol.termination, Termination::StepTooSmall);
    // The numerical solution lags the true one slightly, so it may pass t = 1 by rounding.
    assert!((sol.t - 1.0).abs() < 1e-6, "stopped at t = {}", sol.t);
    assert!(sol.y[0].is_finite());
}

/// A field that is NaN for y < 0: too large a first step sends a stage
/// there; the attempt is rejected and retried smaller, not fatal.
#[test]
fn non_finite_attempts_are_retried_then_fatal_for_fixed_steps() {
    let field = |_t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| dy[0] = if y[0] < 0.0 { f64::NAN } else { -y[0] };
    let mut f = field;
    let pi = PiController::new(PiParams::new(1e-8, 1e-10).unwrap());
    let params = IntegrateParams { h0: Some(20.0), ..IntegrateParams::until(3.0) };
    let sol = integrate(&mut f, DORMAND_PRINCE, pi, 0.0, &vec![1.0], &params, &mut ()).unwrap();
    assert_eq!(sol.termination, Termination::Reached);
    assert!(sol.stats.rejected >= 1);
    assert!((sol.y[0] - (-3f64).exp()).abs() < 1e-7);
    // A constant step cannot shrink: the same blow-up terminates.
    let mut f = field;
    let step = ConstantStep::new(3.0).unwrap();
    let sol = integrate(&mut f, RK4, step, 0.0, &vec![1.0], &IntegrateParams::until(3.0), &mut ()).unwrap();
    assert_eq!(sol.termination, Termination::NonFinite);
    assert_eq!(sol.y, vec![1.0], "the last finite state is kept");
}

#[test]
fn adaptive_control_needs_an_embedded_tableau() {
    let mut f = |_t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| dy[0] = -y[0];
    let pi = PiController::new(PiParams::new(1e-6, 1e-9).unwrap());
    let err = integrate(&mut f, RK4, pi, 0.0, &vec![1.0], &IntegrateParams::until(1.0), &mut ()).unwrap_err();
    assert_eq!(err, IntegrateError::NoErrorEstimate("rk4"));
}

/// Many constant steps land on t_end without a rounding-sized extra step.
#[test]
fn constant_steps_land_on_the_end_time() {
    let mut f = |_t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| dy[0] = -y[0];
    let step = ConstantStep::new(1e-4).unwrap();
    let sol =
        integrate(&mut f, odelora_integrators::EULER, step, 0.0, &vec![1.0], &IntegrateParams::until(20.0), &mut ())
            .unwrap();
    assert_eq!((sol.termination, sol.stats.accepted, sol.t), (Termination::Reached, 200_000, 20.0));
}

#[test]
fn observers_receive_records_on_a_schedule() {
    use odelora_integrators::{Every, StepRecord};
    let mut f = |_t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| dy[0] = -y[0];
    let mut seen = Vec::new();
    let mut observer = Every { n: 4, inner: |r: &StepRecord<'_, Vec<f64>>| seen.push((r.step, r.t)), t_end: 1.0 };
    let step = ConstantStep::new(0.1).unwrap();
    let sol = integrate(&mut f, RK4, step, 0.0, &vec![1.0], &IntegrateParams::until(1.0), &mut observer).unwrap();
    assert_eq!(sol.stats.accepted, 10);
    let steps: Vec<u64> = seen.iter().map(|&(s, _)| s).collect();
    assert_eq!(steps, vec![0, 4, 8, 10], "initial, every 4th, and the final step");
    assert_eq!(seen.last().unwrap().1, 1.0);
}
