//! Each baseline's update computed by hand (SPEC §4 formulas, written out
//! independently of the implementation) on a 2×3 problem, compared to 1e-12.

use faer::Mat;
use odelora_baselines::{AdamParams, FullFineTuning, FullParams, Lora, LoraParams, Optimizer, Preconditioner};
use odelora_manifold::{Init, LoraPair, Method};
use odelora_problems::{MatrixSensing, MatrixSensingParams, Objective};

const TOL: f64 = 1e-12;

fn problem() -> MatrixSensing {
    let p = MatrixSensingParams {
        n1: 2,
        n2: 3,
        true_rank: 1,
        measurements: Some(12),
        seed: 5,
        ..MatrixSensingParams::square(2, 1)
    };
    MatrixSensing::new(p).unwrap()
}

fn gradient(objective: &mut MatrixSensing, w: &Mat<f64>) -> Mat<f64> {
    let mut g = [Mat::zeros(2, 3)];
    objective.loss_and_gradient(std::slice::from_ref(w), &mut g);
    let [g] = g;
    g
}

/// Elementwise map of two equally shaped matrices.
fn map2(a: &Mat<f64>, b: &Mat<f64>, f: impl Fn(f64, f64) -> f64) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| f(a[(i, j)], b[(i, j)]))
}

/// Adam by hand: moments, bias correction at step t, the update.
struct HandAdam {
    m: Mat<f64>,
    v: Mat<f64>,
}

impl HandAdam {
    fn new(shape: (usize, usize)) -> Self {
        Self { m: Mat::zeros(shape.0, shape.1), v: Mat::zeros(shape.0, shape.1) }
    }
    fn step(&mut self, p: &Mat<f64>, g: &Mat<f64>, lr: f64, t: i32) -> Mat<f64> {
        let (b1, b2, eps) = (0.9, 0.999, 1e-8);
        self.m = map2(&self.m, g, |m, g| b1 * m + (1.0 - b1) * g);
        self.v = map2(&self.v, g, |v, g| b2 * v + (1.0 - b2) * g * g);
        let upd = map2(&self.m, &self.v, |m, v| (m / (1.0 - b1.powi(t))) / ((v / (1.0 - b2.powi(t))).sqrt() + eps));
        map2(p, &upd, |p, u| p - lr * u)
    }
}

/// Inverse of a 1×1 or 2×2 matrix by the explicit formula.
fn small_inverse(m: &Mat<f64>) -> Mat<f64> {
    match m.nrows() {
        1 => Mat::from_fn(1, 1, |_, _| 1.0 / m[(0, 0)]),
        2 => {
            let det = m[(0, 0)] * m[(1, 1)] - m[(0, 1)] * m[(1, 0)];
            Mat::from_fn(2, 2, |i, j| match (i, j) {
                (0, 0) => m[(1, 1)] / det,
                (1, 1) => m[(0, 0)] / det,
                _ => -m[(i, j)] / det,
            })
        }
        _ => unreachable!(),
    }
}

fn close(a: &Mat<f64>, b: &Mat<f64>) -> bool {
    (a - b).norm_l2() <= TOL * (1.0 + b.norm_l2())
}

