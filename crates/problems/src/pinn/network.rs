//! A tanh MLP with two inputs that carries input derivatives forward
//! (forward-mode jets) and parameter gradients backward, all by hand.
//!
//! For a batch of N points each layer works on one stacked matrix
//! `[H | H_1 | H_2 | H_11 | H_22]` (width × C·N): the activations and their
//! derivatives with respect to each input coordinate, only the channels a
//! PDE needs. A dense layer maps every channel by the same `W` (the bias
//! enters the value channel only), so one product per layer carries all of
//! them; `tanh` acts by the chain rule
//!
//! ```text
//! a = σ(z),  a_d = σ'(z) z_d,  a_dd = σ''(z) z_d² + σ'(z) z_dd,
//! σ' = 1 − σ²,  σ'' = −2σσ',  σ''' = −2σ'² + 4σ²σ'.
//! ```
//!
//! The reverse pass differentiates exactly these formulas (hence σ''' in
//! the value channel's adjoint). Both passes are checked against central
//! finite differences in the tests.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand_chacha::ChaCha8Rng;

use crate::random::gaussian_mat;
use crate::ProblemError;

/// Shape of the network: 2 inputs, `depth` hidden layers of `width` tanh
/// units, one linear output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Architecture {
    /// Hidden layers.
    pub depth: usize,
    /// Units per hidden layer.
    pub width: usize,
}

impl Architecture {
    /// The SPEC default: 4 hidden layers of 50 units.
    pub const DEFAULT: Architecture = Architecture { depth: 4, width: 50 };

    /// Inputs of the network: `(x, t)` or `(x, y)`.
    pub const INPUTS: usize = 2;

    /// Check that the network has at least one hidden layer and unit.
    pub fn validate(&self) -> Result<(), ProblemError> {
        if self.depth == 0 || self.width == 0 {
            return Err(ProblemError::InvalidParameter(format!(
                "the network needs at least one hidden layer and unit, got depth {} and width {}",
                self.depth, self.width
            )));
        }
        Ok(())
    }

    /// Dense layers, output layer included.
    pub fn layers(&self) -> usize {
        self.depth + 1
    }

    /// `(out, in)` of dense layer `l`.
    pub fn layer_shape(&self, l: usize) -> (usize, usize) {
        let fan_in = if l == 0 { Self::INPUTS } else { self.width };
        let fan_out = if l == self.depth { 1 } else { self.width };
        (fan_out, fan_in)
    }

    /// The parameter list `[W_0, b_0, W_1, b_1, …, W_depth, b_depth]`
    /// (biases as columns): the shapes, in order.
    pub fn parameter_shapes(&self) -> Vec<(usize, usize)> {
        (0..self.layers()).flat_map(|l| [self.layer_shape(l), (self.layer_shape(l).0, 1)]).collect()
    }

    /// Index of `W_l` in the parameter list (`b_l` follows it).
    pub fn weight_slot(l: usize) -> usize {
        2 * l
    }

    /// Parameter slots of the hidden-to-hidden weights `W_1 … W_{depth−1}`,
    /// the matrices that LoRA adapts.
    pub fn hidden_to_hidden_slots(&self) -> Vec<usize> {
        (1..self.depth).map(Self::weight_slot).collect()
    }

    /// Glorot-normal weights (`N(0, 2/(fan_in + fan_out))`) and zero biases.
    pub fn glorot_normal(&self, rng: &mut ChaCha8Rng) -> Vec<Mat<f64>> {
        (0..self.layers())
            .flat_map(|l| {
                let (out, inp) = self.layer_shape(l);
                let std = (2.0 / (out + inp) as f64).sqrt();
                [gaussian_mat(rng, out, inp, std), Mat::zeros(out, 1)]
            })
            .collect()
    }
}

/// Which input derivatives a pass carries. A second derivative needs the
/// first one of the same coordinate (its chain rule reads `z_d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Derivatives {
    /// `∂/∂x_d`, d = 0, 1.
    pub first: [bool; 2],
    /// `∂²/∂x_d²`, d = 0, 1.
    pub second: [bool; 2],
}

