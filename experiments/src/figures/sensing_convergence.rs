//! `sensing-convergence`: relative error of matrix sensing against the
//! iteration and against gradient evaluations, for κ ∈ {1, 10, 100}.
//!
//! Every method gets the same gradient-evaluation budget and its own
//! step-size grid; the curve drawn for a method is its step size with the
//! smallest median final relative error over seeds (see
//! [`best_step_sizes`](super::best_step_sizes)), as a median line with an
//! IQR band. All methods start from the spectral init; LoRA-GD from its own
//! init (B = 0) is a separate, dashed line.

use odelora::problems::{MatrixSensing, MatrixSensingParams};
use odelora_analysis::plot::{Figure, Panel, Series};

use super::{
    best_step_sizes, group_runs, run_parallel, sort_runs, write_runs, write_summary, write_timing, MethodLine,
    ReproduceContext, RunRecord,
};
use crate::methods::{build_method, InitChoice, MethodSettings};
use crate::training::{run, StopRule};
use crate::ExperimentError;

const ID: &str = "sensing-convergence";

/// The figure's configuration.
#[derive(Debug, Clone, PartialEq)]
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
        MethodLine { method: "odelora-euler", init: InitChoice::Spectral, lrs: euler.to_vec() },
        MethodLine { method: "odelora-rk4", init: InitChoice::Spectral, lrs: rk4.to_vec() },
        MethodLine { method: "lora-gd", init: InitChoice::Spectral, lrs: lora.to_vec() },
        MethodLine { method: "lora-gd", init: InitChoice::Lora, lrs: lora.to_vec() },
    ]
}

fn setting(kappa: f64) -> String {
    format!("kappa={kappa}")
}

/// Run every run, write the data and the figure.
pub fn make(ctx: &ReproduceContext) -> Result<(), ExperimentError> {
    let config = if ctx.quick { Config::quick() } else { Config::full() };
    let mut runs = Vec::new();
    for &kappa in &config.kappas {
        for &seed in &config.seeds {
            let params = MatrixSensingParams { kappa, seed, ..MatrixSensingParams::square(config.n, config.true_rank) };
            let instance = MatrixSensing::new(params)?;
            let jobs: Vec<(&MethodLine, f64)> =
                config.lines.iter().flat_map(|line| line.lrs.iter().map(move |&lr| (line, lr))).collect();
            let results = run_parallel(&jobs, |&(line, lr)| -> Result<RunRecord, ExperimentError> {
                let mut objective = instance.clone();
                let settings =
                    MethodSettings { init: Some(line.init), ..MethodSettings::with_lr(lr, config.true_rank) };
                let mut method = build_method(line.method, &settings, &mut objective, seed)?;
                let mut rows = Vec::new();
                let stop = StopRule { steps: config.eval_budget, eval_budget: Some(config.eval_budget) };
                let outcome = run(method.as_mut(), &mut objective, stop, |row, _| rows.push(*row));
                Ok(RunRecord { method: line.method, init: line.init, setting: setting(kappa), lr, seed, rows, outcome })
            });
            for result in results {
                runs.push(result?);
            }
            eprintln!("{ID}: κ = {kappa}, seed {seed}: {} runs done", jobs.len());
        }
    }
    sort_runs(&mut runs);
    write_runs(ID, "matrix-sensing", &runs, ctx)?;
    write_timing(ID, &runs, ctx)?;
    let groups = group_runs(&runs);
    let chosen = best_step_sizes(&groups);
    write_summary(ID, &groups, &chosen, ctx)?;

    let mut panels = Vec::new();
    for (x_label, by_evals) in [("iteration", false), ("gradient evaluations", true)] {
        for &kappa in &config.kappas {
            let key = setting(kappa);
            let series = config
                .lines
                .iter()
                .enumerate()
                .filter_map(|(color, line)| {
                    let g =
                        chosen.iter().find(|g| g.method == line.method && g.init == line.init && g.setting == key)?;
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
                    Some(Series {
                        label: format!("{} ({} init), h={}", line.method, line.init.name(), g.lr),
                        color,
                        dashed: line.init == InitChoice::Lora,
                        points: curve.iter().map(|&(x, _, med, _)| (x, med)).collect(),
                        band: curve.iter().map(|&(x, lo, _, hi)| (x, lo, hi)).collect(),
                    })
                })
                .collect();
            panels.push(Panel {
                title: format!("matrix sensing n={}, r*={}, κ={kappa}", config.n, config.true_rank),
                x_label: x_label.into(),
                y_label: "relative error ‖X−X*‖/‖X*‖".into(),
                log_y: true,
                series,
            });
        }
    }
    let figure = Figure { panels, columns: config.kappas.len(), panel_size: (560, 420) };
    std::fs::create_dir_all(&ctx.figures_dir).map_err(|e| ExperimentError::io(&ctx.figures_dir, e))?;
    figure.render(&ctx.figures_dir.join(format!("{ID}.svg")), &ctx.figures_dir.join(format!("{ID}.png")))?;
    Ok(())
}
