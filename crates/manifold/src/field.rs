//! The ODELoRA vector field (SPEC §2) and the tangent projection.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use crate::symmetric::SymmetricEigen;
use crate::{LoraPair, ManifoldError};

/// How the Gram inverses are damped: `M⁻¹ → (M + δI)⁻¹`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Damping {
    /// `δ = c · tr(M) / r`: scale-free, so it perturbs the field by about
    /// `c · κ(M)` relative whatever the size of the factors.
    Relative(f64),
    /// A fixed `δ`.
    Absolute(f64),
}

impl Damping {
    /// `δ` for the Gram matrix `m`.
    fn delta(self, m: &Mat<f64>) -> f64 {
        match self {
            Damping::Relative(c) => {
                let r = m.nrows().max(1) as f64;
                let trace: f64 = (0..m.nrows()).map(|i| m[(i, i)]).sum();
                c * trace / r
            }
            Damping::Absolute(d) => d,
        }
    }
}

/// Parameters of the ODELoRA field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldParams {
    /// Damping of the Gram inverses; default `Relative(1e-12)`.
    pub damping: Damping,
    /// Balance stabilisation `γ ≥ 0`: the balance gap then obeys
    /// `d/dt (BᵀB − AAᵀ) = −γ (BᵀB − AAᵀ)`; default 0 (the exact flow).
    pub gamma: f64,
}

impl Default for FieldParams {
    fn default() -> Self {
        Self { damping: Damping::Relative(1e-12), gamma: 0.0 }
    }
}

impl FieldParams {
    /// Validated parameters.
    pub fn new(damping: Damping, gamma: f64) -> Result<Self, ManifoldError> {
        let d = match damping {
            Damping::Relative(d) | Damping::Absolute(d) => d,
        };
        if !(d.is_finite() && d >= 0.0) {
            return Err(ManifoldError::InvalidParameter(format!("damping must be finite and ≥ 0, got {d}")));
        }
        if !(gamma.is_finite() && gamma >= 0.0) {
            return Err(ManifoldError::InvalidParameter(format!("γ must be finite and ≥ 0, got {gamma}")));
        }
        Ok(Self { damping, gamma })
    }

    /// The exact field: no damping, no stabilisation (used by the property tests).
    pub fn exact() -> Self {
        Self { damping: Damping::Absolute(0.0), gamma: 0.0 }
    }
}

/// Workspace of [`odelora_field`] for one `m × n` layer of rank `r`,
/// allocated once so that evaluating the field does not allocate.
#[derive(Debug)]
pub struct FieldWorkspace {
    g_at: Mat<f64>,
    bt_g: Mat<f64>,
    bt_g_at: Mat<f64>,
    gram_b: Mat<f64>,
    gram_a: Mat<f64>,
    inv_b: Mat<f64>,
    inv_a: Mat<f64>,
    s: Mat<f64>,
    rhs: Mat<f64>,
    k: Mat<f64>,
    inner: Mat<f64>,
    eig: SymmetricEigen,
}

impl FieldWorkspace {
    /// A workspace for `m × n` layers with LoRA rank `r`.
    pub fn new(m: usize, n: usize, r: usize) -> Self {
        let rr = || Mat::zeros(r, r);
        Self {
            g_at: Mat::zeros(m, r),
            bt_g: Mat::zeros(r, n),
            bt_g_at: rr(),
            gram_b: rr(),
            gram_a: rr(),
            inv_b: rr(),
            inv_a: rr(),
            s: rr(),
            rhs: rr(),
            k: rr(),
            inner: rr(),
            eig: SymmetricEigen::new(r),
        }
    }

    /// A workspace shaped for `pair`.
    pub fn for_pair(pair: &LoraPair) -> Self {
        Self::new(pair.out_dim(), pair.in_dim(), pair.rank())
    }
}

