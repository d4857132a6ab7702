//! LoRA factor pairs and lists of them, as integrator states.

use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, Mat, MatRef, Par};
use odelora_integrators::{weighted_square_sum_slices, State};

use crate::ManifoldError;

/// A LoRA factor pair: `B ∈ R^{m×r}` (out × r) and `A ∈ R^{r×n}` (r × in),
/// representing the update `X = B·A` (scale `s` folded in, see the crate docs).
#[derive(Debug, Clone, PartialEq)]
pub struct LoraPair {
    /// The `m × r` factor.
    pub b: Mat<f64>,
    /// The `r × n` factor.
    pub a: Mat<f64>,
}

impl LoraPair {
    /// A pair from its factors; errors unless `b.ncols() == a.nrows()`.
    pub fn new(b: Mat<f64>, a: Mat<f64>) -> Result<Self, ManifoldError> {
        if b.ncols() != a.nrows() {
            return Err(ManifoldError::ShapeMismatch(format!(
                "B is {}×{} but A is {}×{}: B's columns must equal A's rows",
                b.nrows(),
                b.ncols(),
                a.nrows(),
                a.ncols()
            )));
        }
        Ok(Self { b, a })
    }

    /// The zero pair of the given shape.
    pub fn zeros(m: usize, n: usize, r: usize) -> Self {
        Self { b: Mat::zeros(m, r), a: Mat::zeros(r, n) }
    }

    /// Output dimension `m`.
    pub fn out_dim(&self) -> usize {
        self.b.nrows()
    }
    /// Input dimension `n`.
    pub fn in_dim(&self) -> usize {
        self.a.ncols()
    }
    /// LoRA rank `r`.
    pub fn rank(&self) -> usize {
        self.b.ncols()
    }

    /// `X = B·A`.
    pub fn product(&self) -> Mat<f64> {
        &self.b * &self.a
    }

    /// `out ← base + scale · B·A`, without allocating.
    pub fn write_adapted(&self, out: &mut Mat<f64>, base: MatRef<'_, f64>, scale: f64, par: Par) {
        out.copy_from(base);
        matmul(out.as_mut(), Accum::Add, self.b.as_ref(), self.a.as_ref(), scale, par);
    }

    /// Gram matrix `M_B = BᵀB` (r × r).
    pub fn gram_b(&self) -> Mat<f64> {
        self.b.transpose() * &self.b
    }
    /// Gram matrix `M_A = AAᵀ` (r × r).
    pub fn gram_a(&self) -> Mat<f64> {
        &self.a * self.a.transpose()
    }

    /// Balance gap `‖BᵀB − AAᵀ‖_F / (‖BᵀB‖_F + ‖AAᵀ‖_F)` ∈ [0, 1]:
    /// 0 on the balanced manifold, 1 when one factor is zero (LoRA's init);
    /// defined as 0 for the zero pair so it is never NaN.
    pub fn balance_gap(&self) -> f64 {
        let (mb, ma) = (self.gram_b(), self.gram_a());
        let denom = mb.norm_l2() + ma.norm_l2();
        if denom == 0.0 {
            0.0
        } else {
            (&mb - &ma).norm_l2() / denom
        }
    }

    fn same_shape(&self, other: &Self) -> bool {
        self.b.shape() == other.b.shape() && self.a.shape() == other.a.shape()
    }
}

fn mat_axpy(y: &mut Mat<f64>, alpha: f64, x: &Mat<f64>) {
    zip!(y.as_mut(), x.as_ref()).for_each(|unzip!(y, x)| *y += alpha * *x);
}

fn mat_weighted_square_sum(e: &Mat<f64>, y0: &Mat<f64>, y1: &Mat<f64>, atol: f64, rtol: f64) -> f64 {
    (0..e.ncols())
        .map(|j| weighted_square_sum_slices(e.col_as_slice(j), y0.col_as_slice(j), y1.col_as_slice(j), atol, rtol))
        .sum()
}

