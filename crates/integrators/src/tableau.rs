//! Butcher tableaux of explicit Runge–Kutta methods, stored as data.

/// An explicit Runge–Kutta method: `k_i = f(t + c_i h, y + h Σ_{j<i} a_ij k_j)`,
/// `y_1 = y + h Σ_i b_i k_i`, and optionally an embedded solution with weights
/// `b̂` whose difference gives a local error estimate.
#[derive(Debug, Clone, Copy)]
pub struct ButcherTableau {
    /// Short name, e.g. `"rk4"`.
    pub name: &'static str,
    /// Nodes `c_i`.
    pub c: &'static [f64],
    /// Strictly lower-triangular coefficients: row `i` holds `a_i0 … a_i,i−1`.
    pub a: &'static [&'static [f64]],
    /// Weights `b_i` of the propagated solution.
    pub b: &'static [f64],
    /// Weights `b̂_i` of the embedded solution, if the method has one.
    pub b_embedded: Option<&'static [f64]>,
    /// Classical order of the propagated solution.
    pub order: u32,
    /// First same as last: the last stage is `f(t + h, y_1)` and can serve as
    /// the next step's first stage.
    pub fsal: bool,
}

impl ButcherTableau {
    /// Number of stages (= field evaluations per step without FSAL).
    pub fn stages(&self) -> usize {
        self.b.len()
    }

    /// Field evaluations per accepted step once the FSAL stage is reused.
    pub fn evals_per_step(&self) -> usize {
        self.stages() - usize::from(self.fsal)
    }
}

/// Explicit Euler, order 1.
pub const EULER: ButcherTableau =
    ButcherTableau { name: "euler", c: &[0.0], a: &[&[]], b: &[1.0], b_embedded: None, order: 1, fsal: false };

