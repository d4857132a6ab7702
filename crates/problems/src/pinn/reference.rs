//! Reference solution of the viscous Burgers equation (SPEC §5.4, problem `burgers`):
//!
//! ```text
//! u_t + u u_x − ν u_xx = 0,   x ∈ [−1, 1], t ∈ [0, 1],   u(x, 0) = −sin(πx),   u(±1, t) = 0.
//! ```
//!
//! # The Cole–Hopf integral
//!
//! The Cole–Hopf transform `u = −2ν θ_x / θ` turns Burgers into the heat equation
//! `θ_t = ν θ_xx`, whose solution is a Gaussian convolution. Written as in Basdevant et al.
//! (1986, eq. 4.1),
//!
//! ```text
//! u(x, t) = − ∫ sin(π(x−η)) f(x−η) exp(−η²/(4νt)) dη  /  ∫ f(x−η) exp(−η²/(4νt)) dη,
//! f(y)    = exp(−cos(πy) / (2πν)),
//! ```
//!
//! both integrals over the whole real line. The initial condition is 2-periodic and odd, so
//! the solution is too, and `u(±1, t) = 0` holds by symmetry; the formula is valid for every
//! real `x`. At `t = 0` the value is `−sin(πx)` exactly.
//!
//! # Why log space
//!
//! With `s = η/σ`, `σ = √(4νt)`, `k = 1/(2πν)` both integrands are `g(s) · exp(ψ(s))` with
//! the exponent `ψ(s) = −s² − k cos(π(x − σs))`, and `u = −∫ sin(π(x−σs)) e^ψ ds / ∫ e^ψ ds`.
//! `e^k` overflows f64 once `ν < 1/(2π·709) ≈ 2.2e-4`, and at ν = 0.01/π the integrand already
//! spans 43 orders of magnitude. We therefore sum `exp(ψ − max ψ)` (a running log-sum-exp that
//! rescales the partial sums whenever a larger exponent appears): no term exceeds one, the
//! largest is exactly one, and the ratio is unchanged. This works for every ν > 0.
//!
//! # Quadrature and its accuracy
//!
//! The trapezoid rule with step `h` on the real line converges exponentially for integrands
//! analytic in a strip (Trefethen & Weideman, *SIAM Review* 56, 2014, Thm 5.1): if
//! `∫ |I(s + ib)| ds ≤ M` for `|b| ≤ b`, the error is at most `2M / (e^{2πb/h} − 1)`. Here
//! `Re ψ(s + ib) ≤ ψ(s) + b² + k(cosh(πσb) − 1)` and `|sin(α − iπσb)| ≤ cosh(πσb)`, so both sums
//! err by less than `e^{−L}` relative to the denominator when
//!
//! ```text
//! 2πb/h ≥ L + b² + k (cosh(πσb) − 1) + ln(2 (1 + cosh(πσb))).
//! ```
//!
//! We take the `b` that allows the largest `h` (a one-dimensional root find per time `t`).
//! The sum is truncated at `|s| ≤ c(x) = √(k (1 + cos πx) + L)`: beyond it
//! `ψ(s) ≤ k − s² < ψ(0) − L ≤ max ψ − L`, and since `s = 0` is a node the neglected terms are
//! below `≈ 2 e^{−L}` of the computed denominator. With `L = 36` (`e^{−36} ≈ 2.3e-16`) the
//! quadrature error is at rounding level everywhere, including at the shock `x = 0` for `t`
//! near 1, where the integrand is bimodal with peaks near `η = ±0.74`, far outside the
//! Gaussian's own width. Against a 40-digit evaluation of the same integrals (mpmath) the
//! values agree to 5e-16 near the shock. The published DeepXDE/Raissi solution (ν = 0.01/π,
//! 256 × 100 grid, `tests/burgers_reference.rs`) differs by at most 4.2e-11, at
//! `x = −1/255, t = 0.66`, where the 40-digit value sides with ours: that is the published
//! data's own error. Cost: `2c/h` nodes per point, at most ≈ 100 at ν = 0.01/π (the whole grid
//! takes ≈ 50 ms), growing like `√(t/ν)`.
//!
//! For `π²νt ≥ 1.5` (long times or large ν; never on the SPEC grid) the Gaussian is wider
//! than the period and the same solution is summed instead as its Fourier–Bessel series,
//!
//! ```text
//! θ ∝ 1 + 2 Σ_j (−1)^j (I_j(k)/I_0(k)) e^{−j²π²νt} cos(jπx),   u = −2ν θ_x / θ,
//! ```
//!
//! whose denominator is then ≥ 0.549 and whose terms beyond `j = 6` are below `e^{−73}`. The two
//! forms agree to rounding where both apply (unit tests).
//!
//! # References
//!
//! - C. Basdevant, M. Deville, P. Haldenwang, J. M. Lacroix, J. Ouazzani, R. Peyret,
//!   P. Orlandi, A. T. Patera, "Spectral and finite difference solutions of the Burgers
//!   equation", *Computers & Fluids* 14(1), 23–41, 1986.
//! - E. Hopf, *Comm. Pure Appl. Math.* 3, 1950; J. D. Cole, *Quart. Appl. Math.* 9, 1951.
//! - L. N. Trefethen, J. A. C. Weideman, "The exponentially convergent trapezoidal rule",
//!   *SIAM Review* 56(3), 385–458, 2014.

