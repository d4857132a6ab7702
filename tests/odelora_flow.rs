//! ODELoRA end to end through the facade: the integrators converge to the
//! flow of the ODELoRA field on a real objective at their classical orders,
//! and the cost of a run is counted in gradient evaluations.

use faer::Mat;
use odelora::integrators::{ButcherTableau, EULER, RK4};
use odelora::manifold::{Method, Odelora, OdeloraParams};
use odelora::problems::{MatrixSensing, MatrixSensingParams};

fn instance() -> MatrixSensing {
    MatrixSensing::new(MatrixSensingParams { kappa: 10.0, seed: 11, ..MatrixSensingParams::square(10, 2) }).unwrap()
}

/// `X(T) = B(T)A(T)` after integrating to `t_end` with steps of size `h`.
fn product_at(tableau: ButcherTableau, h: f64, t_end: f64) -> Mat<f64> {
    let mut sensing = instance();
    let mut method = Odelora::new("odelora", OdeloraParams::new(tableau, h, 2), &mut sensing, 0).unwrap();
    let steps = (t_end / h).round() as usize;
    for _ in 0..steps {
        method.step(&mut sensing, None).unwrap();
    }
    method.layers().0[0].product()
}

fn fitted_order(hs: &[f64], errs: &[f64]) -> f64 {
    let n = hs.len() as f64;
    let xs: Vec<f64> = hs.iter().map(|h| h.ln()).collect();
    let ys: Vec<f64> = errs.iter().map(|e| e.ln()).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    sxy / sxx
}

/// Euler and RK4 on the ODELoRA field of matrix sensing converge to the same
/// flow X(t) with orders 1 and 4: the field is smooth along the trajectory
/// and the steppers integrate it as they integrate any ODE.
#[test]
fn integrators_converge_to_the_odelora_flow_at_their_orders() {
    let t_end = 0.8;
    let reference = product_at(RK4, 0.0125, t_end);
    let scale = reference.norm_l2();
    for (tableau, hs, want, tol) in
        [(EULER, [0.1, 0.05, 0.025, 0.0125], 1.0, 0.15), (RK4, [0.2, 0.1, 0.08, 0.05], 4.0, 0.3)]
    {
        let errs: Vec<f64> =
            hs.iter().map(|&h| (product_at(tableau, h, t_end) - &reference).norm_l2() / scale).collect();
        let p = fitted_order(&hs, &errs);
        assert!((p - want).abs() <= tol, "{}: fitted order {p:.3}, errors {errs:?}", tableau.name);
    }
}

/// Spectral init costs one gradient; Euler one per step, RK4 four.
#[test]
fn evaluations_are_counted_per_stage() {
    for (tableau, per_step) in [(EULER, 1), (RK4, 4)] {
        let mut sensing = instance();
        let mut method = Odelora::new("odelora", OdeloraParams::new(tableau, 0.1, 2), &mut sensing, 0).unwrap();
        assert_eq!(method.evals(), 1);
        for _ in 0..5 {
            method.step(&mut sensing, None).unwrap();
        }
        assert_eq!(method.evals(), 1 + 5 * per_step, "{}", tableau.name);
    }
}
