//! SPEC §2 properties P1–P5 of the ODELoRA field, and the rebalance
//! retraction, as property tests over random shapes and factors.
//!
//! Factors are built as orthonormal × diag(σ) × rotation with σ ∈ [0.5, 2]
//! (so κ(B), κ(A) ≤ 4 and the Gram matrices have κ ≤ 16) and the field runs
//! with δ = 0: damping perturbs P1–P5 by about δ/λ_min(M), and
//! unconstrained random factors would let shrinking drive the inputs to
//! rank-deficient ones, where the properties have no meaning.
//! Tolerances are relative to the natural scale of each identity and grow
//! with the dimension like accumulated rounding: `TOL_PER_DIM · (m + n)`.

use faer::{Mat, Par};
use odelora_manifold::{odelora_field, rebalance, tangent_project, FieldParams, FieldWorkspace, LoraPair};
use odelora_problems::random::{gaussian_mat, haar_orthonormal, seeded_rng};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// Relative tolerance per unit of dimension: κ(M) ≤ 16 times a few hundred ε.
const TOL_PER_DIM: f64 = 1e-12;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 96, rng_seed: RngSeed::Fixed(0x0DE1_0BA5), ..ProptestConfig::default() }
}

/// A random problem: shapes, well-conditioned factors, a Gaussian gradient.
#[derive(Debug, Clone)]
struct Case {
    pair: LoraPair,
    g: Mat<f64>,
    gamma: f64,
}

impl Case {
    fn tol(&self) -> f64 {
        TOL_PER_DIM * (self.pair.out_dim() + self.pair.in_dim()) as f64
    }

    fn field(&self, pair: &LoraPair, gamma: f64) -> LoraPair {
        let mut out = LoraPair::zeros(pair.out_dim(), pair.in_dim(), pair.rank());
        let mut ws = FieldWorkspace::for_pair(pair);
        let params = FieldParams { gamma, ..FieldParams::exact() };
        odelora_field(&mut out, pair, self.g.as_ref(), &params, &mut ws, Par::Seq);
        out
    }
}

/// `orthonormal (m×r) · diag(σ) · rotation`, and `rotation · diag(τ) · orthonormalᵀ`.
fn build_case(m: usize, n: usize, r: usize, seed: u64, sigma: &[f64], tau: &[f64], gamma: f64) -> Case {
    let mut rng = seeded_rng(seed, 0);
    let qb = haar_orthonormal(&mut rng, m, r);
    let qa = haar_orthonormal(&mut rng, n, r);
    let ob = haar_orthonormal(&mut rng, r, r);
    let oa = haar_orthonormal(&mut rng, r, r);
    let b = Mat::from_fn(m, r, |i, j| qb[(i, j)] * sigma[j]) * ob.transpose();
    let a = &oa * Mat::from_fn(r, n, |i, j| tau[i] * qa[(j, i)]);
    let g = gaussian_mat(&mut rng, m, n, 1.0);
    Case { pair: LoraPair::new(b, a).unwrap(), g, gamma }
}

fn case_with_rank(full_rank: bool) -> impl Strategy<Value = Case> {
    (1usize..=40, 1usize..=40, any::<u64>(), 0.0f64..2.0)
        .prop_flat_map(move |(m, n, seed, gamma)| {
            let max_r = m.min(n);
            let r = if full_rank { Just(max_r).boxed() } else { (1..=max_r).boxed() };
            (Just(m), Just(n), r, Just(seed), Just(gamma))
        })
        .prop_flat_map(|(m, n, r, seed, gamma)| {
            let sig = proptest::collection::vec(0.5f64..2.0, r);
            let tau = proptest::collection::vec(0.5f64..2.0, r);
            (Just(m), Just(n), Just(r), Just(seed), sig, tau, Just(gamma))
        })
        .prop_map(|(m, n, r, seed, sig, tau, gamma)| build_case(m, n, r, seed, &sig, &tau, gamma))
}

/// `d/dt (BA) = F_B A + B F_A`.
fn velocity_of_product(pair: &LoraPair, f: &LoraPair) -> Mat<f64> {
    &f.b * &pair.a + &pair.b * &f.a
}

