//! The four PDEs of SPEC §5.4: residuals, initial and boundary conditions,
//! domains, test grids and reference solutions.

use std::f64::consts::PI;

use super::network::{jet, Derivatives};
use super::reference::BurgersReference;
use crate::ProblemError;

/// Which PDE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PdeKind {
    /// `u_t + β u_x = 0` on `[0, 2π) × [0, 1]`, `u(x, 0) = sin x`, periodic in x.
    Convection,
    /// `u_t − ρ u(1 − u) = 0`, same domain, `u(x, 0) = exp(−(x − π)²/(2(π/4)²))`, periodic.
    Reaction,
    /// `u_t + u u_x − ν u_xx = 0` on `[−1, 1] × [0, 1]`, `u(x, 0) = −sin πx`, `u(±1, t) = 0`.
    Burgers,
    /// `Δu + k²u = q` on `[−1, 1]²`, `u = 0` on the boundary, exact solution
    /// `sin(a₁πx) sin(a₂πy)` with `k = 1`, `a₁ = 1`; the parameter is `a₂`.
    Helmholtz,
}

/// The boundary condition of a PDE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// `u(lb, t) = u(ub, t)` in the first coordinate.
    Periodic,
    /// `u = 0` at both ends of the first coordinate (`t` free).
    DirichletInX,
    /// `u = 0` on all four sides.
    DirichletAllSides,
}

impl PdeKind {
    /// Every PDE, in the order figures list them.
    pub const ALL: [PdeKind; 4] = [PdeKind::Convection, PdeKind::Reaction, PdeKind::Burgers, PdeKind::Helmholtz];

    /// The id the command line uses.
    pub fn name(self) -> &'static str {
        match self {
            PdeKind::Convection => "convection",
            PdeKind::Reaction => "reaction",
            PdeKind::Burgers => "burgers",
            PdeKind::Helmholtz => "helmholtz",
        }
    }

    /// The PDE with id `name`.
    pub fn from_name(name: &str) -> Result<Self, ProblemError> {
        Self::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
            ProblemError::InvalidParameter(format!("unknown PDE '{name}' (known: {})", known.join(", ")))
        })
    }

    /// Symbol of the PDE parameter (β, ρ, ν, a₂).
    pub fn parameter_name(self) -> &'static str {
        match self {
            PdeKind::Convection => "beta",
            PdeKind::Reaction => "rho",
            PdeKind::Burgers => "nu",
            PdeKind::Helmholtz => "a2",
        }
    }

    /// The parameter the network is pretrained on (SPEC §5.4 transfer).
    pub fn source_parameter(self) -> f64 {
        match self {
            PdeKind::Convection => 10.0,
            PdeKind::Reaction => 3.0,
            PdeKind::Burgers => 0.02 / PI,
            PdeKind::Helmholtz => 2.0,
        }
    }

    /// The parameter LoRA fine-tunes to.
    pub fn target_parameter(self) -> f64 {
        match self {
            PdeKind::Convection => 20.0,
            PdeKind::Reaction => 5.0,
            PdeKind::Burgers => 0.01 / PI,
            PdeKind::Helmholtz => 4.0,
        }
    }
}

/// The reference solution of one PDE instance.
#[derive(Debug, Clone)]
enum Reference {
    Closed,
    Burgers(BurgersReference),
}

/// A PDE with its parameter: what a PINN's loss and error need.
#[derive(Debug, Clone)]
pub struct Pde {
    kind: PdeKind,
    parameter: f64,
    reference: Reference,
}

/// Helmholtz constants `k` and `a₁` (SPEC §5.4).
const HELMHOLTZ_K: f64 = 1.0;
const HELMHOLTZ_A1: f64 = 1.0;

impl Pde {
    /// `kind` at `parameter`; errors for a parameter the PDE cannot take
    /// (a non-finite value, or ν ≤ 0).
    pub fn new(kind: PdeKind, parameter: f64) -> Result<Self, ProblemError> {
        if !parameter.is_finite() {
            return Err(ProblemError::InvalidParameter(format!(
                "{} {} must be finite, got {parameter}",
                kind.name(),
                kind.parameter_name()
            )));
        }
        let reference = match kind {
            PdeKind::Burgers => Reference::Burgers(BurgersReference::new(parameter)?),
            _ => Reference::Closed,
        };
        Ok(Self { kind, parameter, reference })
    }

    /// Which PDE.
    pub fn kind(&self) -> PdeKind {
        self.kind
    }

    /// Its parameter.
    pub fn parameter(&self) -> f64 {
        self.parameter
    }

    /// `[(lb_0, ub_0), (lb_1, ub_1)]` of `(x, t)` or `(x, y)`.
    pub fn domain(&self) -> [(f64, f64); 2] {
        match self.kind {
            PdeKind::Convection | PdeKind::Reaction => [(0.0, 2.0 * PI), (0.0, 1.0)],
            PdeKind::Burgers => [(-1.0, 1.0), (0.0, 1.0)],
            PdeKind::Helmholtz => [(-1.0, 1.0), (-1.0, 1.0)],
        }
    }

