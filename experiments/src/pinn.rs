//! Pretraining a PINN on the source PDE parameter, cached on disk so that
//! every method fine-tunes the same network (SPEC §5.4).
//!
//! Pretraining is full-parameter AdamW (the `full-adam` baseline on the
//! [`Adapted::All`] view of the problem): the same optimizer code as every
//! other Adam run. The cache file is keyed by everything that changes the
//! result (PDE, parameter, architecture, points, seed, steps, learning rate),
//! written atomically, and carries a checksum: a corrupt or partial file is
//! detected and rebuilt, never used.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use faer::Mat;
use odelora::baselines::{AdamParams, FullFineTuning, FullParams, Optimizer};
use odelora::manifold::Method;
use odelora::problems::pinn::{Adapted, Pinn, PinnParams};
use odelora::problems::Objective;

use crate::output::AtomicFile;
use crate::ExperimentError;

/// How the source network is pretrained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pretraining {
    /// Adam steps on all parameters.
    pub steps: u64,
    /// Adam learning rate.
    pub lr: f64,
}

impl Default for Pretraining {
    /// 5000 steps of Adam at 1e-3.
    fn default() -> Self {
        Self { steps: 5000, lr: 1e-3 }
    }
}

/// A pretrained network and how good it is at the source parameter.
#[derive(Debug, Clone)]
pub struct Pretrained {
    /// Every parameter `[W_0, b_0, …]`.
    pub network: Vec<Mat<f64>>,
    /// Loss at the source parameter.
    pub loss: f64,
    /// Relative L2 error at the source parameter.
    pub rel_error: f64,
    /// Whether it came from the cache.
    pub cached: bool,
}

const MAGIC: &str = "odelora-pinn-pretrained v1";

/// The cache key: every input that changes the pretrained network.
pub fn cache_key(source: &PinnParams, pretraining: Pretraining) -> String {
    let a = source.architecture;
    format!(
        "{}-{}={:e}-d{}w{}-p{}-seed{}-adam{:e}x{}",
        source.pde.name(),
        source.pde.parameter_name(),
        source.parameter,
        a.depth,
        a.width,
        source.points,
        source.seed,
        pretraining.lr,
        pretraining.steps
    )
}

/// The network pretrained on `source`, from `cache_dir` if a valid cache
/// file exists, else trained now and cached. `progress` is called with the
/// number of steps done (for a progress bar).
pub fn pretrained_network(
    source: &PinnParams,
    pretraining: Pretraining,
    cache_dir: &Path,
    mut progress: impl FnMut(u64),
) -> Result<Pretrained, ExperimentError> {
    let mut problem = Pinn::new(*source)?;
    let key = cache_key(source, pretraining);
    let path = cache_dir.join(format!("{key}.txt"));
    let shapes: Vec<(usize, usize)> = problem.network().iter().map(|m| m.shape()).collect();
    let (network, cached) = match read_cache(&path, &key, &shapes) {
        Some(network) => (network, true),
        None => {
            let network = pretrain(&mut problem, pretraining, &mut progress)?;
            write_cache(&path, &key, &network)?;
            (network, false)
        }
    };
    let metrics = problem.metrics(&network);
    Ok(Pretrained { network, loss: metrics.loss, rel_error: metrics.rel_error, cached })
}

/// Adam on every parameter of `problem` from its Glorot init.
fn pretrain(
    problem: &mut Pinn,
    pretraining: Pretraining,
    progress: &mut impl FnMut(u64),
) -> Result<Vec<Mat<f64>>, ExperimentError> {
    let params = FullParams { optimizer: Optimizer::Adam(AdamParams::default()), lr: pretraining.lr };
    let mut adam = FullFineTuning::new("pretrain-adam", params, problem)?;
    for step in 1..=pretraining.steps {
        adam.step(problem, None).map_err(|e| {
            ExperimentError::Input(format!("pretraining failed at step {step}: {e} (try a smaller --pretrain-lr)"))
        })?;
        if step % 50 == 0 || step == pretraining.steps {
            progress(step);
        }
    }
    Ok(adam.weights().to_vec())
}

/// FNV-1a over the parameters' bit patterns: detects truncated or edited files.
fn checksum(values: impl Iterator<Item = u64>) -> u64 {
    values.fold(0xcbf2_9ce4_8422_2325, |h, v| (h ^ v).wrapping_mul(0x0100_0000_01b3))
}

fn parameter_bits(network: &[Mat<f64>]) -> impl Iterator<Item = u64> + '_ {
    network.iter().flat_map(|m| (0..m.ncols()).flat_map(move |j| (0..m.nrows()).map(move |i| m[(i, j)].to_bits())))
}

