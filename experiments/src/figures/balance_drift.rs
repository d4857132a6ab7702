//! `balance-drift`: the balance gap ‖BᵀB − AAᵀ‖/(‖BᵀB‖ + ‖AAᵀ‖) (SPEC §2)
//! over training on matrix sensing, for Euler, RK4 and adaptive RK45, with
//! and without the stabilisation γ and periodic rebalancing; and the
//! over-parameterized case r > r*, where σ_r(BA) → 0 makes the Gram matrices
//! singular, with the exact field (δ = 0) and with damping.
//!
//! The exact flow keeps the balance; a scheme of order p drifts by O(h^p)
//! per unit time, γ pulls the gap back at rate γ, and rebalancing (the QR +
//! SVD retraction) resets it. One panel per variant; the over-parameterized
//! variants add a panel of the relative error.

use odelora::manifold::{Damping, FieldParams};
use odelora::problems::{MatrixSensing, MatrixSensingParams};
use odelora_analysis::plot::{Figure, Panel, Series};
use serde::{Deserialize, Serialize};

use super::{
    figure_bar, group_runs, record_runs, render_figure, run_jobs, sort_runs, write_summary, FigureStatus, MethodLine,
    ReproduceContext,
};
use crate::methods::{InitChoice, MethodSettings};
use crate::training::{Row, StopRule};
use crate::ExperimentError;

const ID: &str = "balance-drift";

/// One way of running the field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// Setting key and panel title (no commas: it is a CSV field).
    pub label: String,
    /// LoRA rank as a multiple of the target's rank r* (1 = exact rank).
    pub rank_factor: usize,
    /// Balance stabilisation γ.
    pub gamma: f64,
    /// Rebalance every this many steps.
    pub rebalance_every: Option<u64>,
    /// Relative damping c of the Gram inverses (δ = c · tr(M)/r; 0 = exact).
    pub damping: f64,
}

/// The figure's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Matrix size n.
    pub n: usize,
    /// Target rank r*.
    pub true_rank: usize,
    /// Condition number.
    pub kappa: f64,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Steps per run.
    pub steps: u64,
    /// Schemes, each at one step size (RK45: `lrs = [0]`, its own steps at rtol 1e-6).
    pub schemes: Vec<MethodLine>,
    /// Variants.
    pub variants: Vec<Variant>,
}

fn variant(label: &str, rank_factor: usize, gamma: f64, rebalance_every: Option<u64>, damping: f64) -> Variant {
    Variant { label: label.into(), rank_factor, gamma, rebalance_every, damping }
}

impl Config {
    /// CI-sized: n = 20, r* = 2, two seeds, 300 steps.
    pub fn quick() -> Self {
        Self {
            n: 20,
            true_rank: 2,
            kappa: 10.0,
            seeds: vec![0, 1],
            steps: 300,
            schemes: vec![
                MethodLine::new("odelora-euler", InitChoice::Spectral, &[0.5]),
                MethodLine::new("odelora-rk4", InitChoice::Spectral, &[1.0]),
                MethodLine::new("odelora-rk45", InitChoice::Spectral, &[0.0]),
            ],
            variants: vec![
                variant("exact rank", 1, 0.0, None, 1e-12),
                variant("exact rank; γ = 1", 1, 1.0, None, 1e-12),
                variant("exact rank; rebalance every 10", 1, 0.0, Some(10), 1e-12),
                variant("r = 2r*; exact field (δ = 0)", 2, 0.0, None, 0.0),
                variant("r = 2r*; δ = 1e-12·tr(M)/r", 2, 0.0, None, 1e-12),
                variant("r = 2r*; δ = 1e-6·tr(M)/r", 2, 0.0, None, 1e-6),
            ],
        }
    }

    /// The study's size: n = 50, r* = 3, five seeds, 500 steps.
    pub fn full() -> Self {
        Self { n: 50, true_rank: 3, seeds: (0..5).collect(), steps: 500, ..Self::quick() }
    }
}

/// Run every run, write the data and the figure.
pub fn make(ctx: &ReproduceContext) -> Result<FigureStatus, ExperimentError> {
    let config = ctx.config(ID, if ctx.quick { Config::quick() } else { Config::full() })?;
    let Some(figure_run) = ctx.begin(ID, &config)? else { return Ok(FigureStatus::UpToDate) };
    let jobs: Vec<(&Variant, &MethodLine, f64)> = config
        .variants
        .iter()
        .flat_map(|v| config.schemes.iter().flat_map(move |s| s.lrs.iter().map(move |&lr| (v, s, lr))))
        .collect();
    let bar = figure_bar(ID, jobs.len() * config.seeds.len());
    let mut runs = Vec::new();
    for &seed in &config.seeds {
        let params = MatrixSensingParams {
            kappa: config.kappa,
            seed,
            ..MatrixSensingParams::square(config.n, config.true_rank)
        };
        let instance = MatrixSensing::new(params)?;
        runs.extend(run_jobs(ctx, &bar, &jobs, |&(v, scheme, lr)| {
            let mut settings = MethodSettings::with_lr(1.0, v.rank_factor * config.true_rank);
            settings.field = FieldParams::new(Damping::Relative(v.damping), v.gamma)?;
            settings.rebalance_every = v.rebalance_every;
            settings.adaptive.rtol = 1e-6;
            settings.adaptive.atol = 1e-10;
            let stop = StopRule::new(config.steps, None);
            scheme.record_run(lr, &settings, &mut instance.clone(), seed, stop, v.label.clone())
        })?);
    }
    bar.finish_and_clear();
    sort_runs(&mut runs);
    let Some(runs) = record_runs(ID, "matrix-sensing", runs, ctx)? else { return Ok(FigureStatus::Sharded) };
    let groups = group_runs(&runs);
    write_summary(ID, &groups, &[], ctx)?;

    let curves = |v: &Variant, value: fn(&Row) -> f64| -> Vec<Series> {
        config
            .schemes
            .iter()
            .enumerate()
            .filter_map(|(color, scheme)| {
                let g = groups.iter().find(|g| scheme.owns(g) && g.setting == v.label)?;
                let curve = g.median_curve(|row| row.step as f64, value);
                Some(Series::median_band(scheme.method.clone(), color, false, &curve))
            })
            .collect()
    };
    let mut panels = Vec::new();
    for v in &config.variants {
        panels.push(Panel {
            title: format!("balance gap: {}", v.label),
            x_label: "step".into(),
            y_label: "‖BᵀB−AAᵀ‖ / (‖BᵀB‖+‖AAᵀ‖)".into(),
            log_x: false,
            log_y: true,
            series: curves(v, |row| row.balance_gap.unwrap_or(f64::NAN)),
            heatmap: None,
        });
    }
    for v in config.variants.iter().filter(|v| v.rank_factor > 1) {
        panels.push(Panel {
            title: format!("relative error: {}", v.label),
            x_label: "step".into(),
            y_label: "‖X−X*‖/‖X*‖".into(),
            log_x: false,
            log_y: true,
            series: curves(v, |row| row.rel_error),
            heatmap: None,
        });
    }
    render_figure(ID, &Figure { panels, columns: 3, panel_size: (520, 400) }, ctx)?;
    figure_run.finish(ctx)
}