use std::f64::consts::PI;

use crate::ProblemError;

/// Negative log of the tolerated relative quadrature error (`e^{−36} ≈ 2.3e-16`), used both for
/// the truncation of the infinite interval and for the trapezoid step.
const LOG_TOLERANCE: f64 = 36.0;

/// Switch to the Fourier–Bessel series when `π²νt` reaches this value: then its denominator
/// is at least `1 − 2 Σ_{j≥1} e^{−1.5 j²} ≈ 0.549`, so the series is well conditioned.
const SERIES_THRESHOLD: f64 = 1.5;

/// Terms `j = 1..=6` of the series; the next is below `e^{−49·1.5} ≈ 1e-32`.
const SERIES_TERMS: usize = 6;

/// Smallest supported viscosity. The quadrature needs `O(ν^{-1/2})` nodes per point
/// (≈ 5·10⁵ at this bound), so smaller values would run for hours rather than fail.
const NU_MIN: f64 = 1e-10;

/// The Cole–Hopf solution of viscous Burgers with `u(x, 0) = −sin(πx)` for one viscosity ν.
///
/// Built once per ν (validating it and precomputing every ν-dependent constant), then
/// evaluated at any number of points without allocating: the nodes `s_i = iΔ` are generated
/// on the fly rather than stored, because the step Δ depends on `t` and the window on `x`
/// ([`BurgersReference::grid`] computes the step once per time level).
///
/// ```
/// use odelora_problems::pinn::BurgersReference;
///
/// let burgers = BurgersReference::new(0.01 / std::f64::consts::PI).unwrap();
/// assert_eq!(burgers.eval(0.5, 0.0), -1.0);
/// let (xs, ts) = BurgersReference::published_grid();
/// let u = burgers.grid(&xs, &ts);
/// assert_eq!(u.len(), 256 * 100);
/// assert!(u.iter().all(|v| v.abs() <= 1.0));
/// assert!(BurgersReference::new(-1.0).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BurgersReference {
    nu: f64,
    /// `k = 1/(2πν)`, the amplitude of the exponent of `f`.
    k: f64,
    /// `(I_j(k)/I_0(k)) / k` for `j = 1..=SERIES_TERMS`, the series coefficients.
    series_coefficients: [f64; SERIES_TERMS],
}

