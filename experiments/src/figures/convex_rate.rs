//! `convex-rate`: on the strongly convex objective of SPEC §5.2
//! (`L(W) = ½ Σ q_ij (W − W*)_ij²`, q log-uniform in [1, κ_Q], rank W* = r),
//! the measured per-step contraction factor of ‖BA − W*‖ against the step
//! size h = c / L, beside the continuous-time rate `e^{−hμ}` of the flow and
//! the discrete bounds `max_{λ∈[μ,L]} |R(−hλ)|` (Euler `R(z) = 1 + z`; RK4
//! its degree-4 Taylor polynomial), which equal `R(−hμ)` for h ≤ 1/L — the
//! bound of `tests/theorems.rs`.
//!
//! The factor is fitted (`analysis::rates::fit_contraction`) in the window
//! 1e-10 … 1e-4 of the relative error; a run that never enters the window
//! (diverged or too slow) has no factor and is counted in `rates.csv`.

use odelora::problems::{ConvexQuadratic, ConvexQuadraticParams};
use odelora_analysis::plot::{Figure, Panel, Series};
use odelora_analysis::rates::fit_contraction;
use odelora_analysis::stats::median_iqr;
use serde::{Deserialize, Serialize};

use super::{
    figure_bar, group_runs, record_runs, render_figure, run_jobs, sort_runs, write_summary, FigureStatus, MethodLine,
    ReproduceContext, RunRecord,
};
use crate::methods::{InitChoice, MethodSettings};
use crate::output::{float, write_csv};
use crate::training::StopRule;
use crate::ExperimentError;

const ID: &str = "convex-rate";

/// The figure's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Rows of W.
    pub m: usize,
    /// Columns of W.
    pub n: usize,
    /// Rank of W* (and LoRA rank).
    pub rank: usize,
    /// κ_Q of the weights.
    pub kappa_q: f64,
    /// Seeds (one instance each).
    pub seeds: Vec<u64>,
    /// Step sizes as fractions c of 1/L.
    pub fractions: Vec<f64>,
    /// Methods; their `lrs` are ignored (the step is c/L of each instance).
    pub lines: Vec<MethodLine>,
    /// Steps per run.
    pub steps: u64,
}

impl Config {
    /// CI-sized: 12 × 10, rank 2, κ_Q = 10, three seeds.
    pub fn quick() -> Self {
        Self {
            m: 12,
            n: 10,
            rank: 2,
            kappa_q: 10.0,
            seeds: vec![0, 1, 2],
            fractions: vec![0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 1.95],
            lines: vec![
                MethodLine::new("odelora-euler", InitChoice::Spectral, &[]),
                MethodLine::new("odelora-rk4", InitChoice::Spectral, &[]),
                MethodLine::full("full-gd", &[]),
            ],
            steps: 4000,
        }
    }

    /// The study's size: 30 × 30, rank 3, five seeds.
    pub fn full() -> Self {
        Self { m: 30, n: 30, rank: 3, seeds: (0..5).collect(), steps: 6000, ..Self::quick() }
    }
}

fn setting(c: f64) -> String {
    format!("c={c}")
}

/// `R(z)` of a method: Euler and full GD `1 + z`, RK4 `Σ_{k≤4} z^k/k!`.
fn stability_polynomial(method: &str, z: f64) -> f64 {
    let order = if method == "odelora-rk4" { 4 } else { 1 };
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..=order {
        term *= z / f64::from(k);
        sum += term;
    }
    sum
}

/// The fitted contraction of one run (None outside the window).
fn run_factor(run: &RunRecord) -> Option<f64> {
    let x: Vec<f64> = run.rows.iter().map(|r| r.step as f64).collect();
    let e: Vec<f64> = run.rows.iter().map(|r| r.rel_error).collect();
    let fit = fit_contraction(&x, &e, 1e-10, 1e-4)?;
    (!run.diverged() && fit.window.1 > fit.window.0 + 3).then_some(fit.factor)
}

