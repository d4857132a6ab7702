//! A PINN loss behind the [`Objective`] interface: collocation terms, the
//! chunked parallel evaluation, and the relative L2 error on the test grid.

use std::sync::Arc;

use faer::Mat;
use rand::Rng;
use rayon::prelude::*;

use super::network::{backward, forward, jet, Architecture, Derivatives, JetWorkspace};
use super::pde::{Boundary, Pde, PdeKind};
use crate::random::{seeded_rng, stream};
use crate::{Metrics, Objective, ProblemError};

/// Points per chunk: chunks are evaluated in parallel and their losses and
/// gradients summed in chunk order, so the result does not depend on the
/// number of threads. Even, so that periodic pairs never straddle chunks.
const CHUNK: usize = 256;

/// Parameters of a PINN problem.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PinnParams {
    /// Which PDE.
    pub pde: PdeKind,
    /// Its parameter (β, ρ, ν or a₂).
    pub parameter: f64,
    /// The network.
    pub architecture: Architecture,
    /// Interior collocation points; the initial and boundary terms use a
    /// quarter as many each (periodic: that many pairs).
    pub points: usize,
    /// Seed of the collocation points and of the Glorot init.
    pub seed: u64,
}

impl PinnParams {
    /// `pde` at its source parameter with the SPEC defaults: 4 × 50
    /// network, 2000 points.
    pub fn source(pde: PdeKind, seed: u64) -> Self {
        Self { pde, parameter: pde.source_parameter(), architecture: Architecture::DEFAULT, points: 2000, seed }
    }

    /// The same problem at the PDE's target parameter.
    pub fn target(pde: PdeKind, seed: u64) -> Self {
        Self { parameter: pde.target_parameter(), ..Self::source(pde, seed) }
    }
}

/// What a loss term compares.
#[derive(Debug, Clone)]
enum TermKind {
    /// The PDE residual at interior points.
    Residual,
    /// `u(p) − target_p` (initial values, Dirichlet data).
    Misfit(Vec<f64>),
    /// `u(p_2i) − u(p_2i+1)`: the two ends of a periodic coordinate.
    Periodic,
}

/// One mean-squared term of the loss.
#[derive(Debug, Clone)]
struct Term {
    kind: TermKind,
    /// Physical coordinates, 2 × N.
    physical: Mat<f64>,
    /// Network input coordinates (the domain mapped to [−1, 1]²), 2 × N.
    inputs: Mat<f64>,
    derivatives: Derivatives,
    /// Number of squared residuals (N, or N/2 pairs).
    count: usize,
}

/// A slice of one term's points with its buffers.
#[derive(Debug, Clone)]
struct Chunk {
    term: usize,
    start: usize,
    ws: JetWorkspace,
    inputs: Mat<f64>,
    grads: Vec<Mat<f64>>,
    loss: f64,
}

#[derive(Debug)]
struct PinnData {
    params: PinnParams,
    pde: Pde,
    terms: Vec<Term>,
    /// Test-grid points in network coordinates (2 × M) and the reference.
    grid_inputs: Mat<f64>,
    grid_reference: Vec<f64>,
    grid_reference_norm: f64,
    /// Input normalisation `z = scale ⊙ x + shift`: the jets' seeds.
    scale: [f64; 2],
}

/// Which network parameters the objective exposes as its "layers".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapted {
    /// Every weight and bias (pretraining: full Adam on all parameters).
    All,
    /// The hidden-to-hidden weights `W_1 … W_{depth−1}` (LoRA fine-tuning);
    /// every other parameter stays frozen.
    HiddenToHidden,
}

/// The PINN loss `mean r_res² + mean r_init² + mean r_bc²` (unit weights)
/// of a tanh MLP on fixed collocation points (SPEC §5.4).
///
/// The adapted matrices are either every parameter ([`Adapted::All`], for
/// pretraining) or the hidden-to-hidden weights ([`Adapted::HiddenToHidden`],
/// for LoRA fine-tuning); the rest of the network is frozen at
/// [`network`](Self::network). The relative error is
/// `‖u − u_ref‖₂ / ‖u_ref‖₂` on the PDE's test grid.
#[derive(Debug, Clone)]
pub struct Pinn {
    data: Arc<PinnData>,
    network: Vec<Mat<f64>>,
    slots: Vec<usize>,
    shapes: Vec<(usize, usize)>,
    base: Vec<Mat<f64>>,
    chunks: Vec<Chunk>,
    grid_chunks: Vec<(JetWorkspace, Mat<f64>)>,
}