/// Everything about one time level that the spatial evaluation needs.
#[derive(Debug, Clone, Copy)]
enum TimeLevel {
    /// `t ≤ 0`: the initial condition.
    Initial,
    /// Cole–Hopf trapezoid rule in `s = η/σ` with at most this step.
    Quadrature { sigma: f64, step: f64 },
    /// Fourier–Bessel series with `a = π²νt`.
    Series { a: f64 },
    /// `t` is NaN.
    Undefined,
}

impl BurgersReference {
    /// The reference solution for viscosity `nu`.
    ///
    /// Errors if `nu` is not a finite number in `[1e-10, ∞)`: non-positive or non-finite
    /// values have no solution, and below `1e-10` the quadrature cost (`O(ν^{-1/2})` nodes
    /// per point) becomes prohibitive.
    pub fn new(nu: f64) -> Result<Self, ProblemError> {
        if !(nu.is_finite() && nu > 0.0) {
            return Err(ProblemError::InvalidParameter(format!("viscosity ν must be positive and finite, got {nu}")));
        }
        if nu < NU_MIN {
            return Err(ProblemError::InvalidParameter(format!(
                "viscosity ν = {nu:e} is below the supported minimum {NU_MIN:e} (the Cole–Hopf quadrature \
                 needs O(ν^-1/2) nodes per point)"
            )));
        }
        let k = 1.0 / (2.0 * PI * nu);
        let mut series_coefficients = [0.0; SERIES_TERMS];
        scaled_bessel_ratios(k, &mut series_coefficients);
        Ok(Self { nu, k, series_coefficients })
    }

    /// The viscosity ν.
    pub fn nu(&self) -> f64 {
        self.nu
    }

    /// `u(x, t)`. Times `t ≤ 0` give the initial condition `−sin(πx)` (the problem starts at
    /// `t = 0`); any real `x` is accepted (the solution is 2-periodic and odd); NaN or infinite
    /// `x`, or NaN `t`, give NaN. Accurate to ≈ 1e-15 absolute for `t ∈ [0, 1]`.
    pub fn eval(&self, x: f64, t: f64) -> f64 {
        self.eval_at_level(x, self.time_level(t))
    }

    /// `u` on the tensor grid `xs × ts`, ordered t outer, x inner: entry `j·xs.len() + i` is
    /// `u(xs[i], ts[j])` (the order of the published CSV).
    pub fn grid(&self, xs: &[f64], ts: &[f64]) -> Vec<f64> {
        let mut values = Vec::with_capacity(xs.len() * ts.len());
        for &t in ts {
            let level = self.time_level(t);
            values.extend(xs.iter().map(|&x| self.eval_at_level(x, level)));
        }
        values
    }

    /// The published test grid of SPEC §5.4 (DeepXDE's `Burgers.npz`): `x` is
    /// `linspace(−1, 1, 256)` as numpy computes it (`−1 + i·(2/255)`, last point exactly 1),
    /// `t_j = j/100` for `j = 0..100`.
    pub fn published_grid() -> (Vec<f64>, Vec<f64>) {
        const NX: usize = 256;
        let dx = 2.0 / (NX - 1) as f64;
        let xs = (0..NX).map(|i| if i + 1 == NX { 1.0 } else { -1.0 + i as f64 * dx }).collect();
        let ts = (0..100).map(|j| j as f64 / 100.0).collect();
        (xs, ts)
    }

    fn time_level(&self, t: f64) -> TimeLevel {
        if t.is_nan() {
            return TimeLevel::Undefined;
        }
        if t <= 0.0 {
            return TimeLevel::Initial;
        }
        let nu_t = self.nu * t;
        let a = PI * PI * nu_t;
        if a >= SERIES_THRESHOLD {
            return TimeLevel::Series { a };
        }
        let sigma = (4.0 * nu_t).sqrt();
        TimeLevel::Quadrature { sigma, step: trapezoid_step(self.k, sigma) }
    }