/// Position of each quantity in a point's jet `[u, u_0, u_1, u_00, u_11]`.
pub mod jet {
    /// The value u.
    pub const VALUE: usize = 0;
    /// `∂u/∂x_d` is at `FIRST + d`.
    pub const FIRST: usize = 1;
    /// `∂²u/∂x_d²` is at `SECOND + d`.
    pub const SECOND: usize = 3;
    /// Length of a jet.
    pub const LEN: usize = 5;
}

impl Derivatives {
    /// The value only.
    pub const NONE: Derivatives = Derivatives { first: [false; 2], second: [false; 2] };

    /// For each jet position, its channel in the stacked layout (or `None`).
    fn channel_map(&self) -> [Option<usize>; jet::LEN] {
        let second = [self.second[0], self.second[1]];
        let first = [self.first[0] || second[0], self.first[1] || second[1]];
        let mut map = [None; jet::LEN];
        let mut next = 0;
        for (pos, on) in [true, first[0], first[1], second[0], second[1]].into_iter().enumerate() {
            if on {
                map[pos] = Some(next);
                next += 1;
            }
        }
        map
    }
}

/// Buffers of one batch of points: every layer's pre-activations and
/// activations (kept for the reverse pass) and the adjoints. Sized once per
/// batch; passes do not allocate.
#[derive(Debug, Clone)]
pub struct JetWorkspace {
    points: usize,
    channels: [Option<usize>; jet::LEN],
    input: Mat<f64>,
    pre: Vec<Mat<f64>>,
    post: Vec<Mat<f64>>,
    output: Mat<f64>,
    adj_post: Mat<f64>,
    adj_pre: Mat<f64>,
    adj_output: Mat<f64>,
}

impl JetWorkspace {
    /// Buffers for `points` points of `arch` carrying `derivatives`.
    pub fn new(arch: Architecture, points: usize, derivatives: Derivatives) -> Self {
        let channels = derivatives.channel_map();
        let count = channels.iter().flatten().count();
        let cols = count * points;
        let hidden = || (0..arch.depth).map(|_| Mat::zeros(arch.width, cols)).collect::<Vec<_>>();
        Self {
            points,
            channels,
            input: Mat::zeros(Architecture::INPUTS, cols),
            pre: hidden(),
            post: hidden(),
            output: Mat::zeros(1, cols),
            adj_post: Mat::zeros(arch.width, cols),
            adj_pre: Mat::zeros(arch.width, cols),
            adj_output: Mat::zeros(1, cols),
        }
    }

    /// Number of points of the batch.
    pub fn points(&self) -> usize {
        self.points
    }

    /// The jet `[u, u_0, u_1, u_00, u_11]` of point `p` after
    /// [`forward`]; quantities not carried are 0.
    pub fn jet(&self, p: usize) -> [f64; jet::LEN] {
        let mut out = [0.0; jet::LEN];
        for (pos, ch) in self.channels.iter().enumerate() {
            if let Some(c) = ch {
                out[pos] = self.output[(0, c * self.points + p)];
            }
        }
        out
    }

    /// Set the loss's derivative with respect to point `p`'s jet, before
    /// [`backward`]; entries for quantities not carried are ignored.
    pub fn set_jet_adjoint(&mut self, p: usize, adjoint: &[f64; jet::LEN]) {
        for (pos, ch) in self.channels.iter().enumerate() {
            if let Some(c) = ch {
                self.adj_output[(0, c * self.points + p)] = adjoint[pos];
            }
        }
    }
}