/// The ODELoRA field `(F_B, F_A) = F(B, A)` for the full-weight gradient `G`,
/// written to `out` (SPEC §2):
///
/// ```text
/// S   = M_B⁻¹ (Bᵀ G Aᵀ)
/// K   : (M_A + M_B) K + K (M_A + M_B) = −(S + Sᵀ) − γ (M_B − M_A),  K = Kᵀ
/// F_B = −(G Aᵀ) M_A⁻¹ + B [S M_A⁻¹ + K]
/// F_A = −M_B⁻¹ (Bᵀ G) − K A
/// ```
///
/// so that `F_B A + B F_A = −P_T(G)` (the Riemannian gradient flow of the
/// full-weight loss on the rank-r manifold) and the balance `BᵀB − AAᵀ`
/// decays at rate γ. Cost: two products against `G` (`O(mnr)`) plus
/// `O((m + n) r² + r³)`; no `m × m` or `n × n` matrix is formed.
/// `par` is used for the products against `G`.
pub fn odelora_field(
    out: &mut LoraPair,
    pair: &LoraPair,
    g: MatRef<'_, f64>,
    params: &FieldParams,
    ws: &mut FieldWorkspace,
    par: Par,
) {
    let (b, a) = (pair.b.as_ref(), pair.a.as_ref());
    debug_assert_eq!(g.shape(), (pair.out_dim(), pair.in_dim()));
    matmul(ws.g_at.as_mut(), Accum::Replace, g, a.transpose(), 1.0, par);
    matmul(ws.bt_g.as_mut(), Accum::Replace, b.transpose(), g, 1.0, par);
    matmul(ws.bt_g_at.as_mut(), Accum::Replace, b.transpose(), ws.g_at.as_ref(), 1.0, Par::Seq);
    matmul(ws.gram_b.as_mut(), Accum::Replace, b.transpose(), b, 1.0, Par::Seq);
    matmul(ws.gram_a.as_mut(), Accum::Replace, a, a.transpose(), 1.0, Par::Seq);

    let delta_b = params.damping.delta(&ws.gram_b);
    let delta_a = params.damping.delta(&ws.gram_a);
    ws.eig.damped_inverse(ws.gram_b.as_ref(), delta_b, &mut ws.inv_b);
    ws.eig.damped_inverse(ws.gram_a.as_ref(), delta_a, &mut ws.inv_a);

    // S = M_B⁻¹ BᵀGAᵀ;  rhs = −(S + Sᵀ) − γ (M_B − M_A).
    matmul(ws.s.as_mut(), Accum::Replace, ws.inv_b.as_ref(), ws.bt_g_at.as_ref(), 1.0, Par::Seq);
    let r = pair.rank();
    for j in 0..r {
        for i in 0..r {
            ws.rhs[(i, j)] = -(ws.s[(i, j)] + ws.s[(j, i)]) - params.gamma * (ws.gram_b[(i, j)] - ws.gram_a[(i, j)]);
        }
    }
    // The Lyapunov operator's matrix M_A + M_B (reusing `inner` as storage).
    for j in 0..r {
        for i in 0..r {
            ws.inner[(i, j)] = ws.gram_a[(i, j)] + ws.gram_b[(i, j)];
        }
    }
    ws.eig.lyapunov(ws.inner.as_ref(), ws.rhs.as_ref(), &mut ws.k);

    // inner = S M_A⁻¹ + K.
    ws.inner.copy_from(&ws.k);
    matmul(ws.inner.as_mut(), Accum::Add, ws.s.as_ref(), ws.inv_a.as_ref(), 1.0, Par::Seq);

    // F_B = −(GAᵀ) M_A⁻¹ + B·inner;  F_A = −M_B⁻¹ (BᵀG) − K A.
    matmul(out.b.as_mut(), Accum::Replace, ws.g_at.as_ref(), ws.inv_a.as_ref(), -1.0, Par::Seq);
    matmul(out.b.as_mut(), Accum::Add, b, ws.inner.as_ref(), 1.0, Par::Seq);
    matmul(out.a.as_mut(), Accum::Replace, ws.inv_b.as_ref(), ws.bt_g.as_ref(), -1.0, Par::Seq);
    matmul(out.a.as_mut(), Accum::Add, ws.k.as_ref(), a, -1.0, Par::Seq);
}

/// Tangent projection of the fixed-rank manifold at `X = BA`:
/// `P_T(G) = P_B G + G P_A − P_B G P_A` with `P_B = B M_B⁻¹ Bᵀ`,
/// `P_A = Aᵀ M_A⁻¹ A`. Forms the `m × n` result (for tests and analysis,
/// not for the training loop); errors if `B` or `A` is rank-deficient.
pub fn tangent_project(pair: &LoraPair, g: MatRef<'_, f64>) -> Result<Mat<f64>, ManifoldError> {
    let r = pair.rank();
    let mut eig = SymmetricEigen::new(r);
    let (mut inv_b, mut inv_a) = (Mat::zeros(r, r), Mat::zeros(r, r));
    eig.damped_inverse(pair.gram_b().as_ref(), 0.0, &mut inv_b);
    eig.damped_inverse(pair.gram_a().as_ref(), 0.0, &mut inv_a);
    if !(inv_b.is_all_finite() && inv_a.is_all_finite()) {
        return Err(ManifoldError::RankDeficient);
    }
    let (b, a) = (&pair.b, &pair.a);
    // P_B G = B (M_B⁻¹ (Bᵀ G)), G P_A = ((G Aᵀ) M_A⁻¹) A.
    let pb_g = b * (&inv_b * (b.transpose() * g));
    let g_pa = (g * a.transpose()) * &inv_a * a;
    let pb_g_pa = (&pb_g * a.transpose()) * &inv_a * a;
    Ok(pb_g + g_pa - pb_g_pa)
}