impl Pinn {
    /// Draw the collocation points and a Glorot-normal network; every
    /// parameter is adapted (the pretraining view).
    pub fn new(params: PinnParams) -> Result<Self, ProblemError> {
        params.architecture.validate()?;
        if params.points < 8 {
            return Err(ProblemError::InvalidParameter(format!(
                "a PINN needs at least 8 collocation points, got {}",
                params.points
            )));
        }
        let pde = Pde::new(params.pde, params.parameter)?;
        let network = params.architecture.glorot_normal(&mut seeded_rng(params.seed, stream::NETWORK));
        let data = Arc::new(PinnData::new(params, pde));
        Self::with_network(data, network, Adapted::All)
    }

    fn with_network(data: Arc<PinnData>, network: Vec<Mat<f64>>, adapted: Adapted) -> Result<Self, ProblemError> {
        let arch = data.params.architecture;
        let expected = arch.parameter_shapes();
        let shapes_given: Vec<(usize, usize)> = network.iter().map(|m| m.shape()).collect();
        if shapes_given != expected {
            return Err(ProblemError::InvalidParameter(format!(
                "network parameters have shapes {shapes_given:?}, but a depth-{} width-{} network needs {expected:?}",
                arch.depth, arch.width
            )));
        }
        if network.iter().any(|m| !m.is_all_finite()) {
            return Err(ProblemError::InvalidParameter("network parameters have non-finite entries".into()));
        }
        let slots = match adapted {
            Adapted::All => (0..expected.len()).collect(),
            Adapted::HiddenToHidden => arch.hidden_to_hidden_slots(),
        };
        if slots.is_empty() {
            return Err(ProblemError::InvalidParameter(
                "a network with one hidden layer has no hidden-to-hidden weight to adapt; use depth ≥ 2".into(),
            ));
        }
        let zeros = || expected.iter().map(|&(m, n)| Mat::zeros(m, n)).collect::<Vec<_>>();
        let mut chunks = Vec::new();
        for (t, term) in data.terms.iter().enumerate() {
            let n = term.inputs.ncols();
            for start in (0..n).step_by(CHUNK) {
                let len = CHUNK.min(n - start);
                chunks.push(Chunk {
                    term: t,
                    start,
                    ws: JetWorkspace::new(arch, len, term.derivatives),
                    inputs: term.inputs.subcols(start, len).to_owned(),
                    grads: zeros(),
                    loss: 0.0,
                });
            }
        }
        let m = data.grid_inputs.ncols();
        let grid_chunks = (0..m)
            .step_by(CHUNK * 4)
            .map(|start| {
                let len = (CHUNK * 4).min(m - start);
                (JetWorkspace::new(arch, len, Derivatives::NONE), data.grid_inputs.subcols(start, len).to_owned())
            })
            .collect();
        Ok(Self {
            shapes: slots.iter().map(|&s| expected[s]).collect(),
            base: slots.iter().map(|&s| network[s].clone()).collect(),
            slots,
            network,
            chunks,
            grid_chunks,
            data,
        })
    }

    /// The same problem (PDE, parameter, points) with `network` as the
    /// frozen parameters and base weights, adapting `adapted`.
    pub fn adapting(&self, network: Vec<Mat<f64>>, adapted: Adapted) -> Result<Self, ProblemError> {
        Self::with_network(self.data.clone(), network, adapted)
    }

    /// This problem at another PDE parameter with `network`'s parameters
    /// (e.g. a network pretrained at the source parameter, fine-tuned at the
    /// target): the collocation points are the same, as they depend only on
    /// the seed and the domain.
    pub fn transfer(&self, parameter: f64, network: Vec<Mat<f64>>, adapted: Adapted) -> Result<Self, ProblemError> {
        let params = PinnParams { parameter, ..self.data.params };
        let pde = Pde::new(params.pde, parameter)?;
        Self::with_network(Arc::new(PinnData::new(params, pde)), network, adapted)
    }

    /// The problem's parameters.
    pub fn params(&self) -> &PinnParams {
        &self.data.params
    }

    /// The PDE.
    pub fn pde(&self) -> &Pde {
        &self.data.pde
    }