/// The classic fourth-order Runge–Kutta method.
pub const RK4: ButcherTableau = ButcherTableau {
    name: "rk4",
    c: &[0.0, 0.5, 0.5, 1.0],
    a: &[&[], &[0.5], &[0.0, 0.5], &[0.0, 0.0, 1.0]],
    b: &[1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
    b_embedded: None,
    order: 4,
    fsal: false,
};

/// Dormand–Prince 5(4) (Dormand & Prince 1980; Hairer, Nørsett, Wanner,
/// *Solving ODEs I*, Table II.5.2): fifth-order solution, fourth-order
/// embedded estimate, FSAL.
pub const DORMAND_PRINCE: ButcherTableau = ButcherTableau {
    name: "dopri5",
    c: &[0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0],
    a: &[
        &[],
        &[1.0 / 5.0],
        &[3.0 / 40.0, 9.0 / 40.0],
        &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
        &[19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0],
        &[9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0],
        &[35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
    ],
    b: &[35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0, 0.0],
    b_embedded: Some(&[
        5179.0 / 57600.0,
        0.0,
        7571.0 / 16695.0,
        393.0 / 640.0,
        -92097.0 / 339200.0,
        187.0 / 2100.0,
        1.0 / 40.0,
    ]),
    order: 5,
    fsal: true,
};

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ButcherTableau; 3] = [EULER, RK4, DORMAND_PRINCE];
    const TOL: f64 = 1e-14;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= TOL * (1.0 + b.abs())
    }

    #[test]
    fn shapes_and_row_sums_equal_c() {
        for t in ALL {
            let s = t.stages();
            assert_eq!(t.c.len(), s, "{}", t.name);
            assert_eq!(t.a.len(), s, "{}", t.name);
            for (i, row) in t.a.iter().enumerate() {
                assert_eq!(row.len(), i, "{}: row {i} must be strictly lower", t.name);
                assert!(close(row.iter().sum(), t.c[i]), "{}: row {i} sum != c", t.name);
            }
            assert!(close(t.b.iter().sum(), 1.0), "{}: Σb != 1", t.name);
            if let Some(bh) = t.b_embedded {
                assert_eq!(bh.len(), s);
                let e: f64 = t.b.iter().zip(bh).map(|(b, bh)| b - bh).sum();
                assert!(e.abs() < TOL, "{}: Σe != 0", t.name);
            }
        }
    }

    /// The order conditions up to order 5 (Butcher's rooted trees), checked
    /// for `b` up to the tableau's order and for `b̂` up to order 4.
    fn satisfied_order(t: &ButcherTableau, b: &[f64]) -> u32 {
        let s = t.stages();
        let a = |i: usize, j: usize| if j < i { t.a[i][j] } else { 0.0 };
        let c = t.c;
        let sum = |f: &dyn Fn(usize) -> f64| (0..s).map(f).sum::<f64>();
        // ac_i = Σ_j a_ij c_j, ac2_i = Σ_j a_ij c_j², aac_i = Σ_j a_ij ac_j, …
        let ac: Vec<f64> = (0..s).map(|i| sum(&|j| a(i, j) * c[j])).collect();
        let ac2: Vec<f64> = (0..s).map(|i| sum(&|j| a(i, j) * c[j] * c[j])).collect();
        let ac3: Vec<f64> = (0..s).map(|i| sum(&|j| a(i, j) * c[j].powi(3))).collect();
        let aac: Vec<f64> = (0..s).map(|i| sum(&|j| a(i, j) * ac[j])).collect();
        let acac: Vec<f64> = (0..s).map(|i| sum(&|j| a(i, j) * c[j] * ac[j])).collect();
        let aac2: Vec<f64> = (0..s).map(|i| sum(&|j| a(i, j) * ac2[j])).collect();
        let aaac: Vec<f64> = (0..s).map(|i| sum(&|j| a(i, j) * aac[j])).collect();
        let conditions: [&[(f64, f64)]; 5] = [
            &[(sum(&|i| b[i]), 1.0)],
            &[(sum(&|i| b[i] * c[i]), 0.5)],
            &[(sum(&|i| b[i] * c[i] * c[i]), 1.0 / 3.0), (sum(&|i| b[i] * ac[i]), 1.0 / 6.0)],
            &[
                (sum(&|i| b[i] * c[i].powi(3)), 0.25),
                (sum(&|i| b[i] * c[i] * ac[i]), 1.0 / 8.0),
                (sum(&|i| b[i] * ac2[i]), 1.0 / 12.0),
                (sum(&|i| b[i] * aac[i]), 1.0 / 24.0),
            ],
            &[
                (sum(&|i| b[i] * c[i].powi(4)), 1.0 / 5.0),
                (sum(&|i| b[i] * c[i] * c[i] * ac[i]), 1.0 / 10.0),
                (sum(&|i| b[i] * ac[i] * ac[i]), 1.0 / 20.0),
                (sum(&|i| b[i] * c[i] * ac2[i]), 1.0 / 15.0),
                (sum(&|i| b[i] * ac3[i]), 1.0 / 20.0),
                (sum(&|i| b[i] * c[i] * aac[i]), 1.0 / 30.0),
                (sum(&|i| b[i] * acac[i]), 1.0 / 40.0),
                (sum(&|i| b[i] * aac2[i]), 1.0 / 60.0),
                (sum(&|i| b[i] * aaac[i]), 1.0 / 120.0),
            ],
        ];
        let mut order = 0;
        for level in conditions {
            if level.iter().all(|&(got, want)| close(got, want)) {
                order += 1;
            } else {
                break;
            }
        }
        order
    }

    #[test]
    fn order_conditions() {
        for t in ALL {
            assert_eq!(satisfied_order(&t, t.b), t.order, "{}", t.name);
        }
        let bh = DORMAND_PRINCE.b_embedded.unwrap();
        assert_eq!(satisfied_order(&DORMAND_PRINCE, bh), 4);
    }

    #[test]
    fn dormand_prince_is_fsal() {
        let last = DORMAND_PRINCE.a[6];
        for (x, b) in last.iter().zip(DORMAND_PRINCE.b) {
            assert_eq!(x, b);
        }
        assert_eq!(DORMAND_PRINCE.evals_per_step(), 6);
    }
}
