//! The paper's claims as property tests (SPEC §2, §5.2, §5.3): linear
//! convergence under strong convexity and in matrix sensing, balance along
//! the discrete trajectories, and stable feature learning across widths.
//! Every test draws ≥ 64 random instances from a fixed proptest seed.

use odelora::integrators::{ButcherTableau, EULER, RK4};
use odelora::manifold::{Method, Odelora, OdeloraParams};
use odelora::problems::{ConvexQuadratic, ConvexQuadraticParams, Objective};
use odelora_analysis::rates::fit_contraction;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, rng_seed: RngSeed::Fixed(0x7E0_2E35), ..ProptestConfig::default() }
}

/// The stability polynomial `R(z)` of a tableau of order ≤ 4 that equals
/// its Taylor polynomial (Euler: 1 + z; RK4: Σ_{k≤4} z^k/k!).
fn stability_polynomial(tableau: &ButcherTableau, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..=tableau.order {
        term *= z / f64::from(k);
        sum += term;
    }
    sum
}

/// Relative errors ‖BA − W*‖/‖W*‖ and losses along an ODELoRA run.
fn trajectory(
    objective: &mut ConvexQuadratic,
    tableau: ButcherTableau,
    h: f64,
    rank: usize,
    max_steps: usize,
) -> (Vec<f64>, Vec<f64>) {
    let mut method = Odelora::new("odelora", OdeloraParams::new(tableau, h, rank), objective, 0).unwrap();
    let (mut errors, mut losses) = (Vec::new(), Vec::new());
    for _ in 0..max_steps {
        let m = objective.metrics(method.weights());
        errors.push(m.rel_error);
        losses.push(m.loss);
        if m.rel_error < 1e-12 {
            break;
        }
        method.step(objective, None).unwrap();
    }
    (errors, losses)
}

