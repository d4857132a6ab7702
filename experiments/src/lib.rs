//! The experiments of the ODELoRA study and the `odelora` command-line
//! program: training runs (`odelora train`) and the figures
//! (`odelora reproduce`), one module per figure id of SPEC §6, whose runs
//! can be split over a cluster (`reproduce --shard K/N`, then
//! `odelora merge`; see [`figures::Shard`]).

pub mod features;
pub mod figures;
pub mod methods;
pub mod output;
pub mod pinn;
pub mod progress;
pub mod training;

use std::path::Path;

/// Why an experiment could not run. Messages are one line a user can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// Bad command-line input.
    #[error("{0}")]
    Input(String),
    /// A problem could not be built.
    #[error(transparent)]
    Problem(#[from] odelora::problems::ProblemError),
    /// A method could not be built.
    #[error(transparent)]
    Manifold(#[from] odelora::manifold::ManifoldError),
    /// Plotting failed.
    #[error(transparent)]
    Analysis(#[from] odelora_analysis::AnalysisError),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl ExperimentError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }
}
