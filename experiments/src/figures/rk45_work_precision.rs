//! `rk45-work-precision`: adaptive ODELoRA (Dormand–Prince 5(4) with PI
//! control) on matrix sensing — gradient evaluations against the final
//! error as the tolerance rtol varies, beside the fixed-step methods'
//! error-versus-evaluations curves at their best step sizes; and the step
//! sizes (learning rates) it chose over training.
//!
//! Each rtol is one setting (`rtol=…`, with atol = 1e-4 · rtol), run from
//! the spectral init with no `--lr` (Hairer's initial-step rule) until the
//! end time of the flow or the evaluation budget.

use odelora::problems::{MatrixSensing, MatrixSensingParams};
use odelora_analysis::plot::{Figure, Panel, Series};
use odelora_analysis::stats::median_iqr;
use serde::{Deserialize, Serialize};

use super::{
    best_step_sizes, figure_bar, group_runs, record_runs, render_figure, run_jobs, sort_runs, write_summary,
    FigureStatus, MethodLine, ReproduceContext, RunRecord,
};
use crate::methods::{AdaptiveSettings, InitChoice, MethodSettings};
use crate::training::StopRule;
use crate::ExperimentError;

const ID: &str = "rk45-work-precision";

/// The figure's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Matrix size n.
    pub n: usize,
    /// Rank r* (and LoRA rank).
    pub true_rank: usize,
    /// Condition number.
    pub kappa: f64,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Relative tolerances of the adaptive runs.
    pub rtols: Vec<f64>,
    /// End time of the flow.
    pub t_end: f64,
    /// Gradient-evaluation budget of every run.
    pub eval_budget: u64,
    /// Fixed-step references.
    pub fixed_lines: Vec<MethodLine>,
}

impl Config {
    /// CI-sized: n = 20, r* = 2, two seeds.
    pub fn quick() -> Self {
        Self {
            n: 20,
            true_rank: 2,
            kappa: 10.0,
            seeds: vec![0, 1],
            rtols: vec![1e-2, 1e-4, 1e-6, 1e-8],
            t_end: 100.0,
            eval_budget: 3000,
            fixed_lines: fixed_lines(),
        }
    }

    /// The study's size: n = 50, r* = 3, five seeds, rtol 1e-2 … 1e-10.
    pub fn full() -> Self {
        Self {
            n: 50,
            true_rank: 3,
            seeds: (0..5).collect(),
            rtols: vec![1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10],
            t_end: 200.0,
            eval_budget: 6000,
            ..Self::quick()
        }
    }
}

fn fixed_lines() -> Vec<MethodLine> {
    vec![
        MethodLine::new("odelora-euler", InitChoice::Spectral, &[0.25, 0.5, 0.75]),
        MethodLine::new("odelora-rk4", InitChoice::Spectral, &[0.5, 1.0, 1.5]),
    ]
}

const ADAPTIVE: &str = "odelora-rk45";

fn rtol_setting(rtol: f64) -> String {
    format!("rtol={rtol:e}")
}

