//! The standard test ODEs the integrators are validated on, with their usual
//! definitions and, where one exists, the exact solution.

/// A standard test ODE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestProblem {
    /// `y' = M y` with the fixed non-normal, stable 4×4 [`LINEAR_MATRIX`];
    /// exact solution `e^{tM} y0` (matrix exponential).
    Linear,
    /// Harmonic oscillator `y'' = −y` from `(1, 0)`: `(cos t, −sin t)`.
    Oscillator,
    /// Lotka–Volterra `x' = a x − b x y`, `y' = −c y + d x y` with
    /// `(a, b, c, d) = (1.5, 1, 3, 1)` from `(1, 1)`.
    LotkaVolterra,
    /// Van der Pol `x'' = μ (1 − x²) x' − x` with μ = 1 from `(2, 0)`.
    VanDerPol,
}

/// The matrix of [`TestProblem::Linear`]: two damped rotations coupled so
/// that `M` is not normal (rows listed).
pub const LINEAR_MATRIX: [[f64; 4]; 4] =
    [[-0.5, 1.0, 0.0, 0.2], [-1.0, -0.5, 0.3, 0.0], [0.0, 0.0, -0.2, 2.0], [0.1, 0.0, -2.0, -0.2]];

impl TestProblem {
    /// Every problem, in a fixed order.
    pub const ALL: [TestProblem; 4] =
        [TestProblem::Linear, TestProblem::Oscillator, TestProblem::LotkaVolterra, TestProblem::VanDerPol];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TestProblem::Linear => "linear",
            TestProblem::Oscillator => "oscillator",
            TestProblem::LotkaVolterra => "lotka-volterra",
            TestProblem::VanDerPol => "vdp",
        }
    }

    /// The problem called `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Initial state.
    pub fn y0(self) -> Vec<f64> {
        match self {
            TestProblem::Linear => vec![1.0, 0.0, 0.5, -0.5],
            TestProblem::Oscillator => vec![1.0, 0.0],
            TestProblem::LotkaVolterra => vec![1.0, 1.0],
            TestProblem::VanDerPol => vec![2.0, 0.0],
        }
    }

    /// The usual end time: 5 (linear), 2π (oscillator), 10 (Lotka–Volterra),
    /// 20 (Van der Pol).
    pub fn default_t_end(self) -> f64 {
        match self {
            TestProblem::Linear => 5.0,
            TestProblem::Oscillator => 2.0 * std::f64::consts::PI,
            TestProblem::LotkaVolterra => 10.0,
            TestProblem::VanDerPol => 20.0,
        }
    }

    /// `dy ← f(t, y)`.
    pub fn eval(self, _t: f64, y: &[f64], dy: &mut [f64]) {
        match self {
            TestProblem::Linear => {
                for (row, out) in LINEAR_MATRIX.iter().zip(dy.iter_mut()) {
                    *out = row.iter().zip(y).map(|(m, v)| m * v).sum();
                }
            }
            TestProblem::Oscillator => {
                dy[0] = y[1];
                dy[1] = -y[0];
            }
            TestProblem::LotkaVolterra => {
                let (a, b, c, d) = (1.5, 1.0, 3.0, 1.0);
                dy[0] = a * y[0] - b * y[0] * y[1];
                dy[1] = -c * y[1] + d * y[0] * y[1];
            }
            TestProblem::VanDerPol => {
                let mu = 1.0;
                dy[0] = y[1];
                dy[1] = mu * (1.0 - y[0] * y[0]) * y[1] - y[0];
            }
        }
    }

    /// The exact solution at `t`, for the problems that have one.
    pub fn exact(self, t: f64) -> Option<Vec<f64>> {
        match self {
            TestProblem::Linear => {
                let e = expm(LINEAR_MATRIX, t);
                let y0 = self.y0();
                Some(e.iter().map(|row| row.iter().zip(&y0).map(|(a, b)| a * b).sum()).collect())
            }
            TestProblem::Oscillator => Some(vec![t.cos(), -t.sin()]),
            TestProblem::LotkaVolterra | TestProblem::VanDerPol => None,
        }
    }
}

type Mat4 = [[f64; 4]; 4];

fn mat_mul(a: &Mat4, b: &Mat4) -> Mat4 {
    let mut c = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            c[i][j] = (0..4).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c
}

/// `e^{tM}` by scaling and squaring with a degree-20 Taylor polynomial:
/// after scaling `‖tM‖₁ / 2^s ≤ 1/2`, the truncation error is below
/// `0.5^21 / 21! ≈ 1e-26`, far under rounding.
pub fn expm(m: Mat4, t: f64) -> Mat4 {
    let norm = (0..4).map(|j| (0..4).map(|i| (t * m[i][j]).abs()).sum::<f64>()).fold(0.0, f64::max);
    let s = if norm > 0.5 { (norm / 0.5).log2().ceil() as i32 } else { 0 };
    let scale = t / 2f64.powi(s);
    let a: Mat4 = m.map(|row| row.map(|x| x * scale));
    let mut result = [[0.0; 4]; 4];
    let mut term = [[0.0; 4]; 4];
    for i in 0..4 {
        result[i][i] = 1.0;
        term[i][i] = 1.0;
    }
    for k in 1..=20 {
        term = mat_mul(&term, &a).map(|row| row.map(|x| x / k as f64));
        for i in 0..4 {
            for j in 0..4 {
                result[i][j] += term[i][j];
            }
        }
    }
    for _ in 0..s {
        result = mat_mul(&result, &result);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expm_of_a_rotation_generator() {
        // exp(t [[0, 1], [-1, 0]]) is the rotation by t (embedded in 4×4).
        let mut m = [[0.0; 4]; 4];
        m[0][1] = 1.0;
        m[1][0] = -1.0;
        let e = expm(m, 3.0);
        assert!((e[0][0] - 3f64.cos()).abs() < 1e-14);
        assert!((e[0][1] - 3f64.sin()).abs() < 1e-14);
        assert!((e[2][2] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn expm_satisfies_the_semigroup_property() {
        let a = expm(LINEAR_MATRIX, 1.3);
        let b = expm(LINEAR_MATRIX, 2.0);
        let ab = mat_mul(&a, &b);
        let c = expm(LINEAR_MATRIX, 3.3);
        for i in 0..4 {
            for j in 0..4 {
                assert!((ab[i][j] - c[i][j]).abs() < 1e-14, "{i},{j}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for p in TestProblem::ALL {
            assert_eq!(TestProblem::from_name(p.name()), Some(p));
        }
        assert_eq!(TestProblem::from_name("robertson"), None);
    }
}
