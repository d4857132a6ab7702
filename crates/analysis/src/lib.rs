//! Analysis of ODELoRA experiments: seed statistics and figures.
//!
//! Kept out of the core crates so that reusing the manifold, integrator or
//! problem crates does not compile a plotting stack.
//!
//! - [`stats`]: quantiles, medians and IQRs over seeds (numpy's default
//!   interpolation, so numbers match a Python re-analysis).
//! - [`rates`]: linear-convergence rates (contraction factor, R², window)
//!   and log–log slopes with standard errors.
//! - [`plot`]: a [`plot::Figure`] of panels with median lines and IQR bands,
//!   rendered to SVG and PNG with a bundled font (DejaVu Sans, Bitstream
//!   Vera licence in `assets/`).
//! - [`table`]: column tables written as Parquet (polars).
//!
//! # Example
//!
//! ```
//! use odelora_analysis::stats::median_iqr;
//! assert_eq!(median_iqr(&[1.0, 2.0, 3.0, 4.0, 5.0]), Some((2.0, 3.0, 4.0)));
//! ```

pub mod plot;
pub mod rates;
pub mod stats;
pub mod table;

/// Why an analysis step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// Drawing failed.
    #[error("plotting failed: {0}")]
    Plot(String),
    /// A table could not be built or written.
    #[error("table: {0}")]
    Table(String),
    /// Writing a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