proptest! {
    #![proptest_config(config(64))]

    /// **Linear convergence under strong convexity.** For
    /// `L(W) = ½ Σ q_ij (W − W*)_ij²` with `μ = min q`, `L = max q`,
    /// rank W* = r and the spectral init, ODELoRA with step `h ≤ 1/L`
    /// decreases the loss at every step until the rounding floor, and the
    /// error ‖BA − W*‖ contracts per step by at most `R(−hμ)`, where `R` is
    /// the method's stability polynomial: `1 − hμ` for Euler,
    /// `Σ_{k≤4} (−hμ)^k/k!` for RK4.
    ///
    /// Why: near W* the error E = BA − W* lies in the tangent space T to first
    /// order, and the step is `E ← R(−h M) E` with `M = P_T D_Q P_T` restricted
    /// to T, self-adjoint with spectrum in [μ, L] (since ⟨E, Q⊙E⟩ ∈ [μ, L]‖E‖²).
    /// For `h ≤ 1/L`, `R(−hλ)` is positive and increasing in `−hλ` on
    /// [−hL, −hμ], so `‖R(−hM)‖ = R(−hλ_min(M)) ≤ R(−hμ)`. The O(‖E‖²)
    /// terms (curvature, Euler's `h² F_B F_A`) vanish as E → 0, so the bound
    /// holds for the fitted rate in the asymptotic window (errors 1e-4 … 1e-10).
    #[test]
    fn strongly_convex_linear_convergence(
        m in 2usize..=12, n in 2usize..=12, r in 1usize..=3, kappa_q in 1.0f64..=10.0,
        fraction in 0.05f64..=1.0, seed in any::<u64>(), rk4 in any::<bool>(),
    ) {
        let r = r.min(m).min(n);
        let mut objective = ConvexQuadratic::new(ConvexQuadraticParams { m, n, rank: r, kappa_q, seed }).unwrap();
        let (mu, lip) = (objective.mu(), objective.lipschitz());
        let h = fraction / lip;
        let tableau = if rk4 { RK4 } else { EULER };
        let (errors, losses) = trajectory(&mut objective, tableau, h, r, 40_000);
        prop_assert!(*errors.last().unwrap() < 1e-10, "did not converge: {:e} after {} steps", errors.last().unwrap(), errors.len());
        let floor = 1e-24 * losses[0];
        for k in 1..losses.len() {
            if losses[k - 1] > floor {
                prop_assert!(losses[k] <= losses[k - 1] * (1.0 + 1e-12), "loss rose at step {k}: {:e} → {:e}", losses[k - 1], losses[k]);
            }
        }
        // The rate is measured over the asymptotic window; an init already
        // inside it (κ_Q ≈ 1 makes the spectral init nearly exact) needs ≥ 4
        // points there to say anything.
        let steps: Vec<f64> = (0..errors.len()).map(|k| k as f64).collect();
        let in_window = errors.iter().filter(|&&e| (1e-10..=1e-4).contains(&e)).count();
        prop_assume!(in_window >= 4);
        let fit = fit_contraction(&steps, &errors, 1e-10, 1e-4).unwrap();
        let bound = stability_polynomial(&tableau, -h * mu);
        prop_assert!(fit.factor <= bound, "{}: contraction {} > bound {bound} (h·μ = {})", tableau.name, fit.factor, h * mu);
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// **Linear convergence in matrix sensing, independent of κ.** With
    /// `m = 5·n·r*` Gaussian measurements and the spectral init,
    /// ODELoRA-Euler (h = 0.5) and ODELoRA-RK4 (h = 1) converge linearly and
    /// their fitted per-step contraction (window 1e-3 … 1e-11) varies by less
    /// than 0.05 across κ ∈ {1, 10, 100}: on the rank-r* manifold the flow's
    /// rate is set by the restricted isometry of the measurements, not by the
    /// spread of X*'s singular values.
    #[test]
    fn matrix_sensing_rate_does_not_depend_on_kappa(n in 8usize..=16, true_rank in 1usize..=3, seed in any::<u64>(), rk4 in any::<bool>()) {
        use odelora::problems::{MatrixSensing, MatrixSensingParams};
        let (tableau, h) = if rk4 { (RK4, 1.0) } else { (EULER, 0.5) };
        let mut factors = Vec::new();
        for kappa in [1.0, 10.0, 100.0] {
            let params = MatrixSensingParams { kappa, seed, ..MatrixSensingParams::square(n, true_rank) };
            let mut sensing = MatrixSensing::new(params).unwrap();
            let mut method = Odelora::new("odelora", OdeloraParams::new(tableau, h, true_rank), &mut sensing, 0).unwrap();
            let mut errors = vec![sensing.metrics(method.weights()).rel_error];
            while errors.len() < 2000 && *errors.last().unwrap() > 1e-12 {
                method.step(&mut sensing, None).unwrap();
                errors.push(sensing.metrics(method.weights()).rel_error);
            }
            let steps: Vec<f64> = (0..errors.len()).map(|k| k as f64).collect();
            let fit = fit_contraction(&steps, &errors, 1e-11, 1e-3);
            prop_assert!(fit.is_some_and(|f| f.r_squared > 0.99), "κ = {kappa}: no clean linear phase: {fit:?}");
            factors.push(fit.unwrap().factor);
        }
        let spread = factors.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)) - factors.iter().fold(f64::INFINITY, |a, &b| a.min(b));
        prop_assert!(spread < 0.05, "{}: contraction factors {factors:?} across κ = 1, 10, 100", tableau.name);
    }
}

