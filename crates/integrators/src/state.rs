//! The state trait every integrator is generic over.

/// A point of the ODE's phase space: a finite list of `f64` components with
/// the vector-space operations an explicit Runge–Kutta method needs.
///
/// Implemented here for `Vec<f64>`; `odelora-manifold` implements it for a
/// LoRA factor pair and for a list of pairs (one per adapted layer).
/// Implementations must not allocate in [`axpy`](State::axpy),
/// [`scale`](State::scale) and [`copy_from`](State::copy_from): they run in
/// the integrator's inner loop.
pub trait State: Clone {
    /// A zero state of the same shape.
    fn zeros_like(&self) -> Self;
    /// Overwrite `self` with `other` (same shape).
    fn copy_from(&mut self, other: &Self);
    /// `self ← self + alpha · x`.
    fn axpy(&mut self, alpha: f64, x: &Self);
    /// `self ← alpha · self`.
    fn scale(&mut self, alpha: f64);
    /// Number of scalar components.
    fn dim(&self) -> usize;
    /// Whether every component is finite.
    fn is_finite(&self) -> bool;
    /// `Σ_i (self_i / (atol + rtol · max(|y0_i|, |y1_i|)))²` — the unnormalised
    /// tolerance-weighted square sum of an error vector `self`.
    ///
    /// Composite states add their parts' sums, which is why this and not the
    /// RMS norm is the required method.
    fn weighted_square_sum(&self, y0: &Self, y1: &Self, atol: f64, rtol: f64) -> f64;

    /// Hairer's weighted RMS norm `sqrt(mean_i (e_i / (atol + rtol·max(|y0_i|, |y1_i|)))²)`.
    fn weighted_rms_norm(&self, y0: &Self, y1: &Self, atol: f64, rtol: f64) -> f64 {
        let n = self.dim().max(1) as f64;
        (self.weighted_square_sum(y0, y1, atol, rtol) / n).sqrt()
    }
}

impl State for Vec<f64> {
    fn zeros_like(&self) -> Self {
        vec![0.0; self.len()]
    }
    fn copy_from(&mut self, other: &Self) {
        self.copy_from_slice(other);
    }
    fn axpy(&mut self, alpha: f64, x: &Self) {
        for (s, xi) in self.iter_mut().zip(x) {
            *s += alpha * xi;
        }
    }
    fn scale(&mut self, alpha: f64) {
        self.iter_mut().for_each(|s| *s *= alpha);
    }
    fn dim(&self) -> usize {
        self.len()
    }
    fn is_finite(&self) -> bool {
        self.iter().all(|v| v.is_finite())
    }
    fn weighted_square_sum(&self, y0: &Self, y1: &Self, atol: f64, rtol: f64) -> f64 {
        weighted_square_sum_slices(self, y0, y1, atol, rtol)
    }
}

/// [`State::weighted_square_sum`] over plain slices, for implementors whose
/// storage is (a sequence of) contiguous columns.
pub fn weighted_square_sum_slices(err: &[f64], y0: &[f64], y1: &[f64], atol: f64, rtol: f64) -> f64 {
    err.iter()
        .zip(y0.iter().zip(y1))
        .map(|(e, (a, b))| {
            let w = e / (atol + rtol * a.abs().max(b.abs()));
            w * w
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_operations() {
        let mut y = vec![1.0, 2.0];
        y.axpy(2.0, &vec![1.0, -1.0]);
        assert_eq!(y, vec![3.0, 0.0]);
        y.scale(0.5);
        assert_eq!(y, vec![1.5, 0.0]);
        assert!(y.is_finite());
        y[1] = f64::NAN;
        assert!(!y.is_finite());
    }

    #[test]
    fn weighted_norm_matches_definition() {
        let e = vec![1e-6, -2e-6];
        let y0 = vec![1.0, 0.0];
        let y1 = vec![0.5, 3.0];
        let (atol, rtol) = (1e-9, 1e-3);
        let w0: f64 = 1e-6 / (atol + rtol * 1.0);
        let w1 = -2e-6 / (atol + rtol * 3.0);
        let want = ((w0 * w0 + w1 * w1) / 2.0).sqrt();
        let got = e.weighted_rms_norm(&y0, &y1, atol, rtol);
        assert!((got - want).abs() <= 1e-15 * want);
    }
}
