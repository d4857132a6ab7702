//! Convergence-rate fits: linear convergence from an error series, and
//! log–log slopes.

/// A fitted linear-convergence rate: `e_k ≈ C · ρ^k` over a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateFit {
    /// Contraction factor ρ per unit of the abscissa (per step, or per
    /// gradient evaluation when fitted against evaluations).
    pub factor: f64,
    /// Coefficient of determination of the log-linear fit.
    pub r_squared: f64,
    /// First and last index of the window used.
    pub window: (usize, usize),
}

/// A least-squares line `y ≈ intercept + slope · x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineFit {
    /// Slope.
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// Coefficient of determination.
    pub r_squared: f64,
    /// Standard error of the slope (0 with two points).
    pub slope_std_error: f64,
}

impl LineFit {
    /// Two-sided 95% confidence interval of the slope from the Student t
    /// distribution with `points − 2` degrees of freedom (`points` is the
    /// number of pairs fitted); `None` with fewer than three points.
    pub fn slope_interval_95(&self, points: usize) -> Option<(f64, f64)> {
        let half = student_t_975(points.checked_sub(2).filter(|&d| d > 0)?) * self.slope_std_error;
        Some((self.slope - half, self.slope + half))
    }
}

/// The 0.975 quantile of Student's t with `dof ≥ 1` degrees of freedom
/// (tabulated to 3 decimals for dof ≤ 30, then the normal's 1.960).
fn student_t_975(dof: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    TABLE.get(dof - 1).copied().unwrap_or(1.960)
}

/// Ordinary least squares on `(x, y)` pairs; `None` with fewer than two
/// points, a constant `x`, or non-finite values.
pub fn fit_line(x: &[f64], y: &[f64]) -> Option<LineFit> {
    let n = x.len().min(y.len());
    if n < 2 || x.iter().chain(y).take(2 * n).any(|v| !v.is_finite()) {
        return None;
    }
    let nf = n as f64;
    let (mx, my) = (x[..n].iter().sum::<f64>() / nf, y[..n].iter().sum::<f64>() / nf);
    let sxx: f64 = x[..n].iter().map(|v| (v - mx).powi(2)).sum();
    let sxy: f64 = x[..n].iter().zip(&y[..n]).map(|(a, b)| (a - mx) * (b - my)).sum();
    let syy: f64 = y[..n].iter().map(|v| (v - my).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let sse: f64 = x[..n].iter().zip(&y[..n]).map(|(a, b)| (b - intercept - slope * a).powi(2)).sum();
    let r_squared = if syy == 0.0 { 1.0 } else { 1.0 - sse / syy };
    let slope_std_error = if n > 2 { (sse / (nf - 2.0) / sxx).sqrt() } else { 0.0 };
    Some(LineFit { slope, intercept, r_squared, slope_std_error })
}

/// Fit `e_k ≈ C ρ^(x_k)` to the points of `errors` (at abscissae `x`) that
/// lie in `[floor, ceiling]`: the window between the initial transient and
/// the rounding floor, where linear convergence is visible. The window is
/// the longest run of consecutive points inside the band.
pub fn fit_contraction(x: &[f64], errors: &[f64], floor: f64, ceiling: f64) -> Option<RateFit> {
    let inside = |e: f64| e.is_finite() && e >= floor && e <= ceiling;
    let (mut best, mut start) = ((0, 0), None);
    for (k, &e) in errors.iter().enumerate() {
        match (inside(e), start) {
            (true, None) => start = Some(k),
            (false, Some(s)) => {
                if k - s > best.1 - best.0 {
                    best = (s, k);
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        if errors.len() - s > best.1 - best.0 {
            best = (s, errors.len());
        }
    }
    let (lo, hi) = best;
    let logs: Vec<f64> = errors[lo..hi].iter().map(|e| e.ln()).collect();
    let line = fit_line(&x[lo..hi], &logs)?;
    Some(RateFit { factor: line.slope.exp(), r_squared: line.r_squared, window: (lo, hi - 1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_contraction_between_transient_and_floor() {
        // Transient above 1e-1, then 0.8^k decay, then a flat floor at 1e-15.
        let errors: Vec<f64> =
            (0..200).map(|k| if k < 5 { 1.0 } else { (0.5 * 0.8f64.powi(k - 5)).max(1e-15) }).collect();
        let x: Vec<f64> = (0..200).map(|k| k as f64).collect();
        let fit = fit_contraction(&x, &errors, 1e-13, 1e-1).unwrap();
        assert!((fit.factor - 0.8).abs() < 1e-12, "{fit:?}");
        assert!(fit.r_squared > 1.0 - 1e-12);
        assert!(errors[fit.window.0].max(errors[fit.window.1]) <= 1e-1);
        // Per evaluation (4 per step) the factor is the fourth root.
        let evals: Vec<f64> = x.iter().map(|k| 4.0 * k).collect();
        let per_eval = fit_contraction(&evals, &errors, 1e-13, 1e-1).unwrap();
        assert!((per_eval.factor - 0.8f64.powf(0.25)).abs() < 1e-12);
    }

    #[test]
    fn line_fit_with_known_slope_and_error() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [1.0, 3.1, 4.9, 7.0];
        let f = fit_line(&x, &y).unwrap();
        assert!((f.slope - 1.98).abs() < 1e-12);
        assert!(f.r_squared > 0.99 && f.slope_std_error > 0.0);
        assert!(fit_line(&[1.0, 1.0], &[0.0, 1.0]).is_none());
        // 95% interval: slope ± t(0.975, 2 dof) · SE, SE = √(SSE/(n−2)/Sxx).
        let sse: f64 = x.iter().zip(&y).map(|(a, b)| (b - f.intercept - f.slope * a).powi(2)).sum();
        let se = (sse / 2.0 / 5.0).sqrt();
        assert!((f.slope_std_error - se).abs() < 1e-14);
        let (lo, hi) = f.slope_interval_95(4).unwrap();
        assert!((hi - f.slope - 4.303 * se).abs() < 1e-12 && (f.slope - lo - 4.303 * se).abs() < 1e-12);
        assert!(f.slope_interval_95(2).is_none());
        // An exact line has a zero-width interval.
        let exact = fit_line(&x, &[1.0, 3.0, 5.0, 7.0]).unwrap();
        assert_eq!(exact.slope_interval_95(4), Some((2.0, 2.0)));
        assert!(fit_contraction(&[0.0], &[1.0], 0.1, 10.0).is_none());
    }
}