/// The ODELoRA field of a one-layer objective as a plain vector field, so a
/// test can integrate it from any state (e.g. an unbalanced one).
fn flow_field(
    objective: &mut ConvexQuadratic,
    gamma: f64,
) -> impl FnMut(f64, &odelora::manifold::LoraLayers, &mut odelora::manifold::LoraLayers) + '_ {
    use faer::{Mat, Par};
    use odelora::manifold::{odelora_field, FieldParams, FieldWorkspace};
    let (m, n) = objective.layer_shapes()[0];
    let (mut w, mut g) = (vec![Mat::zeros(m, n)], vec![Mat::zeros(m, n)]);
    let mut workspace: Option<FieldWorkspace> = None;
    let params = FieldParams { gamma, ..FieldParams::default() };
    move |_t, y, dy| {
        let pair = &y.0[0];
        w[0] = pair.product();
        objective.loss_and_gradient(&w, &mut g);
        let ws = workspace.get_or_insert_with(|| FieldWorkspace::for_pair(pair));
        odelora_field(&mut dy.0[0], pair, g[0].as_ref(), &params, ws, Par::Seq);
    }
}

/// `‖BᵀB − AAᵀ‖_F`.
fn imbalance(layers: &odelora::manifold::LoraLayers) -> f64 {
    let p = &layers.0[0];
    (p.gram_b() - p.gram_a()).norm_l2()
}

/// A balanced start: the rank-r split of W* rescaled by ½ (so the flow has work to do).
fn balanced_start(objective: &ConvexQuadratic, r: usize) -> odelora::manifold::LoraLayers {
    let x = objective.target() * faer::Scale(0.5);
    odelora::manifold::LoraLayers(vec![odelora::manifold::balanced_split(x.as_ref(), r).unwrap()])
}

fn convex_instance() -> impl Strategy<Value = (ConvexQuadratic, usize)> {
    (3usize..=10, 3usize..=10, 1usize..=3, 1.0f64..=10.0, any::<u64>()).prop_map(|(m, n, r, kappa_q, seed)| {
        let r = r.min(m).min(n);
        (ConvexQuadratic::new(ConvexQuadraticParams { m, n, rank: r, kappa_q, seed }).unwrap(), r)
    })
}