/// Evaluate the network at `points` (2 × N, already in the network's input
/// coordinates) with the input derivatives of `ws`. `seeds[d]` is the
/// derivative of input coordinate d with respect to the physical coordinate
/// the jets differentiate by (the input normalisation's scale).
pub fn forward(
    params: &[Mat<f64>],
    arch: Architecture,
    points: MatRef<'_, f64>,
    seeds: [f64; 2],
    ws: &mut JetWorkspace,
) {
    let n = ws.points;
    debug_assert_eq!(points.ncols(), n);
    ws.input.fill(0.0);
    for p in 0..n {
        for d in 0..Architecture::INPUTS {
            ws.input[(d, p)] = points[(d, p)];
        }
    }
    for d in 0..2 {
        if let Some(c) = ws.channels[jet::FIRST + d] {
            for p in 0..n {
                ws.input[(d, c * n + p)] = seeds[d];
            }
        }
    }
    for l in 0..arch.depth {
        let (w, b) = (&params[2 * l], &params[2 * l + 1]);
        let h = if l == 0 { ws.input.as_ref() } else { ws.post[l - 1].as_ref() };
        matmul(ws.pre[l].as_mut(), Accum::Replace, w.as_ref(), h, 1.0, Par::Seq);
        clear_upper_vector_state();
        let (z, a) = (&mut ws.pre[l], &mut ws.post[l]);
        for p in 0..n {
            for i in 0..arch.width {
                z[(i, p)] += b[(i, 0)];
            }
        }
        tanh_jets(z, a, n, &ws.channels);
    }
    let l = arch.depth;
    matmul(ws.output.as_mut(), Accum::Replace, params[2 * l].as_ref(), ws.post[l - 1].as_ref(), 1.0, Par::Seq);
    let bias = params[2 * l + 1][(0, 0)];
    for p in 0..n {
        ws.output[(0, p)] += bias;
    }
}

/// Clear the upper halves of the vector registers after faer's products.
///
/// faer's AVX kernels can leave them dirty, and every call of the C
/// library's SSE-encoded `tanh` then pays a state-transition penalty:
/// measured here at 230 ns per call instead of 10 ns, 80% of a PINN
/// gradient evaluation. `vzeroupper` costs one instruction.
#[inline]
fn clear_upper_vector_state() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX (checked above), all `vzeroupper` needs.
        unsafe { std::arch::x86_64::_mm256_zeroupper() }
    }
}

/// `a = tanh(z)` and its first and second derivative channels.
fn tanh_jets(z: &Mat<f64>, a: &mut Mat<f64>, n: usize, channels: &[Option<usize>; jet::LEN]) {
    for p in 0..n {
        for i in 0..z.nrows() {
            let t = z[(i, p)].tanh();
            let s1 = 1.0 - t * t;
            let s2 = -2.0 * t * s1;
            a[(i, p)] = t;
            for d in 0..2 {
                if let Some(c) = channels[jet::FIRST + d] {
                    let zd = z[(i, c * n + p)];
                    a[(i, c * n + p)] = s1 * zd;
                    if let Some(cc) = channels[jet::SECOND + d] {
                        a[(i, cc * n + p)] = s2 * zd * zd + s1 * z[(i, cc * n + p)];
                    }
                }
            }
        }
    }
}

/// Adjoint of [`tanh_jets`]: `z̄` from `ā`, given the forward values.
fn tanh_jets_adjoint(
    z: &Mat<f64>,
    a: &Mat<f64>,
    adj_a: &Mat<f64>,
    adj_z: &mut Mat<f64>,
    n: usize,
    channels: &[Option<usize>; jet::LEN],
) {
    for p in 0..n {
        for i in 0..z.nrows() {
            let t = a[(i, p)];
            let s1 = 1.0 - t * t;
            let s2 = -2.0 * t * s1;
            let s3 = -2.0 * s1 * s1 + 4.0 * t * t * s1;
            // Adjoints of σ'(z) and σ''(z), gathered over the channels.
            let (mut adj_s1, mut adj_s2) = (0.0, 0.0);
            for d in 0..2 {
                if let Some(c) = channels[jet::FIRST + d] {
                    let (zd, adj_ad) = (z[(i, c * n + p)], adj_a[(i, c * n + p)]);
                    let mut adj_zd = adj_ad * s1;
                    adj_s1 += adj_ad * zd;
                    if let Some(cc) = channels[jet::SECOND + d] {
                        let (zdd, adj_add) = (z[(i, cc * n + p)], adj_a[(i, cc * n + p)]);
                        adj_zd += adj_add * 2.0 * s2 * zd;
                        adj_s1 += adj_add * zdd;
                        adj_s2 += adj_add * zd * zd;
                        adj_z[(i, cc * n + p)] = adj_add * s1;
                    }
                    adj_z[(i, c * n + p)] = adj_zd;
                }
            }
            adj_z[(i, p)] = adj_a[(i, p)] * s1 + adj_s1 * s2 + adj_s2 * s3;
        }
    }
}