impl State for LoraPair {
    fn zeros_like(&self) -> Self {
        Self::zeros(self.out_dim(), self.in_dim(), self.rank())
    }
    fn copy_from(&mut self, other: &Self) {
        debug_assert!(self.same_shape(other));
        self.b.copy_from(&other.b);
        self.a.copy_from(&other.a);
    }
    fn axpy(&mut self, alpha: f64, x: &Self) {
        debug_assert!(self.same_shape(x));
        mat_axpy(&mut self.b, alpha, &x.b);
        mat_axpy(&mut self.a, alpha, &x.a);
    }
    fn scale(&mut self, alpha: f64) {
        zip!(self.b.as_mut()).for_each(|unzip!(v)| *v *= alpha);
        zip!(self.a.as_mut()).for_each(|unzip!(v)| *v *= alpha);
    }
    fn dim(&self) -> usize {
        self.b.nrows() * self.b.ncols() + self.a.nrows() * self.a.ncols()
    }
    fn is_finite(&self) -> bool {
        self.b.is_all_finite() && self.a.is_all_finite()
    }
    fn weighted_square_sum(&self, y0: &Self, y1: &Self, atol: f64, rtol: f64) -> f64 {
        mat_weighted_square_sum(&self.b, &y0.b, &y1.b, atol, rtol)
            + mat_weighted_square_sum(&self.a, &y0.a, &y1.a, atol, rtol)
    }
}

/// The factor pairs of every adapted layer of a model: the state of a
/// multi-layer LoRA run. The ODELoRA field acts on each layer separately.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraLayers(pub Vec<LoraPair>);

impl LoraLayers {
    /// The largest balance gap over layers (SPEC §2); 0 for no layers.
    pub fn balance_gap(&self) -> f64 {
        self.0.iter().map(LoraPair::balance_gap).fold(0.0, f64::max)
    }
}

impl State for LoraLayers {
    fn zeros_like(&self) -> Self {
        Self(self.0.iter().map(State::zeros_like).collect())
    }
    fn copy_from(&mut self, other: &Self) {
        self.0.iter_mut().zip(&other.0).for_each(|(s, o)| s.copy_from(o));
    }
    fn axpy(&mut self, alpha: f64, x: &Self) {
        self.0.iter_mut().zip(&x.0).for_each(|(s, o)| s.axpy(alpha, o));
    }
    fn scale(&mut self, alpha: f64) {
        self.0.iter_mut().for_each(|s| s.scale(alpha));
    }
    fn dim(&self) -> usize {
        self.0.iter().map(State::dim).sum()
    }
    fn is_finite(&self) -> bool {
        self.0.iter().all(State::is_finite)
    }
    fn weighted_square_sum(&self, y0: &Self, y1: &Self, atol: f64, rtol: f64) -> f64 {
        self.0.iter().zip(y0.0.iter().zip(&y1.0)).map(|(e, (a, b))| e.weighted_square_sum(a, b, atol, rtol)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_mismatch_is_an_error() {
        assert!(LoraPair::new(Mat::zeros(3, 2), Mat::zeros(3, 4)).is_err());
    }

    #[test]
    fn balance_gap_limits() {
        let zero = LoraPair::zeros(3, 4, 2);
        assert_eq!(zero.balance_gap(), 0.0);
        let mut lora_init = zero.clone();
        lora_init.a[(0, 0)] = 1.0;
        assert_eq!(lora_init.balance_gap(), 1.0);
        let balanced = LoraPair::new(Mat::identity(3, 2), Mat::identity(2, 4)).unwrap();
        assert_eq!(balanced.balance_gap(), 0.0);
    }

    #[test]
    fn state_ops_act_on_both_factors() {
        let mut p = LoraPair::new(Mat::identity(3, 2), Mat::identity(2, 4)).unwrap();
        let q = p.clone();
        p.axpy(2.0, &q);
        assert_eq!(p.b[(0, 0)], 3.0);
        assert_eq!(p.a[(1, 1)], 3.0);
        p.scale(0.0);
        assert_eq!(p, q.zeros_like());
        assert_eq!(LoraLayers(vec![q.clone(), q]).dim(), 2 * (6 + 8));
    }
}