proptest! {
    #![proptest_config(config(64))]

    /// **Balance along discrete trajectories.** The exact flow keeps
    /// `D = BᵀB − AAᵀ` constant (P2 with γ = 0, at every point, balanced or
    /// not), so a perturbation of D is never amplified and a method of order p
    /// adds at most its local error `O(h^{p+1})` per step: from a balanced
    /// start, `‖D(T)‖ ≤ C·h^p·T`. Tested as the fitted order of ‖D(T)‖ in h
    /// (h·L = 0.25, 0.125, 0.0625 for RK4 and 0.4, 0.2, 0.1 for Dormand–Prince
    /// with fixed steps, T·L = 4): at least p − 0.5, on instances where the
    /// drift is above rounding. It is an upper bound: measured, RK4's drift has
    /// order ≈ 4.1, while Dormand–Prince's decays faster than its order,
    /// ≈ h^6.6 (its leading error term barely moves this quadratic invariant).
    #[test]
    fn balance_drift_has_the_order_of_the_scheme((objective, r) in convex_instance(), dopri in any::<bool>()) {
        use odelora::integrators::{integrate, ConstantStep, IntegrateParams, DORMAND_PRINCE};
        let (tableau, p, h0) = if dopri { (DORMAND_PRINCE, 5.0, 0.4) } else { (RK4, 4.0, 0.25) };
        let mut objective = objective;
        // Normalise the time scale by L so that h ≤ 1/L is inside the stable range.
        let lip = objective.lipschitz();
        let start = balanced_start(&objective, r);
        let hs = [h0 / lip, h0 / (2.0 * lip), h0 / (4.0 * lip)];
        let mut drifts = Vec::new();
        for &h in &hs {
            let mut field = flow_field(&mut objective, 0.0);
            let params = IntegrateParams::until(4.0 / lip);
            let sol = integrate(&mut field, tableau, ConstantStep::new(h).unwrap(), 0.0, &start, &params, &mut ()).unwrap();
            drifts.push(imbalance(&sol.y));
        }
        let scale = start.0[0].gram_b().norm_l2();
        // Rounding alone leaves ‖D‖ ~ 1e-13·‖BᵀB‖ after these steps: demand
        // 100× that at the smallest step, or the fit would measure rounding.
        prop_assume!(drifts[2] > 1e-11 * scale);
        let logs = |v: &[f64]| v.iter().map(|x| x.ln()).collect::<Vec<_>>();
        let slope = odelora_analysis::rates::fit_line(&logs(&hs), &logs(&drifts)).unwrap().slope;
        prop_assert!(slope >= p - 0.5, "{}: ‖D(T)‖ ∝ h^{slope:.2}, drifts {drifts:?}", tableau.name);
    }

    /// **Stabilisation.** With γ > 0 the exact flow obeys `Ḋ = −γ D`, so from
    /// an unbalanced start (B·2, A/2 of a balanced pair: same BA)
    /// `‖D(T)‖ = e^{−γT} ‖D(0)‖`; RK4 with a small step reproduces it to 1e-6
    /// relative.
    #[test]
    fn gamma_pulls_the_factors_back_to_balance((objective, r) in convex_instance(), gamma in 0.1f64..=2.0) {
        use odelora::integrators::{integrate, ConstantStep, IntegrateParams};
        let mut objective = objective;
        let mut start = balanced_start(&objective, r);
        start.0[0].b *= faer::Scale(2.0);
        start.0[0].a *= faer::Scale(0.5);
        let lip = objective.lipschitz();
        let t_end = 2.0;
        let h = 0.01 / lip.max(gamma);
        let mut field = flow_field(&mut objective, gamma);
        let sol = integrate(&mut field, RK4, ConstantStep::new(h).unwrap(), 0.0, &start, &IntegrateParams::until(t_end), &mut ()).unwrap();
        let ratio = imbalance(&sol.y) / imbalance(&start);
        let want = (-gamma * t_end).exp();
        prop_assert!((ratio - want).abs() <= 1e-6 * want, "‖D(T)‖/‖D(0)‖ = {ratio} but e^(−γT) = {want}");
    }
}

/// `df = rms_k ‖f_T(x_k) − f_0(x_k)‖` after `steps` steps of `method` on the
/// width toy of width n (seed), every method stepping with η = η0 / n; ODELoRA
/// starts from the spectral init rescaled to ‖B0A0‖₂ = 1e-2, LoRA-GD from
/// LoRA's init (SPEC §5.3).
fn feature_change(width: usize, seed: u64, eta0: f64, odelora: bool, steps: usize) -> f64 {
    use odelora::baselines::{Lora, LoraParams};
    use odelora::manifold::Init;
    use odelora::problems::{WidthToy, WidthToyParams};
    let mut toy = WidthToy::new(WidthToyParams::new(width, seed)).unwrap();
    let h = eta0 / width as f64;
    let mut method: Box<dyn Method> = if odelora {
        let params = OdeloraParams { init: Init::Spectral { norm: Some(1e-2) }, ..OdeloraParams::new(EULER, h, 2) };
        Box::new(Odelora::new("odelora-euler", params, &mut toy, seed).unwrap())
    } else {
        Box::new(Lora::new("lora-gd", LoraParams::gd(h, 2), &mut toy, seed).unwrap())
    };
    let w0 = method.weights()[0].clone();
    for _ in 0..steps {
        method.step(&mut toy, None).unwrap();
    }
    toy.rms_feature_norm((&method.weights()[0] - &w0).as_ref())
}