/// Run every run, write the data and the figure.
pub fn make(ctx: &ReproduceContext) -> Result<FigureStatus, ExperimentError> {
    let config = ctx.config(ID, if ctx.quick { Config::quick() } else { Config::full() })?;
    let Some(figure_run) = ctx.begin(ID, &config)? else { return Ok(FigureStatus::UpToDate) };
    let jobs: Vec<(&MethodLine, f64)> =
        config.lines.iter().flat_map(|l| config.fractions.iter().map(move |&c| (l, c))).collect();
    let bar = figure_bar(ID, jobs.len() * config.seeds.len());
    let mut runs = Vec::new();
    // (seed, μ, L) of each instance, for the bounds.
    let mut constants = Vec::new();
    for &seed in &config.seeds {
        let params =
            ConvexQuadraticParams { m: config.m, n: config.n, rank: config.rank, kappa_q: config.kappa_q, seed };
        let instance = ConvexQuadratic::new(params)?;
        let (mu, lip) = (instance.mu(), instance.lipschitz());
        constants.push((seed, mu, lip));
        let settings = MethodSettings::with_lr(1.0, config.rank);
        let stop = StopRule::new(config.steps, None);
        runs.extend(run_jobs(ctx, &bar, &jobs, |&(line, c)| {
            line.record_run(c / lip, &settings, &mut instance.clone(), seed, stop, setting(c))
        })?);
    }
    bar.finish_and_clear();
    sort_runs(&mut runs);
    let Some(runs) = record_runs(ID, "convex-quadratic", runs, ctx)? else { return Ok(FigureStatus::Sharded) };
    let groups = group_runs(&runs);
    write_summary(ID, &groups, &[], ctx)?;

    // rates.csv: every run's factor beside its bounds.
    let constant = |seed| constants.iter().find(|c| c.0 == seed).map_or((f64::NAN, f64::NAN), |c| (c.1, c.2));
    let lines = runs.iter().map(|r| {
        let (mu, lip) = constant(r.seed);
        let z = -r.lr * mu;
        format!(
            "{},{},{},{},{},{},{},{},{}",
            r.method,
            r.setting,
            r.seed,
            float(r.lr),
            float(mu),
            float(lip),
            run_factor(r).map(float).unwrap_or_default(),
            float(stability_polynomial(r.method, z)),
            float(z.exp())
        )
    });
    let header = "method,setting,seed,h,mu,L,contraction,R(-h*mu),flow_exp(-h*mu)";
    write_csv(&ctx.results_dir.join(ID).join("rates.csv"), header, lines)?;

    // Medians over seeds against c; the bounds at the median μ/L.
    let ratios: Vec<f64> = constants.iter().map(|c| c.1 / c.2).collect();
    let ratio = median_iqr(&ratios).map_or(f64::NAN, |m| m.1);
    let mut series: Vec<Series> = config
        .lines
        .iter()
        .enumerate()
        .map(|(color, line)| {
            let curve: Vec<(f64, f64, f64, f64)> = config
                .fractions
                .iter()
                .filter_map(|&c| {
                    let key = setting(c);
                    let g = groups.iter().find(|g| line.owns(g) && g.setting == key)?;
                    let factors: Vec<f64> = g.runs.iter().filter_map(|r| run_factor(r)).collect();
                    let (lo, med, hi) = median_iqr(&factors)?;
                    Some((c, lo, med, hi))
                })
                .collect();
            Series::median_band(format!("{}, measured", line.label()), color, false, &curve)
        })
        .collect();
    let fine: Vec<f64> = (1..=100).map(|k| 2.0 * k as f64 / 100.0).collect();
    // The linearised step contracts by max over the curvatures λ ∈ [μ, L] of
    // |R(−hλ)|: R(−hμ) for h ≤ 1/L, and the top of the spectrum beyond.
    let bound = |method: &'static str| {
        fine.iter()
            .map(|&c| {
                let worst = (0..=200)
                    .map(|k| ratio + (1.0 - ratio) * k as f64 / 200.0)
                    .map(|lambda_over_l| stability_polynomial(method, -c * lambda_over_l).abs())
                    .fold(0.0, f64::max);
                (c, worst)
            })
            .collect::<Vec<_>>()
    };
    let flow = fine.iter().map(|&c| (c, (-c * ratio).exp())).collect::<Vec<_>>();
    for (label, color, points) in [
        ("flow e^(−hμ)", 7, flow),
        ("bound max|1 − hλ|, λ∈[μ,L] (Euler, GD)", 0, bound("odelora-euler")),
        ("bound max|R4(−hλ)|, λ∈[μ,L] (RK4)", 1, bound("odelora-rk4")),
    ] {
        series.push(Series { label: label.into(), color, dashed: true, points, band: Vec::new() });
    }
    let panel = Panel {
        title: format!(
            "strongly convex, {}×{}, rank {}, κ_Q = {} (median μ/L = {ratio:.3})",
            config.m, config.n, config.rank, config.kappa_q
        ),
        x_label: "step size h · L".into(),
        y_label: "contraction of ‖BA − W*‖ per step".into(),
        log_x: false,
        log_y: false,
        series,
        heatmap: None,
    };
    render_figure(ID, &Figure { panels: vec![panel], columns: 1, panel_size: (760, 520) }, ctx)?;
    figure_run.finish(ctx)
}