proptest! {
    #![proptest_config(config())]

    /// P1: `F_B A + B F_A = −P_T(G)`, balanced or not, for any γ (the γ term
    /// of K moves the factors along the gauge-free balance direction only).
    #[test]
    fn p1_full_fine_tuning_projection(case in case_with_rank(false)) {
        let f = case.field(&case.pair, case.gamma);
        let projected = tangent_project(&case.pair, case.g.as_ref()).unwrap();
        let err = (velocity_of_product(&case.pair, &f) + &projected).norm_l2();
        prop_assert!(err <= case.tol() * case.g.norm_l2(), "‖Ẋ + P_T(G)‖ = {err:e}");
    }

    /// P2: `d/dt (BᵀB − AAᵀ) = −γ (BᵀB − AAᵀ)`.
    #[test]
    fn p2_balance(case in case_with_rank(false)) {
        let (p, f) = (&case.pair, case.field(&case.pair, case.gamma));
        let drift = f.b.transpose() * &p.b + p.b.transpose() * &f.b - &f.a * p.a.transpose() - &p.a * f.a.transpose();
        let gap = p.gram_b() - p.gram_a();
        let want = &gap * faer::Scale(-case.gamma);
        // Scale: the drift is a sum of products ‖F‖·‖factor‖ ≈ ‖G‖ + γ‖gap‖.
        let scale = case.g.norm_l2() + case.gamma * gap.norm_l2();
        let err = (drift - want).norm_l2();
        prop_assert!(err <= case.tol() * scale, "balance drift error {err:e} (scale {scale:e})");
    }

    /// P3: `F(BQ, QᵀA) = (F_B Q, Qᵀ F_A)` for orthogonal Q.
    #[test]
    fn p3_gauge_equivariance(case in case_with_rank(false), seed in any::<u64>()) {
        let r = case.pair.rank();
        let q = haar_orthonormal(&mut seeded_rng(seed, 1), r, r);
        let rotated = LoraPair::new(&case.pair.b * &q, q.transpose() * &case.pair.a).unwrap();
        let f = case.field(&case.pair, case.gamma);
        let fr = case.field(&rotated, case.gamma);
        let scale = f.b.norm_l2() + f.a.norm_l2();
        let err = (fr.b - &f.b * &q).norm_l2() + (fr.a - q.transpose() * &f.a).norm_l2();
        prop_assert!(err <= case.tol() * scale, "equivariance error {err:e} (scale {scale:e})");
    }

    /// P4: `⟨G, F_B A + B F_A⟩ = −‖P_T(G)‖² ≤ 0` (descent).
    #[test]
    fn p4_descent(case in case_with_rank(false)) {
        let f = case.field(&case.pair, case.gamma);
        let dx = velocity_of_product(&case.pair, &f);
        let inner: f64 = (0..dx.ncols()).flat_map(|j| (0..dx.nrows()).map(move |i| (i, j)))
            .map(|(i, j)| case.g[(i, j)] * dx[(i, j)]).sum();
        let proj_sq = tangent_project(&case.pair, case.g.as_ref()).unwrap().squared_norm_l2();
        prop_assert!(inner <= case.tol() * case.g.squared_norm_l2(), "ascent: ⟨G, Ẋ⟩ = {inner:e}");
        prop_assert!((inner + proj_sq).abs() <= case.tol() * case.g.squared_norm_l2(),
            "⟨G, Ẋ⟩ = {inner:e} but −‖P_T G‖² = {:e}", -proj_sq);
    }

    /// P5: at full rank `r = min(m, n)` the flow is exact full fine-tuning.
    #[test]
    fn p5_full_rank_is_full_fine_tuning(case in case_with_rank(true)) {
        let f = case.field(&case.pair, case.gamma);
        let err = (velocity_of_product(&case.pair, &f) + &case.g).norm_l2();
        prop_assert!(err <= case.tol() * case.g.norm_l2(), "‖Ẋ + G‖ = {err:e}");
    }

    /// Rebalancing keeps `BA` to 1e-12 relative and makes `BᵀB = AAᵀ`.
    #[test]
    fn rebalance_keeps_product_and_balances(case in case_with_rank(false)) {
        let before = case.pair.product();
        let mut pair = case.pair.clone();
        rebalance(&mut pair).unwrap();
        let moved = (pair.product() - &before).norm_l2() / before.norm_l2();
        prop_assert!(moved <= 1e-12, "BA moved by {moved:e} relative");
        let gram = pair.gram_b();
        let gap = (&gram - pair.gram_a()).norm_l2() / gram.norm_l2();
        prop_assert!(gap <= 1e-12, "balance gap after rebalance {gap:e}");
    }
}