/// Fitted slope of log(median df over `seeds`) against log n, n = 2^7 … 2^11.
fn width_slope(eta0: f64, first_seed: u64, odelora: bool) -> (f64, Vec<f64>) {
    use rayon::prelude::*;
    const SEEDS: u64 = 8;
    let widths: Vec<usize> = (7..=11).map(|k| 1 << k).collect();
    let jobs: Vec<(usize, u64)> = widths.iter().flat_map(|&n| (0..SEEDS).map(move |s| (n, first_seed + s))).collect();
    let dfs: Vec<f64> = jobs.par_iter().map(|&(n, seed)| feature_change(n, seed, eta0, odelora, 10)).collect();
    let medians: Vec<f64> = dfs.chunks(SEEDS as usize).map(|c| odelora_analysis::stats::median(c).unwrap()).collect();
    let logs = |v: Vec<f64>| v.into_iter().map(f64::ln).collect::<Vec<_>>();
    let x = logs(widths.iter().map(|&n| n as f64).collect());
    let slope = odelora_analysis::rates::fit_line(&x, &logs(medians.clone())).unwrap().slope;
    (slope, medians)
}

proptest! {
    #![proptest_config(config(64))]

    /// **Stable feature learning** (SPEC §5.3, at its η0 = 0.5, T = 10). On
    /// the width toy with η = η0/n (the scaling under which full fine-tuning's
    /// feature change is Θ(1)), the feature change df of ODELoRA-Euler (median
    /// of 8 seeds per width) does not depend on the width: fitted log–log slope
    /// within ±0.2 of 0 over n = 2^7 … 2^11, because ODELoRA moves W = BA along
    /// the projected full-fine-tuning direction, whose size does not depend on
    /// how W is factored. Random per case: the block of 8 seeds.
    #[test]
    #[ignore = "contradicted in 7 of 48 blocks of 8 seeds: ODELoRA slope median −0.091, range −0.329 … +0.019 \
                (full-gd on the same toy: median −0.03, range −0.146 … +0.090 over 16 blocks); \
                first failing block here: seeds 567315–567322, slope −0.216, median df 0.934, 0.638, 0.652, 0.452, 0.524"]
    fn odelora_feature_change_does_not_depend_on_width(first_seed in 0u64..1_000_000) {
        let (ode, ode_df) = width_slope(0.5, first_seed, true);
        prop_assert!(ode.abs() <= 0.2, "ODELoRA slope {ode:.3}, median df {ode_df:?}");
    }

    /// The other half of the claim: LoRA-GD with one learning rate, from
    /// B = 0, moves W by terms of order ‖A‖² ~ r/n, so its feature change
    /// vanishes with width: slope clearly negative (< −0.5; measured −1.37 …
    /// −0.71 over 48 blocks of 8 seeds).
    #[test]
    fn lora_feature_change_vanishes_with_width(first_seed in 0u64..1_000_000) {
        let (lora, lora_df) = width_slope(0.5, first_seed, false);
        prop_assert!(lora < -0.5, "LoRA-GD slope {lora:.3}, median df {lora_df:?}");
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// The same claim over a range of step sizes η0 ∈ [0.1, 1] (log-uniform),
    /// a stronger statement than SPEC §5.3 makes. It does not hold at the top
    /// of the range: see the ignore reason.
    #[test]
    #[ignore = "contradicted at η0 = 1.0: ODELoRA slope −0.235 (median df 1.103, 0.942, 0.938, 0.658, 0.584 \
                at n = 128 … 2048, seeds 841880–841887); 4 random η0 < 1 passed before shrinking"]
    fn feature_learning_is_stable_for_every_step_size(log_eta0 in (0.1f64).ln()..=(1.0f64).ln(), first_seed in 0u64..1_000_000) {
        let eta0 = log_eta0.exp();
        let (ode, ode_df) = width_slope(eta0, first_seed, true);
        prop_assert!(ode.abs() <= 0.2, "ODELoRA slope {ode:.3} at η0 = {eta0:.3}, median df {ode_df:?}");
        let (lora, lora_df) = width_slope(eta0, first_seed, false);
        prop_assert!(lora < -0.5, "LoRA-GD slope {lora:.3} at η0 = {eta0:.3}, median df {lora_df:?}");
    }
}
