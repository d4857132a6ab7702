//! `sensing-stepsize`: relative error after a fixed gradient-evaluation
//! budget against the step size, for every method over a wide log grid —
//! the range of step sizes each method trains at.
//!
//! All methods start from the spectral init (the same start), LoRA-GD also
//! from its own init (dashed). GD-type methods and Adam-type methods are two
//! panels per κ: Adam's per-coordinate scaling is a different axis from the
//! one ODELoRA changes. A diverged run (non-finite, or loss > 1e3 × initial)
//! counts as an error of 10 (drawn at the top of the axis, never dropped);
//! `summary.csv` counts them.

use odelora_analysis::plot::{Figure, Panel, Series};
use serde::{Deserialize, Serialize};

use super::{
    best_step_sizes, group_runs, kappa_setting, record_runs, render_figure, write_summary, FigureStatus, MethodLine,
    ReproduceContext, SensingGrid, DIVERGED_ERROR,
};
use crate::methods::InitChoice;
use crate::ExperimentError;

const ID: &str = "sensing-stepsize";

/// The figure's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Matrix size n.
    pub n: usize,
    /// Rank r* of the target, also the LoRA rank.
    pub true_rank: usize,
    /// Condition numbers (one row of panels each).
    pub kappas: Vec<f64>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Gradient evaluations every run may use.
    pub eval_budget: u64,
    /// GD-type lines.
    pub gd_lines: Vec<MethodLine>,
    /// Adam-type lines.
    pub adam_lines: Vec<MethodLine>,
}

/// `count` step sizes log-spaced from `lo` to `hi`.
pub fn log_grid(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    (0..count).map(|k| lo * (hi / lo).powf(k as f64 / (count - 1).max(1) as f64)).collect()
}

impl Config {
    /// CI-sized: n = 20, r* = 2, two seeds, κ ∈ {10, 100}.
    pub fn quick() -> Self {
        let gd = log_grid(0.01, 4.0, 9);
        let adam = log_grid(1e-4, 0.3, 7);
        Self {
            n: 20,
            true_rank: 2,
            kappas: vec![10.0, 100.0],
            seeds: vec![0, 1],
            eval_budget: 200,
            gd_lines: gd_lines(&gd),
            adam_lines: adam_lines(&adam),
        }
    }

    /// The study's size: n = 50, r* = 3, five seeds, κ ∈ {1, 10, 100}.
    pub fn full() -> Self {
        let gd = log_grid(0.01, 4.0, 13);
        let adam = log_grid(1e-4, 0.3, 10);
        Self {
            n: 50,
            true_rank: 3,
            kappas: vec![1.0, 10.0, 100.0],
            seeds: (0..5).collect(),
            eval_budget: 300,
            gd_lines: gd_lines(&gd),
            adam_lines: adam_lines(&adam),
        }
    }
}

fn gd_lines(grid: &[f64]) -> Vec<MethodLine> {
    vec![
        MethodLine::new("odelora-euler", InitChoice::Spectral, grid),
        MethodLine::new("odelora-rk4", InitChoice::Spectral, grid),
        MethodLine::new("lora-gd", InitChoice::Spectral, grid),
        MethodLine::new("loraplus-gd", InitChoice::Spectral, grid),
        MethodLine::new("riemannian-gd", InitChoice::Spectral, grid),
        MethodLine::full("full-gd", grid),
        MethodLine::new("lora-gd", InitChoice::Lora, grid),
    ]
}

fn adam_lines(grid: &[f64]) -> Vec<MethodLine> {
    vec![
        MethodLine::new("lora-adam", InitChoice::Spectral, grid),
        MethodLine::new("loraplus-adam", InitChoice::Spectral, grid),
        MethodLine::new("riemannian-adam", InitChoice::Spectral, grid),
        MethodLine::full("full-adam", grid),
        MethodLine::new("lora-adam", InitChoice::Lora, grid),
    ]
}

/// Run every run, write the data and the figure.
pub fn make(ctx: &ReproduceContext) -> Result<FigureStatus, ExperimentError> {
    let config = ctx.config(ID, if ctx.quick { Config::quick() } else { Config::full() })?;
    let Some(figure_run) = ctx.begin(ID, &config)? else { return Ok(FigureStatus::UpToDate) };
    let lines: Vec<&MethodLine> = config.gd_lines.iter().chain(&config.adam_lines).collect();
    let jobs: Vec<(&MethodLine, f64)> = lines.iter().flat_map(|l| l.lrs.iter().map(move |&lr| (*l, lr))).collect();
    let grid = SensingGrid {
        n: config.n,
        true_rank: config.true_rank,
        kappas: &config.kappas,
        seeds: &config.seeds,
        eval_budget: config.eval_budget,
    };
    let runs = grid.runs(ctx, &jobs, ID)?;
    let Some(runs) = record_runs(ID, "matrix-sensing", runs, ctx)? else { return Ok(FigureStatus::Sharded) };
    let groups = group_runs(&runs);
    write_summary(ID, &groups, &best_step_sizes(&groups), ctx)?;

    let mut panels = Vec::new();
    for &kappa in &config.kappas {
        let key = kappa_setting(kappa);
        for (family, family_lines) in [("GD-type", &config.gd_lines), ("Adam-type", &config.adam_lines)] {
            let series = family_lines
                .iter()
                .enumerate()
                .map(|(color, line)| {
                    let curve = line.final_error_by_step_size(&groups, &key);
                    Series::median_band(line.label(), color, line.init == Some(InitChoice::Lora), &curve)
                })
                .collect();
            panels.push(Panel {
                title: format!(
                    "{family}, n={}, r*={}, κ={kappa}, {} evaluations",
                    config.n, config.true_rank, config.eval_budget
                ),
                x_label: "step size (learning rate)".into(),
                y_label: format!("final relative error (diverged = {DIVERGED_ERROR})"),
                log_x: true,
                log_y: true,
                series,
                heatmap: None,
            });
        }
    }
    render_figure(ID, &Figure { panels, columns: 2, panel_size: (620, 440) }, ctx)?;
    figure_run.finish(ctx)
}