    /// Every parameter of the network the objective was built with
    /// (`[W_0, b_0, …, W_depth, b_depth]`).
    pub fn network(&self) -> &[Mat<f64>] {
        &self.network
    }

    /// The full parameter list with the adapted matrices replaced by `weights`.
    pub fn network_with(&self, weights: &[Mat<f64>]) -> Vec<Mat<f64>> {
        let mut net = self.network.clone();
        for (&s, w) in self.slots.iter().zip(weights) {
            net[s].copy_from(w);
        }
        net
    }

    fn install(&mut self, weights: &[Mat<f64>]) {
        for (&s, w) in self.slots.iter().zip(weights) {
            self.network[s].copy_from(w);
        }
    }

    /// Loss at the installed network; with `gradient`, every chunk's
    /// parameter gradient is left in its buffer.
    fn evaluate(&mut self, gradient: bool) -> f64 {
        let (data, net) = (&*self.data, &self.network);
        let arch = data.params.architecture;
        self.chunks.par_iter_mut().for_each(|chunk| {
            let term = &data.terms[chunk.term];
            forward(net, arch, chunk.inputs.as_ref(), data.scale, &mut chunk.ws);
            chunk.loss = term_loss(&data.pde, term, chunk.start, &mut chunk.ws);
            if gradient {
                chunk.grads.iter_mut().for_each(|g| g.fill(0.0));
                backward(net, arch, &mut chunk.ws, &mut chunk.grads);
            }
        });
        self.chunks.iter().map(|c| c.loss).sum()
    }

    /// `‖u − u_ref‖₂ / ‖u_ref‖₂` on the test grid at the installed network.
    fn relative_l2(&mut self) -> f64 {
        let (data, net) = (&*self.data, &self.network);
        let arch = data.params.architecture;
        let sums: Vec<f64> = self
            .grid_chunks
            .par_iter_mut()
            .enumerate()
            .map(|(k, (ws, inputs))| {
                forward(net, arch, inputs.as_ref(), data.scale, ws);
                let start = k * CHUNK * 4;
                (0..ws.points()).map(|p| (ws.jet(p)[jet::VALUE] - data.grid_reference[start + p]).powi(2)).sum()
            })
            .collect();
        sums.iter().sum::<f64>().sqrt() / data.grid_reference_norm
    }

    /// The network's prediction `u` on the test grid (ys outer, xs inner).
    pub fn grid_prediction(&mut self, weights: &[Mat<f64>]) -> Vec<f64> {
        self.install(weights);
        let (data, net) = (&*self.data, &self.network);
        let arch = data.params.architecture;
        let mut out = Vec::with_capacity(data.grid_reference.len());
        for (ws, inputs) in &mut self.grid_chunks {
            forward(net, arch, inputs.as_ref(), data.scale, ws);
            out.extend((0..ws.points()).map(|p| ws.jet(p)[jet::VALUE]));
        }
        out
    }
}

/// The term's loss over one chunk's points (`(1/count) Σ r²`), with the
/// loss's derivative with respect to every point's jet set for the reverse
/// pass.
fn term_loss(pde: &Pde, term: &Term, start: usize, ws: &mut JetWorkspace) -> f64 {
    let weight = 1.0 / term.count as f64;
    let mut loss = 0.0;
    let mut adjoint = [0.0; jet::LEN];
    match &term.kind {
        TermKind::Residual => {
            for p in 0..ws.points() {
                let (x, y) = (term.physical[(0, start + p)], term.physical[(1, start + p)]);
                let (r, dr) = pde.residual(x, y, &ws.jet(p));
                loss += weight * r * r;
                for k in 0..jet::LEN {
                    adjoint[k] = 2.0 * weight * r * dr[k];
                }
                ws.set_jet_adjoint(p, &adjoint);
            }
        }
        TermKind::Misfit(targets) => {
            for p in 0..ws.points() {
                let r = ws.jet(p)[jet::VALUE] - targets[start + p];
                loss += weight * r * r;
                adjoint[jet::VALUE] = 2.0 * weight * r;
                ws.set_jet_adjoint(p, &adjoint);
            }
        }
        TermKind::Periodic => {
            for p in (0..ws.points()).step_by(2) {
                let r = ws.jet(p)[jet::VALUE] - ws.jet(p + 1)[jet::VALUE];
                loss += weight * r * r;
                adjoint[jet::VALUE] = 2.0 * weight * r;
                ws.set_jet_adjoint(p, &adjoint);
                adjoint[jet::VALUE] = -2.0 * weight * r;
                ws.set_jet_adjoint(p + 1, &adjoint);
            }
        }
    }
    loss
}

