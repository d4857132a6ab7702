//! Fitted log–log convergence orders on standard test ODEs with known solutions.

use odelora_integrators::{
    integrate, ButcherTableau, ConstantStep, IntegrateParams, Termination, DORMAND_PRINCE, EULER,
    RK4,
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

/// Global error at `t_end` for each step size.
fn errors(
    tableau: ButcherTableau,
    field: impl Fn(&Vec<f64>, &mut Vec<f64>) + Copy,
    y0: &[f64],
    t_end: f64,
    exact: &[f64],
    hs: &[f64],
) -> Vec<f64> {
    hs.iter()
        .map(|&h| {
            let mut f = |_t: f64, y: &Vec<f64>, dy: &mut Vec<f64>| field(y, dy);
            let step = ConstantStep::new(h).unwrap();
            let sol = integrate(
                &mut f,
                tableau,
                step,
                0.0,
                &y0.to_vec(),
                &IntegrateParams::until(t_end),
                &mut (),
            )
            .unwrap();
            assert_eq!(sol.termination, Termination::Reached);
            sol.y
                .iter()
                .zip(exact)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

fn oscillator(y: &Vec<f64>, dy: &mut Vec<f64>) {
    dy[0] = y[1];
    dy[1] = -y[0];
}

/// y' = M y with M = [[-1, 2], [-2, -1]]: y(t) = e^{-t} R(2t) y0, a rotation.
fn damped_rotation(y: &Vec<f64>, dy: &mut Vec<f64>) {
    dy[0] = -y[0] + 2.0 * y[1];
    dy[1] = -2.0 * y[0] - y[1];
}

#[test]
fn euler_rk4_dopri5_orders() {
    let t_end = 2.0f64;
    let osc_exact = [t_end.cos(), -t_end.sin()];
    let rot_exact = [
        (-t_end).exp() * (2.0 * t_end).cos(),
        -(-t_end).exp() * (2.0 * t_end).sin(),
    ];
    // Step sizes keep the errors well above rounding (≥ 1e-12) so the fit
    // sees the truncation error only.
    let cases: [(&str, ButcherTableau, &[f64], f64, f64); 3] = [
        ("euler", EULER, &[1e-2, 5e-3, 2.5e-3, 1.25e-3], 1.0, 0.1),
        ("rk4", RK4, &[1e-1, 5e-2, 2.5e-2, 1.25e-2], 4.0, 0.2),
        (
            "dopri5",
            DORMAND_PRINCE,
            &[2e-1, 1e-1, 5e-2, 2.5e-2],
            5.0,
            0.3,
        ),
    ];
    for (name, tab, hs, want, tol) in cases {
        for (problem, field, exact) in [
            (
                "oscillator",
                oscillator as fn(&Vec<f64>, &mut Vec<f64>),
                osc_exact,
            ),
            ("linear", damped_rotation, rot_exact),
        ] {
            let errs = errors(tab, field, &[1.0, 0.0], t_end, &exact, hs);
            let p = fitted_order(hs, &errs);
            assert!(
                (p - want).abs() <= tol,
                "{name} on {problem}: fitted order {p:.3}, errors {errs:?}"
            );
        }
    }
}