/// Two steps of a LoRA-family method against the hand rule; `adam` selects
/// AdamW, `ratio` is η_B/η_A, `damping` the Riemannian preconditioner.
fn check_lora(name: &str, params: LoraParams, adam: bool, damping: Option<f64>) {
    let mut obj = problem();
    let mut method = Lora::new(name, params, &mut obj, 3).unwrap();
    let (s, lr, ratio) = (params.scale(), params.lr, params.lr_ratio);
    let mut pair: LoraPair = method.factors().unwrap()[0].clone();
    let (mut adam_b, mut adam_a) = (HandAdam::new(pair.b.shape()), HandAdam::new(pair.a.shape()));
    for t in 1..=2 {
        let w = &pair.b * &pair.a * faer::Scale(s);
        assert!(close(&method.weights()[0], &w), "{name}: W = s·B·A");
        let g = gradient(&mut obj, &w);
        let mut g_b = &g * pair.a.transpose() * faer::Scale(s);
        let mut g_a = pair.b.transpose() * &g * faer::Scale(s);
        if let Some(lambda) = damping {
            let r = pair.rank();
            let pb = small_inverse(&(pair.b.transpose() * &pair.b + Mat::<f64>::identity(r, r) * faer::Scale(lambda)));
            let pa = small_inverse(&(&pair.a * pair.a.transpose() + Mat::<f64>::identity(r, r) * faer::Scale(lambda)));
            g_a = &pb * &g_a;
            g_b = &g_b * &pa;
        }
        let (b_new, a_new) = if adam {
            (adam_b.step(&pair.b, &g_b, lr * ratio, t), adam_a.step(&pair.a, &g_a, lr, t))
        } else {
            (&pair.b - &g_b * faer::Scale(lr * ratio), &pair.a - &g_a * faer::Scale(lr))
        };
        method.step(&mut obj, None).unwrap();
        let got = &method.factors().unwrap()[0];
        assert!(close(&got.b, &b_new), "{name} step {t}: B\n{:?}\nvs\n{:?}", got.b, b_new);
        assert!(close(&got.a, &a_new), "{name} step {t}: A");
        pair = got.clone();
    }
}

fn lora(optimizer: Optimizer, rank: usize) -> LoraParams {
    // α = 2r so that s = 2 is exercised; spectral init so both factors move.
    LoraParams { optimizer, alpha: 2.0 * rank as f64, init: Init::SPECTRAL, ..LoraParams::gd(0.05, rank) }
}

const ADAM: Optimizer = Optimizer::Adam(AdamParams { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 });

#[test]
fn lora_gd_and_adam_by_hand() {
    check_lora("lora-gd", lora(Optimizer::Gd, 1), false, None);
    check_lora("lora-adam", lora(ADAM, 1), true, None);
}

#[test]
fn loraplus_by_hand() {
    check_lora("loraplus-gd", LoraParams { lr_ratio: 16.0, ..lora(Optimizer::Gd, 1) }, false, None);
    check_lora("loraplus-adam", LoraParams { lr_ratio: 16.0, ..lora(ADAM, 1) }, true, None);
}

#[test]
fn riemannian_by_hand() {
    for (rank, damping) in [(1, 1e-6), (2, 0.0), (2, 0.3)] {
        let pre = Preconditioner::Riemannian { damping };
        check_lora(
            "riemannian-gd",
            LoraParams { preconditioner: pre, ..lora(Optimizer::Gd, rank) },
            false,
            Some(damping),
        );
        check_lora("riemannian-adam", LoraParams { preconditioner: pre, ..lora(ADAM, rank) }, true, Some(damping));
    }
}

#[test]
fn full_fine_tuning_by_hand() {
    for (name, optimizer) in [("full-gd", Optimizer::Gd), ("full-adam", ADAM)] {
        let mut obj = problem();
        let w0 = Mat::from_fn(2, 3, |i, j| 0.1 * (i as f64 + 1.0) - 0.05 * j as f64);
        let mut method =
            FullFineTuning::from_weights(name, FullParams { optimizer, lr: 0.05 }, vec![w0.clone()]).unwrap();
        let mut hand = HandAdam::new((2, 3));
        let mut w = w0;
        for t in 1..=2 {
            let g = gradient(&mut obj, &w);
            w = match optimizer {
                Optimizer::Gd => &w - &g * faer::Scale(0.05),
                Optimizer::Adam(_) => hand.step(&w, &g, 0.05, t),
            };
            method.step(&mut obj, None).unwrap();
            assert!(close(&method.weights()[0], &w), "{name} step {t}");
        }
        assert!(method.factors().is_none() && method.balance_gap().is_none());
    }
}

