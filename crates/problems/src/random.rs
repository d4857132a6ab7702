//! The project's one source of randomness: `ChaCha8Rng` seeded by
//! `(seed, stream)`, never by the OS, so every run is reproducible and
//! independent draws (target, measurements, noise, init) never share a stream.

use faer::Mat;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Stream indices: one per independent random quantity, so adding a draw to
/// one never shifts another.
pub mod stream {
    /// Left singular vectors of a target matrix.
    pub const TARGET_LEFT: u64 = 1;
    /// Right singular vectors of a target matrix.
    pub const TARGET_RIGHT: u64 = 2;
    /// Measurement operators.
    pub const MEASUREMENTS: u64 = 3;
    /// Measurement noise.
    pub const NOISE: u64 = 4;
    /// Collocation points of a PINN.
    pub const COLLOCATION: u64 = 5;
    /// Initial weights of a network (Glorot).
    pub const NETWORK: u64 = 6;
    /// Initialization of a method's trainable parameters.
    pub const INIT: u64 = 16;
}

/// A `ChaCha8Rng` for `(seed, stream)`.
pub fn seeded_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// An `m × n` matrix of i.i.d. `N(0, std²)` entries, drawn column by column.
pub fn gaussian_mat(rng: &mut ChaCha8Rng, m: usize, n: usize, std: f64) -> Mat<f64> {
    let mut out = Mat::zeros(m, n);
    for j in 0..n {
        for i in 0..m {
            let z: f64 = StandardNormal.sample(rng);
            out[(i, j)] = std * z;
        }
    }
    out
}

/// An `n × k` matrix with orthonormal columns, Haar-distributed on the
/// Stiefel manifold: the Q factor of a Gaussian matrix with the signs fixed so
/// that `diag(R) > 0` (without the sign fix Q is not Haar).
///
/// Requires `k ≤ n`.
pub fn haar_orthonormal(rng: &mut ChaCha8Rng, n: usize, k: usize) -> Mat<f64> {
    assert!(k <= n, "haar_orthonormal: k = {k} exceeds n = {n}");
    let g = gaussian_mat(rng, n, k, 1.0);
    let qr = g.qr();
    let mut q = qr.compute_thin_Q();
    let r = qr.thin_R();
    for j in 0..k {
        if r[(j, j)] < 0.0 {
            for i in 0..n {
                q[(i, j)] = -q[(i, j)];
            }
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a = gaussian_mat(&mut seeded_rng(7, 1), 3, 2, 1.0);
        let b = gaussian_mat(&mut seeded_rng(7, 1), 3, 2, 1.0);
        let c = gaussian_mat(&mut seeded_rng(7, 2), 3, 2, 1.0);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn haar_columns_are_orthonormal() {
        let q = haar_orthonormal(&mut seeded_rng(0, 0), 20, 5);
        let gram = q.transpose() * &q;
        let err = (&gram - Mat::<f64>::identity(5, 5)).norm_l2();
        assert!(err < 1e-13, "‖QᵀQ − I‖ = {err}");
    }
}