/// Text format: magic line, key line, one line per matrix (`rows cols` and
/// the values as f64 bit patterns in hex, column-major), checksum line.
fn write_cache(path: &Path, key: &str, network: &[Mat<f64>]) -> Result<(), ExperimentError> {
    let mut file = AtomicFile::create(path)?;
    file.line(MAGIC)?;
    file.line(&format!("key {key}"))?;
    for m in network {
        let mut line = format!("{} {}", m.nrows(), m.ncols());
        for bits in parameter_bits(std::slice::from_ref(m)) {
            let _ = write!(line, " {bits:016x}");
        }
        file.line(&line)?;
    }
    file.line(&format!("checksum {:016x}", checksum(parameter_bits(network))))?;
    file.commit()
}

/// The cached network, or `None` when the file is missing, for another key,
/// malformed, of the wrong shapes, or fails its checksum.
fn read_cache(path: &Path, key: &str, shapes: &[(usize, usize)]) -> Option<Vec<Mat<f64>>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    if lines.next()? != MAGIC || lines.next()?.strip_prefix("key ")? != key {
        return None;
    }
    let mut network = Vec::with_capacity(shapes.len());
    for &(rows, cols) in shapes {
        let mut fields = lines.next()?.split(' ');
        let (r, c): (usize, usize) = (fields.next()?.parse().ok()?, fields.next()?.parse().ok()?);
        if (r, c) != (rows, cols) {
            return None;
        }
        let values: Vec<f64> =
            fields.map(|f| u64::from_str_radix(f, 16).ok().map(f64::from_bits)).collect::<Option<_>>()?;
        if values.len() != rows * cols || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        network.push(Mat::from_fn(rows, cols, |i, j| values[j * rows + i]));
    }
    let expect = lines.next()?.strip_prefix("checksum ")?;
    (u64::from_str_radix(expect, 16).ok()? == checksum(parameter_bits(&network)) && lines.next().is_none())
        .then_some(network)
}

/// The fine-tuning objective: `source`'s problem at the PDE's target
/// parameter, adapting the hidden-to-hidden weights of `network`.
pub fn fine_tuning_problem(
    source: &PinnParams,
    target_parameter: f64,
    network: Vec<Mat<f64>>,
) -> Result<Pinn, ExperimentError> {
    let probe = Pinn::new(PinnParams { parameter: target_parameter, ..*source })?;
    Ok(probe.adapting(network, Adapted::HiddenToHidden)?)
}

/// The default cache folder inside a results folder.
pub fn cache_dir(results_dir: &Path) -> PathBuf {
    results_dir.join("cache")
}

#[cfg(test)]
mod tests {
    use super::*;
    use odelora::problems::pinn::{Architecture, PdeKind};

    fn tiny() -> PinnParams {
        PinnParams {
            architecture: Architecture { depth: 2, width: 4 },
            points: 16,
            ..PinnParams::source(PdeKind::Reaction, 1)
        }
    }

    #[test]
    fn cache_round_trips_and_rejects_corruption() {
        let dir = std::env::temp_dir().join(format!("odelora-cache-{}", std::process::id()));
        let pre = Pretraining { steps: 20, lr: 1e-3 };
        let first = pretrained_network(&tiny(), pre, &dir, |_| {}).unwrap();
        assert!(!first.cached);
        let second = pretrained_network(&tiny(), pre, &dir, |_| {}).unwrap();
        assert!(second.cached);
        assert_eq!(first.network, second.network);
        // Another key is another file.
        assert!(!pretrained_network(&tiny(), Pretraining { steps: 21, ..pre }, &dir, |_| {}).unwrap().cached);

        let path = dir.join(format!("{}.txt", cache_key(&tiny(), pre)));
        let text = std::fs::read_to_string(&path).unwrap();
        let shapes: Vec<(usize, usize)> = first.network.iter().map(|m| m.shape()).collect();
        let key = cache_key(&tiny(), pre);
        // A flipped digit, a truncated file, a missing checksum: all rejected.
        let flipped = text.replacen(" 3", " 4", 1);
        for broken in [flipped, text[..text.len() / 2].to_string(), text.lines().take(4).collect::<Vec<_>>().join("\n")]
        {
            std::fs::write(&path, broken).unwrap();
            assert!(read_cache(&path, &key, &shapes).is_none());
        }
        // …and rebuilt to the same network.
        let rebuilt = pretrained_network(&tiny(), pre, &dir, |_| {}).unwrap();
        assert!(!rebuilt.cached);
        assert_eq!(rebuilt.network, first.network);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