/// Run every run, write the data and the figure.
pub fn make(ctx: &ReproduceContext) -> Result<FigureStatus, ExperimentError> {
    let config = ctx.config(ID, if ctx.quick { Config::quick() } else { Config::full() })?;
    let Some(figure_run) = ctx.begin(ID, &config)? else { return Ok(FigureStatus::UpToDate) };
    let adaptive = MethodLine::new(ADAPTIVE, InitChoice::Spectral, &[0.0]);
    // (line, lr, rtol): fixed-step lines have no tolerance.
    let mut jobs: Vec<(&MethodLine, f64, Option<f64>)> =
        config.rtols.iter().map(|&t| (&adaptive, 0.0, Some(t))).collect();
    jobs.extend(config.fixed_lines.iter().flat_map(|l| l.lrs.iter().map(move |&lr| (l, lr, None))));
    let bar = figure_bar(ID, jobs.len() * config.seeds.len());
    let mut runs: Vec<RunRecord> = Vec::new();
    for &seed in &config.seeds {
        let params = MatrixSensingParams {
            kappa: config.kappa,
            seed,
            ..MatrixSensingParams::square(config.n, config.true_rank)
        };
        let instance = MatrixSensing::new(params)?;
        runs.extend(run_jobs(ctx, &bar, &jobs, |&(line, lr, rtol)| {
            let mut settings = MethodSettings::with_lr(1.0, config.true_rank);
            let (setting, steps) = match rtol {
                Some(rtol) => {
                    settings.adaptive = AdaptiveSettings { rtol, atol: 1e-4 * rtol, t_end: config.t_end };
                    (rtol_setting(rtol), u64::MAX)
                }
                None => ("fixed".to_string(), config.eval_budget),
            };
            let stop = StopRule::new(steps, Some(config.eval_budget));
            line.record_run(lr, &settings, &mut instance.clone(), seed, stop, setting)
        })?);
    }
    bar.finish_and_clear();
    sort_runs(&mut runs);
    let Some(runs) = record_runs(ID, "matrix-sensing", runs, ctx)? else { return Ok(FigureStatus::Sharded) };
    let groups = group_runs(&runs);
    let chosen = best_step_sizes(&groups);
    write_summary(ID, &groups, &chosen, ctx)?;

    // Work–precision: one point per rtol (median over seeds of the final
    // error and of the evaluations used), and the fixed-step trajectories.
    let mut precision = Vec::new();
    let mut work = Vec::new();
    for &rtol in &config.rtols {
        let key = rtol_setting(rtol);
        let Some(g) = groups.iter().find(|g| g.method == ADAPTIVE && g.setting == key) else { continue };
        let finals: Vec<f64> = g.runs.iter().map(|r| r.final_rel_error()).collect();
        let evals: Vec<f64> = g.runs.iter().filter_map(|r| r.rows.last()).map(|r| r.evals as f64).collect();
        if let (Some((lo, med, hi)), Some((_, evals, _))) = (median_iqr(&finals), median_iqr(&evals)) {
            precision.push((evals, med));
            work.push((evals, lo, hi));
        }
    }
    let mut series = vec![Series {
        label: format!("{ADAPTIVE}, rtol {:e} … {:e}", config.rtols[0], config.rtols[config.rtols.len() - 1]),
        color: 3,
        dashed: false,
        points: precision,
        band: work,
    }];
    for (color, line) in config.fixed_lines.iter().enumerate() {
        if let Some(g) = chosen.iter().find(|g| line.owns(g)) {
            let curve = g.median_curve(|row| row.evals as f64, |row| row.rel_error);
            series.push(Series {
                label: format!("{}, h={}", line.label(), g.lr),
                color,
                dashed: true,
                points: curve.iter().map(|&(x, _, m, _)| (x, m)).collect(),
                band: Vec::new(),
            });
        }
    }
    let title = format!("matrix sensing n={}, r*={}, κ={}", config.n, config.true_rank, config.kappa);
    let work_precision = Panel {
        title: format!("work–precision, {title}"),
        x_label: "gradient evaluations".into(),
        y_label: "relative error (RK45: final, one point per rtol)".into(),
        log_x: true,
        log_y: true,
        series,
        heatmap: None,
    };
    // The step sizes chosen along training, first seed, one line per rtol.
    let first_seed = config.seeds.first().copied().unwrap_or(0);
    let steps = config
        .rtols
        .iter()
        .enumerate()
        .filter_map(|(color, &rtol)| {
            let key = rtol_setting(rtol);
            let run = runs.iter().find(|r| r.method == ADAPTIVE && r.setting == key && r.seed == first_seed)?;
            Some(Series {
                label: format!("rtol {rtol:e}"),
                color,
                dashed: false,
                points: run.rows.iter().skip(1).map(|row| (row.step as f64, row.h)).collect(),
                band: Vec::new(),
            })
        })
        .collect();
    let step_sizes = Panel {
        title: format!("step sizes chosen by {ADAPTIVE} (seed {first_seed})"),
        x_label: "accepted step".into(),
        y_label: "step size h (learning rate)".into(),
        log_x: false,
        log_y: true,
        series: steps,
        heatmap: None,
    };
    render_figure(ID, &Figure { panels: vec![work_precision, step_sizes], columns: 2, panel_size: (620, 440) }, ctx)?;
    figure_run.finish(ctx)
}