impl PinnData {
    fn new(params: PinnParams, pde: Pde) -> Self {
        let domain = pde.domain();
        let scale = domain.map(|(lb, ub)| 2.0 / (ub - lb));
        let shift = [0, 1].map(|d| -1.0 - scale[d] * domain[d].0);
        let to_inputs =
            |physical: &Mat<f64>| Mat::from_fn(2, physical.ncols(), |d, p| scale[d] * physical[(d, p)] + shift[d]);
        let mut rng = seeded_rng(params.seed, stream::COLLOCATION);
        let mut uniform = |(lb, ub): (f64, f64)| rng.random_range(lb..=ub);
        let side = params.points.div_ceil(4);
        let mut terms = Vec::new();
        let mut push = |kind, physical: Mat<f64>, derivatives, count| {
            terms.push(Term { kind, inputs: to_inputs(&physical), physical, derivatives, count })
        };

        let interior = Mat::from_fn(2, params.points, |d, _| uniform(domain[d]));
        push(TermKind::Residual, interior, pde.derivatives(), params.points);
        if pde.is_time_dependent() {
            let initial = Mat::from_fn(2, side, |d, _| if d == 0 { uniform(domain[0]) } else { domain[1].0 });
            let targets = (0..side).map(|p| pde.initial_value(initial[(0, p)]).unwrap_or(0.0)).collect();
            push(TermKind::Misfit(targets), initial, Derivatives::NONE, side);
        }
        match pde.boundary() {
            Boundary::Periodic => {
                let ts: Vec<f64> = (0..side).map(|_| uniform(domain[1])).collect();
                let pairs = Mat::from_fn(2, 2 * side, |d, p| {
                    if d == 1 {
                        ts[p / 2]
                    } else if p % 2 == 0 {
                        domain[0].0
                    } else {
                        domain[0].1
                    }
                });
                push(TermKind::Periodic, pairs, Derivatives::NONE, side);
            }
            Boundary::DirichletInX => {
                let points =
                    Mat::from_fn(
                        2,
                        side,
                        |d, p| if d == 1 { uniform(domain[1]) } else { [domain[0].0, domain[0].1][p % 2] },
                    );
                push(TermKind::Misfit(vec![0.0; side]), points, Derivatives::NONE, side);
            }
            Boundary::DirichletAllSides => {
                // Uniform along the perimeter: side k of the square for point p % 4.
                let mut points = Mat::zeros(2, side);
                for p in 0..side {
                    let s = uniform((0.0, 1.0));
                    let (fixed, free) = (p % 4 / 2, 1 - p % 4 / 2);
                    let bound = if p % 2 == 0 { domain[fixed].0 } else { domain[fixed].1 };
                    points[(fixed, p)] = bound;
                    points[(free, p)] = domain[free].0 + s * (domain[free].1 - domain[free].0);
                }
                push(TermKind::Misfit(vec![0.0; side]), points, Derivatives::NONE, side);
            }
        }

        let (xs, ys) = pde.test_grid();
        let grid =
            Mat::from_fn(2, xs.len() * ys.len(), |d, k| if d == 0 { xs[k % xs.len()] } else { ys[k / xs.len()] });
        let grid_reference: Vec<f64> = (0..grid.ncols()).map(|k| pde.reference(grid[(0, k)], grid[(1, k)])).collect();
        let grid_reference_norm = grid_reference.iter().map(|u| u * u).sum::<f64>().sqrt();
        Self { params, grid_inputs: to_inputs(&grid), grid_reference, grid_reference_norm, terms, pde, scale }
    }
}

impl Objective for Pinn {
    fn layer_shapes(&self) -> &[(usize, usize)] {
        &self.shapes
    }

    fn base_weights(&self) -> &[Mat<f64>] {
        &self.base
    }

    fn loss_and_gradient(&mut self, weights: &[Mat<f64>], gradients: &mut [Mat<f64>]) -> f64 {
        self.install(weights);
        let loss = self.evaluate(true);
        for (g, &s) in gradients.iter_mut().zip(&self.slots) {
            g.fill(0.0);
            for chunk in &self.chunks {
                *g += &chunk.grads[s];
            }
        }
        loss
    }

