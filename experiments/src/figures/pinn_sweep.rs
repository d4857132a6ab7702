//! The PINN fine-tuning sweep behind `pinn-curves` and `pinn-stability`:
//! every method over its own step-size grid on every PDE of SPEC §5.4, from
//! the same pretrained network, at the same gradient-evaluation budget.
//!
//! Protocol: for each PDE, a network pretrained with Adam on the source
//! parameter (seed 0, cached in `results/cache/`, shared by every method and
//! seed); each seed then draws its own collocation points at the target
//! parameter and its own LoRA init, and every method fine-tunes LoRA
//! adapters on the hidden-to-hidden weights, starting equal to the
//! pretrained network (`preserve_base`). The sweep's runs are cached under
//! its configuration hash, so the two figures share one sweep.

use odelora::problems::pinn::{Adapted, Architecture, PdeKind, Pinn, PinnParams};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::shards::{read_records, write_records};
use super::{
    figure_bar, record_runs, run_jobs, sort_runs, FigureRun, FigureStatus, JobMode, MethodLine, ReproduceContext,
    RunRecord,
};
use crate::methods::{InitChoice, MethodSettings};
use crate::pinn::{cache_dir, pretrained_network, Pretraining};
use crate::progress::progress_bar;
use crate::training::StopRule;
use crate::ExperimentError;

/// The sweep's configuration (shared by both PINN figures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepConfig {
    /// PDE ids.
    pub pdes: Vec<String>,
    /// Hidden layers.
    pub depth: usize,
    /// Units per hidden layer.
    pub width: usize,
    /// Interior collocation points.
    pub points: usize,
    /// Adam steps of pretraining.
    pub pretrain_steps: u64,
    /// Adam learning rate of pretraining.
    pub pretrain_lr: f64,
    /// LoRA rank.
    pub rank: usize,
    /// Fine-tuning seeds (collocation points and LoRA init).
    pub seeds: Vec<u64>,
    /// Gradient evaluations of every fine-tuning run.
    pub eval_budget: u64,
    /// Record every this many steps (the test-grid error costs more than a
    /// gradient evaluation).
    pub record_every: u64,
    /// GD-type methods with their grids.
    pub gd_lines: Vec<MethodLine>,
    /// Adam-type methods with their grids.
    pub adam_lines: Vec<MethodLine>,
}

impl SweepConfig {
    /// CI-sized: a 3 × 16 network, 256 points, 1000 pretraining steps,
    /// 60 evaluations, two seeds, two step sizes per method.
    pub fn quick() -> Self {
        Self {
            pdes: PdeKind::ALL.iter().map(|k| k.name().to_string()).collect(),
            depth: 3,
            width: 16,
            points: 256,
            pretrain_steps: 1000,
            pretrain_lr: 3e-3,
            rank: 4,
            seeds: vec![0, 1],
            eval_budget: 60,
            record_every: 5,
            gd_lines: gd_lines(&[1e-2, 1e-1]),
            adam_lines: adam_lines(&[1e-3, 1e-2]),
        }
    }

    /// The study's size (SPEC §5.4): 4 × 50, 2000 points, 5000 pretraining
    /// steps, 300 evaluations, five seeds, three step sizes per method.
    ///
    /// One loss-and-gradient costs ≈ 36 ms on one core and the test-grid
    /// error ≈ 1.5 times that, so the 4 × 125 runs take ≈ 50 minutes on two
    /// cores after pretraining (4 × ≈ 4 minutes, cached).
    pub fn full() -> Self {
        Self {
            depth: 4,
            width: 50,
            points: 2000,
            pretrain_steps: 5000,
            pretrain_lr: 1e-3,
            seeds: (0..5).collect(),
            eval_budget: 300,
            record_every: 15,
            gd_lines: gd_lines(&[1e-3, 1e-2, 1e-1]),
            adam_lines: adam_lines(&[1e-4, 1e-3, 1e-2]),
            ..Self::quick()
        }
    }

    /// Every line, GD-type first.
    pub fn lines(&self) -> impl Iterator<Item = &MethodLine> {
        self.gd_lines.iter().chain(&self.adam_lines)
    }

    fn pde_kinds(&self) -> Result<Vec<PdeKind>, ExperimentError> {
        Ok(self.pdes.iter().map(|p| PdeKind::from_name(p)).collect::<Result<_, _>>()?)
    }

    fn source(&self, pde: PdeKind) -> PinnParams {
        PinnParams {
            pde,
            parameter: pde.source_parameter(),
            architecture: Architecture { depth: self.depth, width: self.width },
            points: self.points,
            seed: 0,
        }
    }
}

fn gd_lines(grid: &[f64]) -> Vec<MethodLine> {
    vec![
        MethodLine::new("odelora-euler", InitChoice::Spectral, grid),
        MethodLine::new("odelora-rk4", InitChoice::Spectral, grid),
        MethodLine::new("odelora-rk45", InitChoice::Spectral, &[0.0]),
        MethodLine::new("lora-gd", InitChoice::Lora, grid),
        MethodLine::new("loraplus-gd", InitChoice::Lora, grid),
        MethodLine::new("riemannian-gd", InitChoice::Lora, grid),
    ]
}

fn adam_lines(grid: &[f64]) -> Vec<MethodLine> {
    vec![
        MethodLine::new("lora-adam", InitChoice::Lora, grid),
        MethodLine::new("loraplus-adam", InitChoice::Lora, grid),
        MethodLine::new("riemannian-adam", InitChoice::Lora, grid),
    ]
}

