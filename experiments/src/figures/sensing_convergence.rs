//! `sensing-convergence`: relative error of matrix sensing against the
//! iteration and against gradient evaluations, for κ ∈ {1, 10, 100}.
//!
//! Every method gets the same gradient-evaluation budget and its own
//! step-size grid; the curve drawn for a method is its step size with the
//! smallest median final relative error over seeds (see
//! [`best_step_sizes`](super::best_step_sizes)), as a median line with an
//! IQR band. All methods start from the spectral init; LoRA-GD from its own
//! init (B = 0) is a separate, dashed line.

use odelora_analysis::plot::{Figure, Panel, Series};

use serde::{Deserialize, Serialize};

use super::{
    best_step_sizes, group_runs, kappa_setting, record_runs, render_figure, write_summary, FigureStatus, MethodLine,
    ReproduceContext, SensingGrid,
};
use crate::methods::InitChoice;
use crate::ExperimentError;

const ID: &str = "sensing-convergence";

/// The figure's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Matrix size n (square n × n).
    pub n: usize,
    /// Rank r* of the target, also the LoRA rank.
    pub true_rank: usize,
    /// Condition numbers, one column of panels each.
    pub kappas: Vec<f64>,
    /// Seeds: each draws its own instance and init.
    pub seeds: Vec<u64>,
    /// Gradient evaluations every run may use.
    pub eval_budget: u64,
    /// Method lines.
    pub lines: Vec<MethodLine>,
}

impl Config {
    /// CI-sized: n = 30, r* = 3, three seeds.
    pub fn quick() -> Self {
        Self {
            n: 30,
            true_rank: 3,
            kappas: vec![1.0, 10.0, 100.0],
            seeds: (0..3).collect(),
            eval_budget: 600,
            lines: lines(&[0.25, 0.5, 1.0], &[0.5, 1.0, 2.0], &[0.1, 0.2, 0.5, 1.0]),
        }
    }

    /// The study's size: n = 100, r* = 5, five seeds.
    ///
    /// A gradient costs two passes over a 200 MB operator (≈ 26 ms here), so
    /// the budget and the grids are smaller than the quick preset's.
    pub fn full() -> Self {
        Self {
            n: 100,
            true_rank: 5,
            seeds: (0..5).collect(),
            eval_budget: 400,
            lines: lines(&[0.5, 1.0], &[1.0, 2.0], &[0.2, 0.5, 1.0]),
            ..Self::quick()
        }
    }
}

/// ODELoRA-Euler, ODELoRA-RK4 and LoRA-GD from the spectral init, and
/// LoRA-GD from its own init, each over its own step-size grid.
fn lines(euler: &[f64], rk4: &[f64], lora: &[f64]) -> Vec<MethodLine> {
    vec![
        MethodLine::new("odelora-euler", InitChoice::Spectral, euler),
        MethodLine::new("odelora-rk4", InitChoice::Spectral, rk4),
        MethodLine::new("lora-gd", InitChoice::Spectral, lora),
        MethodLine::new("lora-gd", InitChoice::Lora, lora),
    ]
}

/// Run every run, write the data and the figure.
pub fn make(ctx: &ReproduceContext) -> Result<FigureStatus, ExperimentError> {
    let config = ctx.config(ID, if ctx.quick { Config::quick() } else { Config::full() })?;
    let Some(figure_run) = ctx.begin(ID, &config)? else { return Ok(FigureStatus::UpToDate) };
    let jobs: Vec<(&MethodLine, f64)> =
        config.lines.iter().flat_map(|line| line.lrs.iter().map(move |&lr| (line, lr))).collect();
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
    let chosen = best_step_sizes(&groups);
    write_summary(ID, &groups, &chosen, ctx)?;

    let mut panels = Vec::new();
    for (x_label, by_evals) in [("iteration", false), ("gradient evaluations", true)] {
        for &kappa in &config.kappas {
            let key = kappa_setting(kappa);
            let series = config
                .lines
                .iter()
                .enumerate()
                .filter_map(|(color, line)| {
                    let g = chosen.iter().find(|g| line.owns(g) && g.setting == key)?;
                    let curve = g.median_curve(
                        |row| {
                            if by_evals {
                                row.evals as f64
                            } else {
                                row.step as f64
                            }
                        },
                        |row| row.rel_error,
                    );
                    Some(Series::median_band(
                        format!("{}, h={}", line.label(), g.lr),
                        color,
                        line.init == Some(InitChoice::Lora),
                        &curve,
                    ))
                })
                .collect();
            panels.push(Panel {
                title: format!("matrix sensing n={}, r*={}, κ={kappa}", config.n, config.true_rank),
                x_label: x_label.into(),
                y_label: "relative error ‖X−X*‖/‖X*‖".into(),
                log_x: false,
                log_y: true,
                series,
                heatmap: None,
            });
        }
    }
    let figure = Figure { panels, columns: config.kappas.len(), panel_size: (560, 420) };
    render_figure(ID, &figure, ctx)?;
    figure_run.finish(ctx)
}
