//! Initializations of LoRA factor pairs (SPEC §2).

use faer::{Mat, MatRef};
use odelora_problems::random::{gaussian_mat, seeded_rng, stream};
use odelora_problems::Objective;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::balance::{balanced_split, check_rank};
use crate::{LoraPair, ManifoldError};

/// How a method's factors start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Standard LoRA: `A ~ U(−1/√n, 1/√n)`, `B = 0`. Singular for ODELoRA
    /// (its field needs full-rank factors).
    Lora,
    /// `X0 = scale · G1 G2ᵀ / ‖G1 G2ᵀ‖₂` with Gaussian `G1` (m×r), `G2` (n×r),
    /// split by [`balanced_split`].
    SmallBalanced {
        /// Spectral norm of `X0` (default 1e-3).
        scale: f64,
    },
    /// Top-r SVD of `−∇L(W0)`, split as `B = UΣ^{1/2}`, `A = Σ^{1/2}Vᵀ`,
    /// optionally rescaled to a given spectral norm of `BA`.
    Spectral {
        /// Spectral norm of `B0 A0`, or `None` to keep the gradient's scale.
        norm: Option<f64>,
    },
}

impl Init {
    /// `SmallBalanced` with its default scale 1e-3.
    pub const SMALL_BALANCED: Init = Init::SmallBalanced { scale: 1e-3 };
    /// `Spectral` at the gradient's own scale.
    pub const SPECTRAL: Init = Init::Spectral { norm: None };

    /// Whether the factors are full rank, as the ODELoRA field requires.
    pub fn is_full_rank(&self) -> bool {
        !matches!(self, Init::Lora)
    }

    /// Initial factors for an `m × n` layer of rank `r`. `neg_gradient` is
    /// `−∇L(W0)` for that layer (only `Spectral` reads it).
    pub fn factors(
        &self,
        m: usize,
        n: usize,
        r: usize,
        neg_gradient: MatRef<'_, f64>,
        rng: &mut ChaCha8Rng,
    ) -> Result<LoraPair, ManifoldError> {
        check_rank(m, n, r)?;
        match *self {
            Init::Lora => Ok(lora_init(m, n, r, rng)),
            Init::SmallBalanced { scale } => small_balanced_init(m, n, r, scale, rng),
            Init::Spectral { norm } => spectral_init(neg_gradient, r, norm),
        }
    }
}

/// The initial factors of every adapted layer of `objective` at rank `rank`,
/// with randomness from `(seed, INIT stream)`, and the gradient evaluations
/// this used (one for `Spectral`, which factorises `−∇L(W0)`; else none).
pub fn initial_layers(
    init: Init,
    objective: &mut dyn Objective,
    rank: usize,
    seed: u64,
) -> Result<(Vec<LoraPair>, u64), ManifoldError> {
    let spectral = matches!(init, Init::Spectral { .. });
    let neg_grads = if spectral { negative_base_gradient(objective) } else { zeros_like(objective.base_weights()) };
    let mut rng = seeded_rng(seed, stream::INIT);
    let layers = objective
        .base_weights()
        .iter()
        .zip(&neg_grads)
        .map(|(w0, g)| init.factors(w0.nrows(), w0.ncols(), rank, g.as_ref(), &mut rng))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((layers, u64::from(spectral)))
}

/// Zero matrices shaped like `mats`.
pub fn zeros_like(mats: &[Mat<f64>]) -> Vec<Mat<f64>> {
    mats.iter().map(|w| Mat::zeros(w.nrows(), w.ncols())).collect()
}

/// `−∇L(W0)` for every layer: one gradient evaluation.
fn negative_base_gradient(objective: &mut dyn Objective) -> Vec<Mat<f64>> {
    let base = objective.base_weights().to_vec();
    let mut grads = zeros_like(&base);
    objective.loss_and_gradient(&base, &mut grads);
    for g in &mut grads {
        *g *= faer::Scale(-1.0);
    }
    grads
}

/// Standard LoRA initialization: `A ~ U(−1/√n, 1/√n)` entrywise, `B = 0`.
pub fn lora_init(m: usize, n: usize, r: usize, rng: &mut ChaCha8Rng) -> LoraPair {
    let bound = 1.0 / (n as f64).sqrt();
    let mut a = Mat::zeros(r, n);
    for j in 0..n {
        for i in 0..r {
            a[(i, j)] = rng.random_range(-bound..bound);
        }
    }
    LoraPair { b: Mat::zeros(m, r), a }
}