    fn eval_at_level(&self, x: f64, level: TimeLevel) -> f64 {
        match level {
            TimeLevel::Initial => -(PI * x).sin(),
            TimeLevel::Quadrature { sigma, step } => self.cole_hopf_quadrature(x, sigma, step),
            TimeLevel::Series { a } => self.bessel_series(x, a),
            TimeLevel::Undefined => f64::NAN,
        }
    }

    /// `−Σ sin(π(x−σs_i)) e^{ψ(s_i)} / Σ e^{ψ(s_i)}` on the nodes `s_i = i·Δ`, `|s_i| ≤ c(x)`,
    /// `Δ ≤ max_step`, with a running maximum of ψ so that nothing overflows.
    fn cole_hopf_quadrature(&self, x: f64, sigma: f64, max_step: f64) -> f64 {
        let k = self.k;
        let half_width = (k * (1.0 + (PI * x).cos()).max(0.0) + LOG_TOLERANCE).sqrt();
        // An even number of intervals, so that s = 0 is a node (the truncation bound uses it).
        let half_count = (half_width / max_step).ceil().max(1.0);
        let step = half_width / half_count;
        let half_count = half_count as i64;
        let (mut max_exponent, mut numerator, mut denominator) = (f64::NEG_INFINITY, 0.0, 0.0);
        for i in -half_count..=half_count {
            let s = i as f64 * step;
            let (sin, cos) = (PI * (x - sigma * s)).sin_cos();
            let exponent = -s * s - k * cos;
            if exponent > max_exponent {
                // Rescale the partial sums to the new maximum; this term has weight exactly 1.
                let rescale = (max_exponent - exponent).exp();
                numerator = numerator * rescale + sin;
                denominator = denominator * rescale + 1.0;
                max_exponent = exponent;
            } else {
                let weight = (exponent - max_exponent).exp();
                numerator += weight * sin;
                denominator += weight;
            }
        }
        -numerator / denominator
    }

    /// `u = −2ν θ_x/θ` from `θ ∝ 1 + 2 Σ_j (−1)^j r_j e^{−j²a} cos(jπx)`, `r_j = I_j(k)/I_0(k)`,
    /// using `2νπ = 1/k`: `u = Σ_j 2 (−1)^j j (r_j/k) e^{−j²a} sin(jπx) / θ`.
    fn bessel_series(&self, x: f64, a: f64) -> f64 {
        let (mut numerator, mut denominator) = (0.0, 1.0);
        for (index, &coefficient) in self.series_coefficients.iter().enumerate() {
            let j = (index + 1) as f64;
            let sign = if index % 2 == 0 { -2.0 } else { 2.0 };
            let decay = sign * (-j * j * a).exp();
            let (sin, cos) = (j * PI * x).sin_cos();
            numerator += decay * j * coefficient * sin;
            denominator += decay * coefficient * self.k * cos;
        }
        numerator / denominator
    }
}

/// `u(x, t)` for viscosity `nu`: a one-off evaluation of [`BurgersReference`].
///
/// Errors (instead of returning NaN) if `nu` is invalid (see [`BurgersReference::new`]), if
/// `t` is negative or not finite, or if `x` is not finite. Building the reference costs a
/// Bessel recurrence of `O(√(1/ν))` steps, so for many points build it once and call
/// [`BurgersReference::eval`] or [`BurgersReference::grid`].
pub fn burgers_cole_hopf(x: f64, t: f64, nu: f64) -> Result<f64, ProblemError> {
    if !x.is_finite() {
        return Err(ProblemError::InvalidParameter(format!("position x must be finite, got {x}")));
    }
    if !(t.is_finite() && t >= 0.0) {
        return Err(ProblemError::InvalidParameter(format!("time t must be finite and ≥ 0, got {t}")));
    }
    Ok(BurgersReference::new(nu)?.eval(x, t))
}

