//! Fitted log–log convergence orders on standard test ODEs with known solutions.

use odelora_integrators::test_problems::TestProblem;
use odelora_integrators::{
    integrate, ButcherTableau, ConstantStep, IntegrateParams, Termination, DORMAND_PRINCE, EULER, RK4,
};

/// Least-squares slope of log(err) against log(h).
fn fitted_order(hs: &[f64], errs: &[f64]) -> f64 {
    let xs: Vec<f64> = hs.iter().map(|h| h.ln()).collect();
    let ys: Vec<f64> = errs.iter().map(|e| e.ln()).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    sxy / sxx
}

/// Global error at `t_end` (2-norm) for each constant step size.
fn errors(tableau: ButcherTableau, problem: TestProblem, t_end: f64, hs: &[f64]) -> Vec<f64> {
    let exact = problem.exact(t_end).expect("a problem with an exact solution");
    hs.iter()
        .map(|&h| {
            let mut f = |t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| problem.eval(t, y, dy);
            let step = ConstantStep::new(h).unwrap();
            let sol =
                integrate(&mut f, tableau, step, 0.0, &problem.y0(), &IntegrateParams::until(t_end), &mut ()).unwrap();
            assert_eq!(sol.termination, Termination::Reached);
            sol.y.iter().zip(&exact).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()
        })
        .collect()
}

/// Euler 1 ± 0.1, RK4 4 ± 0.2, Dormand–Prince 5 ± 0.3 on the linear system
/// (against the matrix exponential) and the oscillator. Step sizes keep the
/// errors well above rounding (≥ 1e-12) so the fit sees truncation only.
#[test]
fn euler_rk4_dopri5_orders() {
    let t_end = 2.0;
    let cases: [(ButcherTableau, &[f64], f64, f64); 3] = [
        (EULER, &[1e-2, 5e-3, 2.5e-3, 1.25e-3], 1.0, 0.1),
        (RK4, &[1e-1, 5e-2, 2.5e-2, 1.25e-2], 4.0, 0.2),
        (DORMAND_PRINCE, &[2e-1, 1e-1, 5e-2, 2.5e-2], 5.0, 0.3),
    ];
    for (tableau, hs, want, tol) in cases {
        for problem in [TestProblem::Linear, TestProblem::Oscillator] {
            let errs = errors(tableau, problem, t_end, hs);
            let p = fitted_order(hs, &errs);
            assert!(
                (p - want).abs() <= tol,
                "{} on {}: fitted order {p:.3}, errors {errs:?}",
                tableau.name,
                problem.name()
            );
        }
    }
}