/// AdamW's decoupled weight decay: `p ← p − η (m̂/(√v̂+ε) + λ_wd p)`.
#[test]
fn adamw_weight_decay_is_decoupled() {
    let mut obj = problem();
    let w0 = Mat::from_fn(2, 3, |i, j| (i + j) as f64 * 0.1);
    let wd = 0.3;
    let adam = Optimizer::Adam(AdamParams { weight_decay: wd, ..AdamParams::default() });
    let mut method =
        FullFineTuning::from_weights("full-adam", FullParams { optimizer: adam, lr: 0.05 }, vec![w0.clone()]).unwrap();
    let g = gradient(&mut obj, &w0);
    let upd = map2(&g, &g, |g, _| g / (g.abs() + 1e-8)); // step 1: m̂ = g, v̂ = g²
    let want = map2(&w0, &upd, |p, u| p - 0.05 * (u + wd * p));
    method.step(&mut obj, None).unwrap();
    assert!(close(&method.weights()[0], &want));
}

/// LoRA+ with ratio 1 is LoRA, step for step.
#[test]
fn loraplus_with_ratio_one_is_lora() {
    for optimizer in [Optimizer::Gd, ADAM] {
        let mut obj = problem();
        let base = LoraParams { optimizer, ..LoraParams::gd(0.1, 1) };
        let mut plain = Lora::new("lora", base, &mut obj, 9).unwrap();
        let mut plus = Lora::new("loraplus", LoraParams { lr_ratio: 1.0, ..base }, &mut obj, 9).unwrap();
        for _ in 0..20 {
            plain.step(&mut obj, None).unwrap();
            plus.step(&mut obj, None).unwrap();
            assert_eq!(plain.factors(), plus.factors());
        }
    }
}

/// Every method starts from LoRA's B = 0 without NaN; Riemannian with
/// damping 0 uses the pseudo-inverse there (a zero preconditioner for A,
/// whose gradient s·BᵀG is zero anyway), so B moves first and then both.
#[test]
fn zero_b_init_never_produces_nan() {
    let rules = [
        LoraParams::gd(0.1, 1),
        LoraParams { optimizer: ADAM, ..LoraParams::gd(0.01, 1) },
        LoraParams { lr_ratio: 16.0, ..LoraParams::gd(0.01, 1) },
        LoraParams { preconditioner: Preconditioner::Riemannian { damping: 0.0 }, ..LoraParams::gd(0.1, 1) },
        LoraParams {
            preconditioner: Preconditioner::Riemannian { damping: 0.0 },
            optimizer: ADAM,
            ..LoraParams::gd(0.01, 1)
        },
    ];
    for params in rules {
        let mut obj = problem();
        let mut method = Lora::new("m", params, &mut obj, 1).unwrap();
        let a0 = method.factors().unwrap()[0].a.clone();
        assert_eq!(method.factors().unwrap()[0].b, Mat::zeros(2, 1));
        method.step(&mut obj, None).unwrap();
        let after = &method.factors().unwrap()[0];
        assert_eq!(after.a, a0, "{params:?}: g_A = s·BᵀG = 0 at B = 0");
        assert!(after.b.norm_l2() > 0.0, "{params:?}: B must move");
        for _ in 0..10 {
            method.step(&mut obj, None).unwrap();
        }
        assert!(method.weights()[0].is_all_finite(), "{params:?}");
    }
}

#[test]
fn invalid_hyper_parameters_are_errors() {
    let mut obj = problem();
    let bad = [
        LoraParams { lr_ratio: 0.0, ..LoraParams::gd(0.1, 1) },
        LoraParams { alpha: -1.0, ..LoraParams::gd(0.1, 1) },
        LoraParams { preconditioner: Preconditioner::Riemannian { damping: -1.0 }, ..LoraParams::gd(0.1, 1) },
        LoraParams {
            optimizer: Optimizer::Adam(AdamParams { beta1: 1.0, ..AdamParams::default() }),
            ..LoraParams::gd(0.1, 1)
        },
        LoraParams { rank: 3, ..LoraParams::gd(0.1, 1) },
    ];
    for params in bad {
        assert!(Lora::new("m", params, &mut obj, 0).is_err(), "{params:?}");
    }
    assert!(FullFineTuning::new("f", FullParams { optimizer: Optimizer::Gd, lr: f64::NAN }, &obj).is_err());
}