/// Small balanced initialization: `X0 = scale · G1 G2ᵀ / ‖G1 G2ᵀ‖₂`, split by
/// [`balanced_split`], so `‖B0 A0‖₂ = scale` and `B0ᵀB0 = A0A0ᵀ`.
pub fn small_balanced_init(
    m: usize,
    n: usize,
    r: usize,
    scale: f64,
    rng: &mut ChaCha8Rng,
) -> Result<LoraPair, ManifoldError> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(ManifoldError::InvalidParameter(format!("init scale must be positive and finite, got {scale}")));
    }
    let g1 = gaussian_mat(rng, m, r, 1.0);
    let g2 = gaussian_mat(rng, n, r, 1.0);
    let x = &g1 * g2.transpose();
    let norm = spectral_norm(x.as_ref())?;
    balanced_split((x * (scale / norm)).as_ref(), r)
}

/// Spectral initialization from `−∇L(W0)`: its top-r SVD split as
/// `B = UΣ^{1/2}`, `A = Σ^{1/2}Vᵀ`; with `norm = Some(c)` rescaled so that
/// `‖B A‖₂ = c`. Errors if the top-r part is rank-deficient (e.g. a zero
/// gradient), since ODELoRA cannot start there.
pub fn spectral_init(neg_gradient: MatRef<'_, f64>, r: usize, norm: Option<f64>) -> Result<LoraPair, ManifoldError> {
    let mut pair = balanced_split(neg_gradient, r)?;
    let sigma_min = pair.gram_b()[(r - 1, r - 1)];
    if sigma_min.is_nan() || sigma_min <= 0.0 {
        return Err(ManifoldError::RankDeficient);
    }
    if let Some(c) = norm {
        if !(c.is_finite() && c > 0.0) {
            return Err(ManifoldError::InvalidParameter(format!("spectral init norm must be positive, got {c}")));
        }
        // BᵀB = Σ_r, so ‖BA‖₂ = Σ_11 and each factor scales by √(c / Σ_11).
        let factor = (c / pair.gram_b()[(0, 0)]).sqrt();
        pair.b *= faer::Scale(factor);
        pair.a *= faer::Scale(factor);
    }
    Ok(pair)
}

/// Subtract `s · B0 A0` from `w0`, so that the adapted model
/// `W0' + s·B0·A0` starts equal to the pretrained `W0` (used for fine-tuning).
pub fn preserve_base(w0: &mut Mat<f64>, pair: &LoraPair, scale: f64) {
    faer::linalg::matmul::matmul(
        w0.as_mut(),
        faer::Accum::Add,
        pair.b.as_ref(),
        pair.a.as_ref(),
        -scale,
        faer::Par::Seq,
    );
}

fn spectral_norm(x: MatRef<'_, f64>) -> Result<f64, ManifoldError> {
    let s = x.singular_values().map_err(|e| ManifoldError::Decomposition(format!("SVD: {e:?}")))?;
    Ok(s.first().copied().unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use odelora_problems::random::seeded_rng;

    #[test]
    fn lora_init_has_zero_b_and_bounded_a() {
        let p = lora_init(4, 9, 2, &mut seeded_rng(0, 0));
        assert_eq!(p.b, Mat::zeros(4, 2));
        assert!(p.a.col_iter().flat_map(|c| c.iter().copied().collect::<Vec<_>>()).all(|v| v.abs() < 1.0 / 3.0));
        assert!(p.a.norm_l2() > 0.0);
    }

    #[test]
    fn small_balanced_has_requested_norm_and_balance() {
        let p = small_balanced_init(7, 5, 3, 1e-3, &mut seeded_rng(1, 0)).unwrap();
        let norm = spectral_norm(p.product().as_ref()).unwrap();
        assert!((norm - 1e-3).abs() < 1e-15);
        assert!(p.balance_gap() < 1e-12);
    }

    #[test]
    fn spectral_init_rescales_and_rejects_zero_gradient() {
        let g = gaussian_mat(&mut seeded_rng(2, 0), 6, 4, 1.0);
        let p = spectral_init(g.as_ref(), 2, Some(1e-2)).unwrap();
        assert!((spectral_norm(p.product().as_ref()).unwrap() - 1e-2).abs() < 1e-14);
        assert!(matches!(spectral_init(Mat::zeros(6, 4).as_ref(), 2, None), Err(ManifoldError::RankDeficient)));
    }

    #[test]
    fn preserve_base_keeps_the_adapted_model() {
        let p = small_balanced_init(3, 4, 2, 0.5, &mut seeded_rng(3, 0)).unwrap();
        let w0 = Mat::from_fn(3, 4, |i, j| (i * 4 + j) as f64);
        let mut shifted = w0.clone();
        preserve_base(&mut shifted, &p, 2.0);
        let adapted = &shifted + p.product() * faer::Scale(2.0);
        assert!((adapted - &w0).norm_l2() < 1e-14);
    }
}