    fn metrics(&mut self, weights: &[Mat<f64>]) -> Metrics {
        self.install(weights);
        let loss = self.evaluate(false);
        Metrics { loss, rel_error: self.relative_l2() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(pde: PdeKind) -> Pinn {
        let params =
            PinnParams { architecture: Architecture { depth: 3, width: 6 }, points: 40, ..PinnParams::source(pde, 3) };
        Pinn::new(params).unwrap()
    }

    /// The gradient of every PDE's loss, with respect to every parameter and
    /// to the adapted hidden weights, against central differences.
    #[test]
    fn loss_gradient_matches_finite_differences() {
        for kind in PdeKind::ALL {
            let mut pinn = small(kind);
            for adapted in [Adapted::All, Adapted::HiddenToHidden] {
                let network = pinn.network().to_vec();
                let mut obj = pinn.adapting(network, adapted).unwrap();
                let weights = obj.base_weights().to_vec();
                let mut grads: Vec<Mat<f64>> = weights.iter().map(|w| Mat::zeros(w.nrows(), w.ncols())).collect();
                let loss = obj.loss_and_gradient(&weights, &mut grads);
                assert!(loss.is_finite() && loss > 0.0);
                assert!((obj.metrics(&weights).loss - loss).abs() <= 1e-14 * loss);
                let h = 1e-6;
                for (slot, w) in weights.iter().enumerate() {
                    for (i, j) in [(0, 0), (w.nrows() - 1, w.ncols() - 1), (w.nrows() / 2, 0)] {
                        let mut plus = weights.clone();
                        plus[slot][(i, j)] += h;
                        let mut minus = weights.clone();
                        minus[slot][(i, j)] -= h;
                        let fd = (obj.metrics(&plus).loss - obj.metrics(&minus).loss) / (2.0 * h);
                        let got = grads[slot][(i, j)];
                        assert!(
                            (got - fd).abs() <= 1e-6 * (fd.abs() + 1e-3 * loss),
                            "{} {adapted:?} slot {slot} ({i}, {j}): {got} vs FD {fd}",
                            kind.name()
                        );
                    }
                }
            }
            // The objective is cheap to clone and evaluates the same.
            let w = pinn.base_weights().to_vec();
            assert_eq!(pinn.clone().metrics(&w), pinn.metrics(&w));
        }
    }

    #[test]
    fn collocation_points_are_deterministic_and_in_the_domain() {
        let (a, b) = (small(PdeKind::Helmholtz), small(PdeKind::Helmholtz));
        for (ta, tb) in a.data.terms.iter().zip(&b.data.terms) {
            assert_eq!(ta.physical, tb.physical);
            for p in 0..ta.inputs.ncols() {
                assert!(ta.inputs[(0, p)].abs() <= 1.0 + 1e-15 && ta.inputs[(1, p)].abs() <= 1.0 + 1e-15);
            }
        }
        // Boundary points lie on the boundary of the square.
        let boundary = &a.data.terms[1].physical;
        for p in 0..boundary.ncols() {
            assert!(boundary[(0, p)].abs() == 1.0 || boundary[(1, p)].abs() == 1.0);
        }
    }

    #[test]
    fn relative_error_and_grid_prediction() {
        // An untrained network is far from the reference.
        let mut pinn = small(PdeKind::Burgers);
        let w = pinn.base_weights().to_vec();
        let m = pinn.metrics(&w);
        assert!(m.rel_error > 0.1 && m.rel_error.is_finite());
        let grid = pinn.grid_prediction(&w);
        let (xs, ys) = pinn.pde().test_grid();
        assert_eq!(grid.len(), xs.len() * ys.len());
    }

    #[test]
    fn bad_parameters_are_errors() {
        let base = PinnParams::source(PdeKind::Convection, 0);
        assert!(Pinn::new(PinnParams { points: 3, ..base }).is_err());
        assert!(Pinn::new(PinnParams { architecture: Architecture { depth: 0, width: 5 }, ..base }).is_err());
        let one_layer = Pinn::new(PinnParams { architecture: Architecture { depth: 1, width: 5 }, points: 16, ..base });
        let one_layer = one_layer.unwrap();
        let net = one_layer.network().to_vec();
        assert!(one_layer.adapting(net, Adapted::HiddenToHidden).is_err());
        assert!(one_layer.adapting(vec![Mat::zeros(2, 2)], Adapted::All).is_err());
    }
}
