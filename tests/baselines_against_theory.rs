//! Baselines checked against what their theory predicts: ScaledGD's
//! κ-independent linear rate (Tong, Ma, Chi 2021), and ODELoRA at full rank
//! being full fine-tuning up to Euler's second-order term (SPEC P5).

use faer::Mat;
use odelora::baselines::{FullFineTuning, FullParams, Lora, LoraParams, Optimizer, Preconditioner};
use odelora::integrators::EULER;
use odelora::manifold::{Init, Method, Odelora, OdeloraParams};
use odelora::problems::{MatrixSensing, MatrixSensingParams, Objective};
use odelora_analysis::rates::{fit_contraction, fit_line};

/// Riemannian GD with damping 0 from the spectral init is ScaledGD: at
/// η = 0.5 on matrix sensing (n = 50, r* = 3, m = 5·n·r*) it reaches 1e-10
/// within 300 steps at κ = 1, 10, 100, and its fitted per-step contraction
/// (over the window 1e-3 … 1e-11) varies by less than 0.05 across κ.
#[test]
fn scaled_gd_has_a_kappa_independent_linear_rate() {
    let mut factors = Vec::new();
    for kappa in [1.0, 10.0, 100.0] {
        let mut sensing =
            MatrixSensing::new(MatrixSensingParams { kappa, seed: 1, ..MatrixSensingParams::square(50, 3) }).unwrap();
        let params = LoraParams {
            preconditioner: Preconditioner::Riemannian { damping: 0.0 },
            init: Init::SPECTRAL,
            ..LoraParams::gd(0.5, 3)
        };
        let mut method = Lora::new("riemannian-gd", params, &mut sensing, 1).unwrap();
        let mut errors = vec![sensing.metrics(method.weights()).rel_error];
        for _ in 0..300 {
            method.step(&mut sensing, None).unwrap();
            errors.push(sensing.metrics(method.weights()).rel_error);
        }
        let reached = errors.iter().position(|&e| e < 1e-10);
        assert!(reached.is_some(), "κ = {kappa}: final error {:e}", errors[300]);
        let steps: Vec<f64> = (0..errors.len()).map(|k| k as f64).collect();
        let fit = fit_contraction(&steps, &errors, 1e-11, 1e-3).unwrap();
        assert!(fit.r_squared > 0.99, "κ = {kappa}: {fit:?}");
        factors.push(fit.factor);
    }
    let spread =
        factors.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)) - factors.iter().fold(1.0, |a: f64, &b| a.min(b));
    assert!(spread < 0.05, "contraction factors {factors:?} vary by {spread}");
}

/// With r = min(m, n), one ODELoRA-Euler step moves W = BA by `−hG + h² F_B F_A`
/// and one full-GD step from the same W by `−hG`: they differ by O(h²).
#[test]
fn full_rank_odelora_euler_is_full_gd_to_second_order() {
    let params = MatrixSensingParams { n1: 6, n2: 5, true_rank: 2, ..MatrixSensingParams::square(6, 2) };
    let hs = [0.1, 0.05, 0.025, 0.0125];
    let mut gaps = Vec::new();
    for &h in &hs {
        let mut sensing = MatrixSensing::new(params.clone()).unwrap();
        let mut ode = Odelora::new("odelora-euler", OdeloraParams::new(EULER, h, 5), &mut sensing, 0).unwrap();
        let start: Vec<Mat<f64>> = ode.weights().to_vec();
        let gd = FullParams { optimizer: Optimizer::Gd, lr: h };
        let mut full = FullFineTuning::from_weights("full-gd", gd, start).unwrap();
        ode.step(&mut sensing, None).unwrap();
        full.step(&mut sensing, None).unwrap();
        gaps.push((&ode.weights()[0] - &full.weights()[0]).norm_l2());
    }
    let logs = |v: &[f64]| v.iter().map(|x| x.ln()).collect::<Vec<_>>();
    let slope = fit_line(&logs(&hs), &logs(&gaps)).unwrap().slope;
    assert!((slope - 2.0).abs() < 0.05, "slope {slope}, gaps {gaps:?}");
}