    /// Whether the second coordinate is time (with an initial condition).
    pub fn is_time_dependent(&self) -> bool {
        self.kind != PdeKind::Helmholtz
    }

    /// The boundary condition.
    pub fn boundary(&self) -> Boundary {
        match self.kind {
            PdeKind::Convection | PdeKind::Reaction => Boundary::Periodic,
            PdeKind::Burgers => Boundary::DirichletInX,
            PdeKind::Helmholtz => Boundary::DirichletAllSides,
        }
    }

    /// The input derivatives the residual reads.
    pub fn derivatives(&self) -> Derivatives {
        match self.kind {
            PdeKind::Convection => Derivatives { first: [true, true], second: [false, false] },
            PdeKind::Reaction => Derivatives { first: [false, true], second: [false, false] },
            PdeKind::Burgers => Derivatives { first: [true, true], second: [true, false] },
            PdeKind::Helmholtz => Derivatives { first: [false, false], second: [true, true] },
        }
    }

    /// The PDE residual at `(x, y)` from the jet `[u, u_x, u_y, u_xx, u_yy]`
    /// (y is t for the time-dependent PDEs), and its derivative with respect
    /// to each jet entry.
    pub fn residual(&self, x: f64, y: f64, j: &[f64; jet::LEN]) -> (f64, [f64; jet::LEN]) {
        let (u, ux, uy, uxx, uyy) =
            (j[jet::VALUE], j[jet::FIRST], j[jet::FIRST + 1], j[jet::SECOND], j[jet::SECOND + 1]);
        let p = self.parameter;
        match self.kind {
            PdeKind::Convection => (uy + p * ux, [0.0, p, 1.0, 0.0, 0.0]),
            PdeKind::Reaction => (uy - p * u * (1.0 - u), [-p * (1.0 - 2.0 * u), 0.0, 1.0, 0.0, 0.0]),
            PdeKind::Burgers => (uy + u * ux - p * uxx, [ux, u, 1.0, -p, 0.0]),
            PdeKind::Helmholtz => {
                let k2 = HELMHOLTZ_K * HELMHOLTZ_K;
                (uxx + uyy + k2 * u - self.helmholtz_source(x, y), [k2, 0.0, 0.0, 1.0, 1.0])
            }
        }
    }

    /// `q = (k² − π²(a₁² + a₂²)) sin(a₁πx) sin(a₂πy)`.
    fn helmholtz_source(&self, x: f64, y: f64) -> f64 {
        let (k, a1, a2) = (HELMHOLTZ_K, HELMHOLTZ_A1, self.parameter);
        (k * k - PI * PI * (a1 * a1 + a2 * a2)) * (a1 * PI * x).sin() * (a2 * PI * y).sin()
    }

    /// `u(x, 0)` of a time-dependent PDE (`None` for Helmholtz).
    pub fn initial_value(&self, x: f64) -> Option<f64> {
        match self.kind {
            PdeKind::Convection => Some(x.sin()),
            PdeKind::Reaction => Some(reaction_initial(x)),
            PdeKind::Burgers => Some(-(PI * x).sin()),
            PdeKind::Helmholtz => None,
        }
    }

    /// The reference solution at `(x, y)`.
    pub fn reference(&self, x: f64, y: f64) -> f64 {
        let p = self.parameter;
        match (&self.reference, self.kind) {
            (Reference::Burgers(b), _) => b.eval(x, y),
            (_, PdeKind::Convection) => (x - p * y).sin(),
            (_, PdeKind::Reaction) => {
                let h = reaction_initial(x);
                let g = h * (p * y).exp();
                g / (g + 1.0 - h)
            }
            (_, PdeKind::Helmholtz) => (HELMHOLTZ_A1 * PI * x).sin() * (p * PI * y).sin(),
            (Reference::Closed, PdeKind::Burgers) => unreachable!("Burgers always carries its reference"),
        }
    }

    /// The test grid for the relative L2 error, `(xs, ys)`, evaluated with
    /// `ys` outer and `xs` inner: 256 × 100 in (x, t) — Burgers on the
    /// published grid (x = linspace(−1, 1, 256), t = 0, 0.01, …, 0.99) —
    /// and 100 × 100 in (x, y).
    pub fn test_grid(&self) -> (Vec<f64>, Vec<f64>) {
        let linspace = |a: f64, b: f64, n: usize| (0..n).map(|i| a + (b - a) * i as f64 / (n - 1) as f64).collect();
        match self.kind {
            PdeKind::Convection | PdeKind::Reaction => {
                ((0..256).map(|i| 2.0 * PI * i as f64 / 256.0).collect(), linspace(0.0, 1.0, 100))
            }
            PdeKind::Burgers => BurgersReference::published_grid(),
            PdeKind::Helmholtz => (linspace(-1.0, 1.0, 100), linspace(-1.0, 1.0, 100)),
        }
    }
}