/// Reverse pass after [`forward`] and [`JetWorkspace::set_jet_adjoint`]:
/// add the gradient of the loss with respect to every parameter to `grads`
/// (shaped like `params`).
pub fn backward(params: &[Mat<f64>], arch: Architecture, ws: &mut JetWorkspace, grads: &mut [Mat<f64>]) {
    let n = ws.points;
    let l = arch.depth;
    matmul(grads[2 * l].as_mut(), Accum::Add, ws.adj_output.as_ref(), ws.post[l - 1].transpose(), 1.0, Par::Seq);
    grads[2 * l + 1][(0, 0)] += (0..n).map(|p| ws.adj_output[(0, p)]).sum::<f64>();
    matmul(ws.adj_post.as_mut(), Accum::Replace, params[2 * l].transpose(), ws.adj_output.as_ref(), 1.0, Par::Seq);
    for l in (0..arch.depth).rev() {
        clear_upper_vector_state();
        tanh_jets_adjoint(&ws.pre[l], &ws.post[l], &ws.adj_post, &mut ws.adj_pre, n, &ws.channels);
        let h = if l == 0 { ws.input.as_ref() } else { ws.post[l - 1].as_ref() };
        matmul(grads[2 * l].as_mut(), Accum::Add, ws.adj_pre.as_ref(), h.transpose(), 1.0, Par::Seq);
        let bias = &mut grads[2 * l + 1];
        for p in 0..n {
            for i in 0..arch.width {
                bias[(i, 0)] += ws.adj_pre[(i, p)];
            }
        }
        if l > 0 {
            matmul(ws.adj_post.as_mut(), Accum::Replace, params[2 * l].transpose(), ws.adj_pre.as_ref(), 1.0, Par::Seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::seeded_rng;

    const ARCH: Architecture = Architecture { depth: 3, width: 7 };
    const ALL: Derivatives = Derivatives { first: [true; 2], second: [true; 2] };

    fn setup(points: usize) -> (Vec<Mat<f64>>, Mat<f64>) {
        let mut rng = seeded_rng(11, 0);
        let mut params = ARCH.glorot_normal(&mut rng);
        // Non-zero biases, so their gradients are exercised too.
        for l in 0..ARCH.layers() {
            params[2 * l + 1] = gaussian_mat(&mut rng, params[2 * l + 1].nrows(), 1, 0.3);
        }
        (params, gaussian_mat(&mut rng, 2, points, 0.7))
    }

    fn value_at(params: &[Mat<f64>], x: f64, y: f64) -> f64 {
        let mut ws = JetWorkspace::new(ARCH, 1, Derivatives::NONE);
        forward(params, ARCH, Mat::from_fn(2, 1, |i, _| [x, y][i]).as_ref(), [1.0, 1.0], &mut ws);
        ws.jet(0)[jet::VALUE]
    }

    #[test]
    fn jets_match_finite_differences() {
        let (params, pts) = setup(5);
        let seeds = [1.3, 0.6];
        let mut ws = JetWorkspace::new(ARCH, 5, ALL);
        forward(&params, ARCH, pts.as_ref(), seeds, &mut ws);
        let h = 1e-4;
        for p in 0..5 {
            let (x, y) = (pts[(0, p)], pts[(1, p)]);
            let j = ws.jet(p);
            // Physical coordinate s_d moves the input by seeds[d]·ds.
            let u = |dx: f64, dy: f64| value_at(&params, x + seeds[0] * dx, y + seeds[1] * dy);
            let u0 = u(0.0, 0.0);
            assert!((j[jet::VALUE] - u0).abs() < 1e-14);
            let fd = [
                (u(h, 0.0) - u(-h, 0.0)) / (2.0 * h),
                (u(0.0, h) - u(0.0, -h)) / (2.0 * h),
                (u(h, 0.0) - 2.0 * u0 + u(-h, 0.0)) / (h * h),
                (u(0.0, h) - 2.0 * u0 + u(0.0, -h)) / (h * h),
            ];
            for (k, want) in fd.iter().enumerate() {
                let got = j[jet::FIRST + k];
                assert!((got - want).abs() <= 1e-6 * (1.0 + want.abs()), "point {p} jet {k}: {got} vs FD {want}");
            }
        }
    }

    #[test]
    fn only_requested_channels_are_carried() {
        let (params, pts) = setup(3);
        let mut full = JetWorkspace::new(ARCH, 3, ALL);
        forward(&params, ARCH, pts.as_ref(), [1.0, 1.0], &mut full);
        let some = Derivatives { first: [false, true], second: [true, false] };
        let mut ws = JetWorkspace::new(ARCH, 3, some);
        forward(&params, ARCH, pts.as_ref(), [1.0, 1.0], &mut ws);
        for p in 0..3 {
            let (a, b) = (full.jet(p), ws.jet(p));
            // u, u_0 (needed by u_00), u_1 and u_00 are carried, u_11 is not.
            for k in 0..4 {
                assert!((a[k] - b[k]).abs() < 1e-13, "jet {k}");
            }
            assert_eq!(b[4], 0.0);
        }
    }

    /// A loss that reads every jet quantity nonlinearly:
    /// `Σ_p Σ_k c_k j_k(p)² / 2 + j_0(p) j_1(p)`.
    fn jet_loss(params: &[Mat<f64>], pts: &Mat<f64>, ws: &mut JetWorkspace) -> f64 {
        forward(params, ARCH, pts.as_ref(), [1.1, 0.9], ws);
        let coef = [0.5, 1.0, 2.0, 0.3, 0.7];
        (0..ws.points())
            .map(|p| {
                let j = ws.jet(p);
                let adj: [f64; jet::LEN] = std::array::from_fn(|k| {
                    coef[k] * j[k]
                        + if k == 0 {
                            j[1]
                        } else if k == 1 {
                            j[0]
                        } else {
                            0.0
                        }
                });
                ws.set_jet_adjoint(p, &adj);
                (0..jet::LEN).map(|k| coef[k] * j[k] * j[k] / 2.0).sum::<f64>() + j[0] * j[1]
            })
            .sum()
    }

    #[test]
    fn parameter_gradient_matches_finite_differences() {
        let (params, pts) = setup(4);
        let mut ws = JetWorkspace::new(ARCH, 4, ALL);
        jet_loss(&params, &pts, &mut ws);
        let mut grads: Vec<Mat<f64>> = params.iter().map(|p| Mat::zeros(p.nrows(), p.ncols())).collect();
        backward(&params, ARCH, &mut ws, &mut grads);
        let h = 1e-6;
        let mut worst: f64 = 0.0;
        for slot in 0..params.len() {
            for (i, j) in (0..params[slot].nrows()).flat_map(|i| (0..params[slot].ncols()).map(move |j| (i, j))) {
                let mut plus = params.clone();
                plus[slot][(i, j)] += h;
                let mut minus = params.clone();
                minus[slot][(i, j)] -= h;
                let fd = (jet_loss(&plus, &pts, &mut ws) - jet_loss(&minus, &pts, &mut ws)) / (2.0 * h);
                let got = grads[slot][(i, j)];
                let rel = (got - fd).abs() / (1e-3 + fd.abs());
                worst = worst.max(rel);
                assert!(rel < 1e-6, "slot {slot} ({i}, {j}): {got} vs FD {fd}");
            }
        }
        assert!(worst > 0.0);
    }

    #[test]
    fn architecture_shapes() {
        let arch = Architecture::DEFAULT;
        let shapes = arch.parameter_shapes();
        assert_eq!(shapes.len(), 10);
        assert_eq!(shapes[0], (50, 2));
        assert_eq!(shapes[8], (1, 50));
        assert_eq!(arch.hidden_to_hidden_slots(), vec![2, 4, 6]);
        assert!(Architecture { depth: 0, width: 5 }.validate().is_err());
    }
}