/// The largest trapezoid step in `s` whose aliasing error is below `e^{−L}` relative, by the
/// strip bound of the module docs: `h(b) = 2πb / D(b)`,
/// `D(b) = L + b² + k(cosh β − 1) + ln(2(1 + cosh β))`, `β = πσb`, maximised over `b > 0`.
/// `D` is convex with `D(0) > 0`, so the maximiser is the unique root of `b D'(b) − D(b)`,
/// which is increasing; we bracket it and bisect (any `b > 0` gives a valid, smaller step).
fn trapezoid_step(k: f64, sigma: f64) -> f64 {
    let omega = PI * sigma;
    // cosh β − 1 = 2 sinh²(β/2) without cancellation for small β.
    let cosh_minus_one = |beta: f64| 2.0 * (0.5 * beta).sinh().powi(2);
    let log_amplification = |beta: f64| (2.0 * (2.0 + cosh_minus_one(beta))).ln();
    let d = |b: f64| LOG_TOLERANCE + b * b + k * cosh_minus_one(omega * b) + log_amplification(omega * b);
    let tangency = |b: f64| {
        let beta = omega * b;
        let d_prime = 2.0 * b + omega * (k * beta.sinh() + (0.5 * beta).tanh());
        b * d_prime - d(b)
    };
    // ln(2(1 + cosh β)) ≤ ln 4 + β and the k-terms are ≥ 0, so the tangency function is
    // positive where b² − ωb ≥ L + ln 4.
    let (mut lo, mut hi) = (0.0, 0.5 * (omega + (omega * omega + 4.0 * (LOG_TOLERANCE + 4f64.ln())).sqrt()));
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        if tangency(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let b = if lo > 0.0 { lo } else { hi };
    2.0 * PI * b / d(b)
}

/// `out[j−1] = (I_j(k)/I_0(k)) / k` for `j = 1..=out.len()`, by Miller's backward recurrence
/// on the ratios `ρ_i = I_i/I_{i−1} = 1/(2i/k + ρ_{i+1})`, started from the uniform
/// approximation `ρ_i ≈ k/(i + √(i² + k²))` far enough up that the start error (damped like
/// `Π ρ_i² ≈ e^{−M²/k}`) is negligible. The `1/k` scaling keeps every entry finite for any
/// `k > 0` (`(I_1/I_0)/k → 1/2` as `k → 0`).
fn scaled_bessel_ratios(k: f64, out: &mut [f64]) {
    let terms = out.len();
    if terms == 0 {
        return;
    }
    let start = terms + 50 + (40.0 * k).sqrt().ceil() as usize;
    let top = start as f64;
    let mut ratio = k / (top + (top * top + k * k).sqrt());
    let mut ratio_two = 0.0;
    for i in (2..start).rev() {
        ratio = 1.0 / (2.0 * i as f64 / k + ratio);
        if i <= terms {
            out[i - 1] = ratio;
        }
        if i == 2 {
            ratio_two = ratio;
        }
    }
    // ρ_1 / k = 1/(2 + k ρ_2); then multiply up: (I_j/I_0)/k = (ρ_1/k) ρ_2 ⋯ ρ_j.
    let mut scaled = 1.0 / (2.0 + k * ratio_two);
    out[0] = scaled;
    for entry in out.iter_mut().skip(1) {
        scaled *= *entry;
        *entry = scaled;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NU_PINN: f64 = 0.01 / PI;

    fn sample_points() -> Vec<(f64, f64)> {
        let mut points = Vec::new();
        for i in 0..=20 {
            for &t in &[1e-6, 0.01, 0.1, 0.3, 0.5, 0.8, 1.0] {
                points.push((-1.0 + 0.1 * i as f64, t));
            }
        }
        points
    }

    #[test]
    fn initial_condition_is_exact() {
        for nu in [NU_PINN, 0.1 / PI, 1e-4, 3.0] {
            let burgers = BurgersReference::new(nu).unwrap();
            for i in 0..=40 {
                let x = -1.0 + 0.05 * i as f64;
                assert_eq!(burgers.eval(x, 0.0), -(PI * x).sin());
                assert_eq!(burgers.eval(x, -0.5), -(PI * x).sin());
            }
        }
    }

    #[test]
    fn small_time_approaches_initial_condition() {
        let burgers = BurgersReference::new(NU_PINN).unwrap();
        for i in 0..=40 {
            let x = -1.0 + 0.05 * i as f64;
            // u(x, t) = −sin πx + O(t): u_t = −u u_x + ν u_xx is bounded by π/2 + νπ².
            assert!((burgers.eval(x, 1e-9) + (PI * x).sin()).abs() < 1e-8, "x = {x}");
        }
    }

    #[test]
    fn odd_symmetry_and_boundary_values() {
        for nu in [NU_PINN, 0.1 / PI, 1e-4] {
            let burgers = BurgersReference::new(nu).unwrap();
            for (x, t) in sample_points() {
                let (plus, minus) = (burgers.eval(x, t), burgers.eval(-x, t));
                assert!((plus + minus).abs() < 1e-13, "ν = {nu}, x = {x}, t = {t}: {plus} vs {minus}");
                assert!(plus.abs() <= 1.0 + 1e-13, "maximum principle at ν = {nu}, x = {x}, t = {t}: {plus}");
            }
            for &t in &[0.0, 0.01, 0.25, 0.5, 0.75, 1.0, 3.0] {
                for x in [-1.0, 1.0] {
                    assert!(burgers.eval(x, t).abs() < 1e-13, "ν = {nu}, u({x}, {t}) = {}", burgers.eval(x, t));
                }
            }
        }
    }

    /// Central differences of step δ: the residual u_t + u u_x − ν u_xx is O(δ²) plus rounding
    /// O(ε/δ²)·ν. We check it is small at δ = 1e-3 and that it shrinks like δ² (so what remains
    /// is finite-difference error, not a defect of u): Richardson's combination
    /// (4R(δ) − R(2δ))/3 removes the δ² term and must be far smaller still.
    #[test]
    fn satisfies_the_pde() {
        let nu = 0.1 / PI;
        let burgers = BurgersReference::new(nu).unwrap();
        let residual = |x: f64, t: f64, delta: f64| {
            let u = |x, t| burgers.eval(x, t);
            let center = u(x, t);
            let u_t = (u(x, t + delta) - u(x, t - delta)) / (2.0 * delta);
            let u_x = (u(x + delta, t) - u(x - delta, t)) / (2.0 * delta);
            let u_xx = (u(x + delta, t) - 2.0 * center + u(x - delta, t)) / (delta * delta);
            u_t + center * u_x - nu * u_xx
        };
        for &(x, t) in &[(0.3, 0.5), (-0.6, 0.2), (0.5, 0.9), (0.1, 0.1), (-0.85, 0.7), (0.2, 0.95)] {
            let delta = 1e-3;
            let (fine, coarse) = (residual(x, t, delta), residual(x, t, 2.0 * delta));
            let extrapolated = (4.0 * fine - coarse) / 3.0;
            assert!(fine.abs() < 1e-4, "residual {fine:e} at ({x}, {t})");
            assert!(extrapolated.abs() < 1e-8, "extrapolated residual {extrapolated:e} at ({x}, {t})");
        }
    }

    /// Trapezoid error bound check: halving the step or widening the window (L = 36 → 60)
    /// changes nothing beyond rounding, across regimes of ν and t, including the shock.
    #[test]
    fn quadrature_is_converged() {
        for nu in [NU_PINN, 0.02 / PI, 0.1 / PI, 1e-4, 1.0, 20.0] {
            let burgers = BurgersReference::new(nu).unwrap();
            for &t in &[1e-4, 0.05, 0.3, 0.7, 1.0] {
                let TimeLevel::Quadrature { sigma, step } = burgers.time_level(t) else { continue };
                for i in 0..=64 {
                    let x = -1.0 + i as f64 / 32.0;
                    let base = burgers.cole_hopf_quadrature(x, sigma, step);
                    let fine = burgers.cole_hopf_quadrature(x, sigma, step / 2.0);
                    let wide = wide_window_quadrature(burgers.k, x, sigma, step / 2.0, 60.0);
                    assert!((base - fine).abs() < 1e-14, "ν = {nu}, x = {x}, t = {t}: {base} vs {fine}");
                    assert!((base - wide).abs() < 1e-14, "ν = {nu}, x = {x}, t = {t}: {base} vs {wide}");
                }
            }
        }
    }

    /// Straightforward two-pass version (max first, then sums) on a wider window.
    fn wide_window_quadrature(k: f64, x: f64, sigma: f64, step: f64, log_tolerance: f64) -> f64 {
        let half_count = ((2.0 * k + log_tolerance).sqrt() / step).ceil() as i64;
        let exponent = |s: f64| -s * s - k * (PI * (x - sigma * s)).cos();
        let max = (-half_count..=half_count).map(|i| exponent(i as f64 * step)).fold(f64::NEG_INFINITY, f64::max);
        let (mut numerator, mut denominator) = (0.0, 0.0);
        for i in -half_count..=half_count {
            let s = i as f64 * step;
            let weight = (exponent(s) - max).exp();
            numerator += weight * (PI * (x - sigma * s)).sin();
            denominator += weight;
        }
        -numerator / denominator
    }

    /// The Fourier–Bessel series with many terms is an independent method (no quadrature);
    /// it is accurate wherever its cancellation (denominator down to ~e^{−2k} of its terms)
    /// is mild, e.g. ν = 0.1/π (k = 5) and larger.
    #[test]
    fn quadrature_matches_long_bessel_series() {
        for nu in [0.1 / PI, 0.5, 2.0] {
            let burgers = BurgersReference::new(nu).unwrap();
            let k = burgers.k;
            let mut coefficients = vec![0.0; 120];
            scaled_bessel_ratios(k, &mut coefficients);
            for &t in &[0.02, 0.1, 0.4, 1.0] {
                let a = PI * PI * nu * t;
                let sigma = (4.0 * nu * t).sqrt();
                let step = trapezoid_step(k, sigma);
                for i in 0..=40 {
                    let x = -1.0 + i as f64 / 20.0;
                    let (mut numerator, mut denominator) = (0.0, 1.0);
                    for (index, &q) in coefficients.iter().enumerate() {
                        let j = (index + 1) as f64;
                        let decay = if index % 2 == 0 { -2.0 } else { 2.0 } * (-j * j * a).exp();
                        numerator += decay * j * q * (j * PI * x).sin();
                        denominator += decay * q * k * (j * PI * x).cos();
                    }
                    let series = numerator / denominator;
                    let quadrature = burgers.cole_hopf_quadrature(x, sigma, step);
                    assert!(
                        (series - quadrature).abs() < 1e-11,
                        "ν = {nu}, x = {x}, t = {t}: series {series} vs quadrature {quadrature}"
                    );
                }
            }
        }
    }

    #[test]
    fn series_and_quadrature_agree_at_the_switch() {
        for nu in [NU_PINN, 0.1 / PI, 1.0, 50.0] {
            let burgers = BurgersReference::new(nu).unwrap();
            for factor in [1.0, 1.5, 2.5] {
                let a = SERIES_THRESHOLD * factor;
                let sigma = (4.0 * a / (PI * PI)).sqrt();
                let step = trapezoid_step(burgers.k, sigma);
                for i in 0..=40 {
                    let x = -1.0 + i as f64 / 20.0;
                    let (series, quadrature) =
                        (burgers.bessel_series(x, a), burgers.cole_hopf_quadrature(x, sigma, step));
                    assert!(
                        (series - quadrature).abs() < 1e-14,
                        "ν = {nu}, a = {a}, x = {x}: {series} vs {quadrature}"
                    );
                }
            }
        }
    }

    #[test]
    fn bessel_ratios_match_known_values() {
        // I_0(1) = 1.266065877752008, I_1(1) = 0.565159103992485 (A&S table 9.8).
        let mut q = [0.0; 3];
        scaled_bessel_ratios(1.0, &mut q);
        assert!((q[0] - 0.565159103992485 / 1.266065877752008).abs() < 1e-15, "{}", q[0]);
        scaled_bessel_ratios(10.0, &mut q);
        // I_1(10) = 2670.988303701255, I_2(10) = 2281.518967726004, I_0(10) = 2815.716628466254.
        assert!((10.0 * q[0] - 2670.988303701255 / 2815.716628466254).abs() < 1e-14);
        assert!((10.0 * q[1] - 2281.518967726004 / 2815.716628466254).abs() < 1e-14);
        scaled_bessel_ratios(1e-300, &mut q);
        assert!((q[0] - 0.5).abs() < 1e-15 && q[1] >= 0.0 && q[2].is_finite());
    }

    #[test]
    fn tiny_and_huge_viscosity_are_finite() {
        for nu in [1e-4, 1e-6, NU_MIN, 1e3, 1e300] {
            let burgers = BurgersReference::new(nu).unwrap();
            for &t in &[1e-3, 0.1, 0.5, 1.0] {
                for i in 0..=8 {
                    // Few points at the smallest ν: each costs ≈ 5·10⁵ nodes there.
                    if nu < 1e-8 && i % 4 != 0 {
                        continue;
                    }
                    let x = -1.0 + 0.25 * i as f64;
                    let u = burgers.eval(x, t);
                    assert!(u.is_finite() && u.abs() <= 1.0 + 1e-12, "ν = {nu}, x = {x}, t = {t}: {u}");
                }
            }
        }
        // Small ν keeps a steep shock: u jumps from ≈ +0.66 to −0.66 across x = 0 at t = 1
        // (inviscid value) within a few multiples of ν.
        let burgers = BurgersReference::new(1e-4).unwrap();
        assert!(burgers.eval(-0.01, 1.0) > 0.6 && burgers.eval(0.01, 1.0) < -0.6);
        assert!(burgers.eval(0.0, 1.0).abs() < 1e-15);
        assert_eq!(burgers.eval(0.3, f64::INFINITY), 0.0);
        assert!(burgers.eval(f64::NAN, 0.5).is_nan() && burgers.eval(0.5, f64::NAN).is_nan());
    }

    #[test]
    fn invalid_input_is_an_error() {
        for nu in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e-12] {
            let error = BurgersReference::new(nu).unwrap_err();
            let ProblemError::InvalidParameter(message) = &error;
            assert!(message.contains("viscosity ν"), "{message}");
        }
        assert_eq!(
            BurgersReference::new(-1.0).unwrap_err().to_string(),
            "viscosity ν must be positive and finite, got -1"
        );
        assert!(burgers_cole_hopf(0.5, -0.1, NU_PINN).is_err());
        assert!(burgers_cole_hopf(0.5, f64::NAN, NU_PINN).is_err());
        assert!(burgers_cole_hopf(f64::INFINITY, 0.5, NU_PINN).is_err());
        assert!(burgers_cole_hopf(0.5, 0.5, 0.0).is_err());
        let burgers = BurgersReference::new(NU_PINN).unwrap();
        assert_eq!(burgers_cole_hopf(0.5, 0.5, NU_PINN).unwrap(), burgers.eval(0.5, 0.5));
    }

    #[test]
    fn published_grid_shape_and_order() {
        let (xs, ts) = BurgersReference::published_grid();
        assert_eq!((xs.len(), ts.len()), (256, 100));
        assert_eq!((xs[0], xs[255], ts[0], ts[99]), (-1.0, 1.0, 0.0, 0.99));
        let burgers = BurgersReference::new(NU_PINN).unwrap();
        let values = burgers.grid(&xs[..3], &ts[..2]);
        assert_eq!(values.len(), 6);
        assert_eq!(values[4], burgers.eval(xs[1], ts[1]));
    }
}