/// The configuration of a figure drawn from the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepFigureConfig {
    /// The shared sweep.
    pub sweep: SweepConfig,
}

/// A figure of the sweep, ready to draw or already done.
pub enum SweepFigure {
    /// Its configuration and runs, with `runs.csv`, `runs.parquet` and
    /// `timing.csv` written.
    Draw(FigureRun, SweepConfig, Vec<RunRecord>),
    /// Nothing to draw: up to date, or a shard's runs stored.
    Done(FigureStatus),
}

/// Start figure `id` of the sweep (its runs from the sweep's cache when the
/// other PINN figure ran it).
pub fn begin_sweep_figure(ctx: &ReproduceContext, id: &'static str) -> Result<SweepFigure, ExperimentError> {
    let preset = SweepFigureConfig { sweep: if ctx.quick { SweepConfig::quick() } else { SweepConfig::full() } };
    let config = ctx.config(id, preset)?;
    let Some(figure_run) = ctx.begin(id, &config)? else { return Ok(SweepFigure::Done(FigureStatus::UpToDate)) };
    let runs = sweep_runs(ctx, &config.sweep, id)?;
    let Some(runs) = record_runs(id, "pinn", runs, ctx)? else { return Ok(SweepFigure::Done(FigureStatus::Sharded)) };
    Ok(SweepFigure::Draw(figure_run, config.sweep, runs))
}

/// The setting key of a PDE.
pub fn pde_setting(pde: &str) -> String {
    format!("pde={pde}")
}

/// The sweep's runs: from its cache when a previous figure ran the same
/// configuration, else run now (and cached). Both figures share one shard
/// store, so a shard runs the sweep once.
pub fn sweep_runs(ctx: &ReproduceContext, config: &SweepConfig, id: &str) -> Result<Vec<RunRecord>, ExperimentError> {
    let text = serde_json::to_string(config).map_err(|e| ExperimentError::Input(e.to_string()))?;
    let hash = format!("{:x}", Sha256::digest(format!("{}\n{text}", env!("CARGO_PKG_VERSION")).as_bytes()));
    let name = format!("pinn-sweep-{}", &hash[..16]);
    ctx.open_store(&name);
    let sharded = matches!(ctx.mode, JobMode::Shard(_));
    let path = cache_dir(&ctx.results_dir).join(format!("{name}.csv"));
    if let Some(runs) = read_records(&path).filter(|_| !sharded) {
        return Ok(runs.into_iter().map(|(_, run)| run).collect());
    }
    let kinds = config.pde_kinds()?;
    let jobs: Vec<(&MethodLine, f64, u64)> = config
        .lines()
        .flat_map(|l| l.lrs.iter().flat_map(move |&lr| config.seeds.iter().map(move |&s| (l, lr, s))))
        .collect();
    let mut runs = Vec::new();
    for pde in kinds {
        let source = config.source(pde);
        let pretraining = Pretraining { steps: config.pretrain_steps, lr: config.pretrain_lr };
        let bar = progress_bar(config.pretrain_steps, &format!("{id}: pretraining {}", pde.name()));
        let pretrained =
            pretrained_network(&source, pretraining, &cache_dir(&ctx.results_dir), |d| bar.set_position(d))?;
        bar.finish_and_clear();
        eprintln!(
            "{id}: {} pretrained at {} = {:.5}: rel_error {:.3e}{}",
            pde.name(),
            pde.parameter_name(),
            source.parameter,
            pretrained.rel_error,
            if pretrained.cached { " (cached)" } else { "" }
        );
        let targets = config
            .seeds
            .iter()
            .map(|&seed| {
                let target = Pinn::new(PinnParams { parameter: pde.target_parameter(), seed, ..source })?;
                Ok((seed, target.adapting(pretrained.network.clone(), Adapted::HiddenToHidden)?))
            })
            .collect::<Result<Vec<_>, ExperimentError>>()?;
        let mut settings = MethodSettings::with_lr(1.0, config.rank);
        settings.preserve_base = true;
        let stop = StopRule::new(config.eval_budget, Some(config.eval_budget)).recording_every(config.record_every);
        let bar = figure_bar(&format!("{id}: {}", pde.name()), jobs.len());
        runs.extend(run_jobs(ctx, &bar, &jobs, |&(line, lr, seed)| {
            let mut objective = targets
                .iter()
                .find(|t| t.0 == seed)
                .map(|t| t.1.clone())
                .ok_or_else(|| ExperimentError::Input(format!("no target problem for seed {seed}")))?;
            line.record_run(lr, &settings, &mut objective, seed, stop, pde_setting(pde.name()))
        })?);
        bar.finish_and_clear();
    }
    sort_runs(&mut runs);
    if !sharded {
        write_records(&path, runs.iter().enumerate())?;
    }
    Ok(runs)
}

/// Whether a run trained stably (SPEC §6): it did not diverge, and its loss
/// rose between consecutive recorded steps on at most 1% of them (with
/// fewer than 100 recorded intervals: never).
pub fn is_stable(run: &RunRecord) -> bool {
    let steps = run.rows.len().saturating_sub(1);
    let rises = run.rows.windows(2).filter(|w| w[1].loss > w[0].loss).count();
    !run.diverged() && steps > 0 && rises as f64 <= 0.01 * steps as f64
}