/// `h(x) = exp(−(x − π)² / (2 (π/4)²))`.
fn reaction_initial(x: f64) -> f64 {
    let s = PI / 4.0;
    (-(x - PI).powi(2) / (2.0 * s * s)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jet of the reference at (x, y) by central differences.
    fn reference_jet(pde: &Pde, x: f64, y: f64) -> [f64; jet::LEN] {
        let h = 1e-4;
        let u = |dx: f64, dy: f64| pde.reference(x + dx, y + dy);
        let u0 = u(0.0, 0.0);
        [
            u0,
            (u(h, 0.0) - u(-h, 0.0)) / (2.0 * h),
            (u(0.0, h) - u(0.0, -h)) / (2.0 * h),
            (u(h, 0.0) - 2.0 * u0 + u(-h, 0.0)) / (h * h),
            (u(0.0, h) - 2.0 * u0 + u(0.0, -h)) / (h * h),
        ]
    }

    #[test]
    fn closed_form_references_solve_their_pdes() {
        for kind in [PdeKind::Convection, PdeKind::Reaction, PdeKind::Helmholtz] {
            for param in [kind.source_parameter(), kind.target_parameter()] {
                let pde = Pde::new(kind, param).unwrap();
                let [(x0, x1), (y0, y1)] = pde.domain();
                for (fx, fy) in [(0.3, 0.4), (0.55, 0.7), (0.8, 0.2)] {
                    let (x, y) = (x0 + fx * (x1 - x0), y0 + fy * (y1 - y0));
                    let (r, _) = pde.residual(x, y, &reference_jet(&pde, x, y));
                    // Central differences at h = 1e-4: error ~ h² × the 4th derivative.
                    let scale = 1.0 + param * param;
                    assert!(r.abs() < 1e-5 * scale, "{} at ({x}, {y}): residual {r}", kind.name());
                }
                if let Some(u0) = pde.initial_value(x0 + 0.3) {
                    assert!((pde.reference(x0 + 0.3, 0.0) - u0).abs() < 1e-15);
                }
            }
        }
    }

    #[test]
    fn boundary_conditions_hold_for_the_references() {
        let burgers = Pde::new(PdeKind::Burgers, 0.01 / PI).unwrap();
        assert!(burgers.reference(1.0, 0.5).abs() < 1e-12 && burgers.reference(-1.0, 0.5).abs() < 1e-12);
        let helmholtz = Pde::new(PdeKind::Helmholtz, 4.0).unwrap();
        assert!(helmholtz.reference(0.3, 1.0).abs() < 1e-12 && helmholtz.reference(-1.0, 0.2).abs() < 1e-12);
        for kind in [PdeKind::Convection, PdeKind::Reaction] {
            let pde = Pde::new(kind, kind.target_parameter()).unwrap();
            let diff = pde.reference(0.0, 0.37) - pde.reference(2.0 * PI, 0.37);
            // The reaction's Gaussian initial profile is periodic only up to exp(−8).
            assert!(diff.abs() < 1e-3, "{}: {diff}", kind.name());
        }
    }

    #[test]
    fn residual_derivatives_match_finite_differences() {
        let j = [0.3, -0.7, 0.2, 1.1, -0.4];
        for kind in PdeKind::ALL {
            let pde = Pde::new(kind, kind.target_parameter()).unwrap();
            let (_, dr) = pde.residual(0.2, 0.4, &j);
            for k in 0..jet::LEN {
                let (mut plus, mut minus) = (j, j);
                plus[k] += 1e-6;
                minus[k] -= 1e-6;
                let fd = (pde.residual(0.2, 0.4, &plus).0 - pde.residual(0.2, 0.4, &minus).0) / 2e-6;
                assert!((fd - dr[k]).abs() < 1e-8, "{} jet {k}: {} vs {fd}", kind.name(), dr[k]);
            }
        }
    }

    #[test]
    fn names_round_trip_and_bad_parameters_are_errors() {
        for kind in PdeKind::ALL {
            assert_eq!(PdeKind::from_name(kind.name()).unwrap(), kind);
        }
        assert!(PdeKind::from_name("heat").unwrap_err().to_string().contains("known: convection"));
        assert!(Pde::new(PdeKind::Convection, f64::NAN).is_err());
        assert!(Pde::new(PdeKind::Burgers, 0.0).is_err());
    }

    #[test]
    fn test_grids_have_the_spec_sizes() {
        for (kind, size) in [(PdeKind::Convection, 25_600), (PdeKind::Burgers, 25_600), (PdeKind::Helmholtz, 10_000)] {
            let (xs, ys) = Pde::new(kind, kind.source_parameter()).unwrap().test_grid();
            assert_eq!(xs.len() * ys.len(), size);
        }
    }
}
