//! Seed statistics: medians and quantiles over runs.

/// The `q`-quantile (0 ≤ q ≤ 1) of `values` by linear interpolation between
/// order statistics (the "type 7" rule of R and numpy's default). NaN values
/// are ignored; `None` if none remain.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    if v[lo] == v[hi] {
        // Also keeps ∞ (a diverged run's score) from turning into NaN.
        return Some(v[lo]);
    }
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

/// The median of `values` (NaN ignored).
pub fn median(values: &[f64]) -> Option<f64> {
    quantile(values, 0.5)
}

/// Median and interquartile range `(q25, median, q75)`.
pub fn median_iqr(values: &[f64]) -> Option<(f64, f64, f64)> {
    Some((quantile(values, 0.25)?, median(values)?, quantile(values, 0.75)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy() {
        let v = [3.0, 1.0, 4.0, 1.0, 5.0];
        assert_eq!(median(&v), Some(3.0));
        assert_eq!(quantile(&v, 0.25), Some(1.0));
        assert_eq!(quantile(&v, 0.75), Some(4.0));
        // numpy.quantile([1, 2, 3, 4], 0.25) == 1.75
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.25), Some(1.75));
        assert_eq!(median(&[f64::NAN, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
        // Diverged runs score +∞ and must keep ranking last, never NaN.
        assert_eq!(median(&[1.0, f64::INFINITY, f64::INFINITY]), Some(f64::INFINITY));
        assert_eq!(quantile(&[1.0, f64::INFINITY], 0.5), Some(f64::INFINITY));
    }
}
