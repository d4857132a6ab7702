//! One module per figure id of SPEC §6, and what they share: the run
//! record, the output schema, seed statistics and the step-size rule.

mod balance_drift;
mod convex_rate;
mod feature_learning;
mod pinn_curves;
mod pinn_stability;
mod pinn_sweep;
mod rk45_work_precision;
mod sensing_convergence;
mod sensing_stepsize;
mod shards;

pub use shards::{JobMode, Shard};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use odelora_analysis::plot::Figure;
use odelora_analysis::stats::{median, median_iqr};
use odelora_analysis::table::{write_parquet, Column};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::methods::{build_method, method_info, InitChoice, MethodSettings};
use crate::output::{float, optional_float, write_csv, AtomicFile};
use crate::progress::progress_bar;
use crate::training::{run, StopRule};
use crate::training::{Outcome, Row};
use crate::ExperimentError;
use indicatif::ProgressBar;
use odelora::problems::{MatrixSensing, MatrixSensingParams, Objective};
use shards::Ledger;

/// Where a reproduction writes, at which size, and what it may skip.
#[derive(Debug, Clone)]
pub struct ReproduceContext {
    /// `results/`: one folder per figure with its data.
    pub results_dir: PathBuf,
    /// `paper-figures/`: the rendered figures.
    pub figures_dir: PathBuf,
    /// The quick preset (CI-sized) instead of the full one.
    pub quick: bool,
    /// Redo figures whose outputs are up to date.
    pub force: bool,
    /// `--config FILE.toml`: a table per figure id whose keys replace the
    /// preset's.
    pub overrides: toml::Table,
    /// Every run, one shard's (`--shard K/N`), or none (`odelora merge`).
    pub mode: JobMode,
    /// The runs of the figure being made.
    ledger: Arc<Mutex<Ledger>>,
}

/// What happened to a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureStatus {
    /// Its outputs were made now.
    Made,
    /// Its outputs existed for the same configuration.
    UpToDate,
    /// This shard's runs were stored (`odelora merge` draws the figure).
    Sharded,
}

/// A figure id, what it shows, and the function that makes it.
pub struct FigureInfo {
    /// The id (`--only` takes it).
    pub id: &'static str,
    /// One line on what it shows.
    pub description: &'static str,
    /// Runs every run and writes data and figure.
    pub make: fn(&ReproduceContext) -> Result<FigureStatus, ExperimentError>,
}

/// Every figure of SPEC §6 that can be made today, in the order `reproduce` makes them.
pub const FIGURES: &[FigureInfo] = &[
    FigureInfo {
        id: "sensing-convergence",
        description: "matrix sensing: relative error vs iteration and vs gradient evaluations, κ ∈ {1, 10, 100}",
        make: sensing_convergence::make,
    },
    FigureInfo {
        id: "sensing-stepsize",
        description: "matrix sensing: error after a fixed evaluation budget vs step size (stable range per method)",
        make: sensing_stepsize::make,
    },
    FigureInfo {
        id: "convex-rate",
        description: "strongly convex objective: measured contraction per step vs step size, against the flow's rate",
        make: convex_rate::make,
    },
    FigureInfo {
        id: "balance-drift",
        description:
            "balance gap over training for Euler/RK4/RK45, with/without γ and rebalancing; r > r* with/without damping",
        make: balance_drift::make,
    },
    FigureInfo {
        id: "feature-learning",
        description: "width sweep: df and dz_a vs n (log-log, fitted slopes), LoRA+ with λ = 16 and λ = n",
        make: feature_learning::make,
    },
    FigureInfo {
        id: "pinn-curves",
        description: "PINN fine-tuning: loss and relative L2 vs evaluations per PDE and method at its best step size",
        make: pinn_curves::make,
    },
    FigureInfo {
        id: "pinn-stability",
        description:
            "PINN fine-tuning: relative L2 vs step size; fraction of the grid that trains stably (table + heatmap)",
        make: pinn_stability::make,
    },
    FigureInfo {
        id: "rk45-work-precision",
        description: "adaptive RK45: gradient evaluations vs final error over rtol; the step sizes it chose",
        make: rk45_work_precision::make,
    },
];

/// Where step-size figures draw a diverged run's final error.
pub const DIVERGED_ERROR: f64 = 10.0;

/// One method line of a figure: a method from an init, over its own
/// step-size grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodLine {
    /// Method name as the CLI spells it.
    pub method: String,
    /// Initialization (`None`: full fine-tuning, which starts from W0).
    pub init: Option<InitChoice>,
    /// The method's own step-size grid.
    pub lrs: Vec<f64>,
}

impl MethodLine {
    /// A line of `method` from `init` over `lrs`.
    pub fn new(method: &str, init: InitChoice, lrs: &[f64]) -> Self {
        Self { method: method.into(), init: Some(init), lrs: lrs.to_vec() }
    }

    /// A full fine-tuning line (no init).
    pub fn full(method: &str, lrs: &[f64]) -> Self {
        Self { method: method.into(), init: None, lrs: lrs.to_vec() }
    }

    /// Legend label: the method and its init.
    pub fn label(&self) -> String {
        match self.init {
            Some(init) => format!("{} ({} init)", self.method, init.name()),
            None => self.method.clone(),
        }
    }

    /// Final relative error against the step size in `setting`:
    /// `(lr, q25, median, q75)` over seeds, a diverged run counted as
    /// [`DIVERGED_ERROR`] (so it is drawn, at the top, never dropped).
    pub fn final_error_by_step_size(&self, groups: &[Group<'_>], setting: &str) -> Vec<(f64, f64, f64, f64)> {
        groups
            .iter()
            .filter(|g| self.owns(g) && g.setting == setting)
            .filter_map(|g| {
                let finals: Vec<f64> = g.runs.iter().map(|r| r.final_rel_error().min(DIVERGED_ERROR)).collect();
                let (lo, med, hi) = median_iqr(&finals)?;
                Some((g.lr, lo, med, hi))
            })
            .collect()
    }

    /// Whether `group` belongs to this line.
    pub fn owns(&self, group: &Group<'_>) -> bool {
        group.method == self.method.as_str() && group.init == self.init
    }

    /// One run of this line at step size `lr`: the method built from
    /// `settings` (its lr and init replaced by the line's) on `objective`,
    /// every step recorded. `lr = 0` leaves an adaptive method its own first
    /// step (Hairer's rule).
    pub fn record_run(
        &self,
        lr: f64,
        settings: &MethodSettings,
        objective: &mut dyn Objective,
        seed: u64,
        stop: StopRule,
        setting: String,
    ) -> Result<RunRecord, ExperimentError> {
        let method_name = self.method_name()?;
        let settings = MethodSettings { lr: (lr > 0.0).then_some(lr), init: self.init, ..*settings };
        let mut method = build_method(method_name, &settings, objective, seed)?;
        let mut rows = Vec::new();
        let outcome = run(method.as_mut(), objective, stop, |row, _| rows.push(*row));
        Ok(RunRecord { method: method_name, init: self.init, setting, lr, seed, rows, outcome })
    }

    /// The method's name with a static lifetime (validates it).
    pub fn method_name(&self) -> Result<&'static str, ExperimentError> {
        Ok(method_info(&self.method)?.name)
    }
}

/// Make the figures `ids` (every figure when empty) in order, then write
/// `results/manifest.json` (every complete figure's outputs with their
/// SHA-256 and configuration hash) and `results/timing.csv` (wall time and
/// peak memory after each figure of this invocation).
pub fn reproduce(ctx: &ReproduceContext, ids: &[String]) -> Result<(), ExperimentError> {
    for id in ids {
        if !FIGURES.iter().any(|f| f.id == id) {
            let known: Vec<&str> = FIGURES.iter().map(|f| f.id).collect();
            return Err(ExperimentError::Input(format!("unknown figure id '{id}' (known: {})", known.join(", "))));
        }
    }
    let start = std::time::Instant::now();
    let mut made = Vec::new();
    for figure in FIGURES.iter().filter(|f| ids.is_empty() || ids.iter().any(|id| id == f.id)) {
        let figure_start = std::time::Instant::now();
        let status = (figure.make)(ctx)?;
        let seconds = figure_start.elapsed().as_secs_f64();
        let state = match status {
            FigureStatus::Made => "made",
            FigureStatus::UpToDate => "up-to-date",
            FigureStatus::Sharded => "shard-stored",
        };
        eprintln!("{}: {state} in {seconds:.1} s", figure.id);
        made.push(TimingRow {
            figure: figure.id.into(),
            status: state.into(),
            wall_s: seconds,
            peak_rss_mb: peak_memory_mb(),
            config_hash: ctx.recorded_hash(figure.id).unwrap_or_default(),
        });
    }
    let invocation = TimingRow {
        figure: "invocation".into(),
        status: String::new(),
        wall_s: start.elapsed().as_secs_f64(),
        peak_rss_mb: peak_memory_mb(),
        config_hash: String::new(),
    };
    match ctx.mode {
        // A shard leaves the figures, the manifest and the main timing alone.
        JobMode::Shard(shard) => {
            made.push(invocation);
            let path = ctx.shards_dir().join(format!("timing-{}-of-{}.csv", shard.index, shard.count));
            write_csv(&path, TIMING_HEADER, made.iter().map(TimingRow::line))
        }
        JobMode::All | JobMode::Merge => {
            write_timing_table(ctx, made, invocation)?;
            write_manifest(ctx)
        }
    }
}

/// One row of `results/timing.csv`.
#[derive(Debug, Clone, PartialEq)]
struct TimingRow {
    figure: String,
    status: String,
    wall_s: f64,
    peak_rss_mb: Option<f64>,
    config_hash: String,
}

const TIMING_HEADER: &str = "figure,status,wall_s,peak_rss_mb,config_hash";

impl TimingRow {
    fn line(&self) -> String {
        let peak = self.peak_rss_mb.map(|mb| format!("{mb:.1}")).unwrap_or_default();
        format!("{},{},{:.3},{peak},{}", self.figure, self.status, self.wall_s, self.config_hash)
    }

    fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.split(',').collect();
        let [figure, status, wall_s, peak, config_hash] = f.as_slice() else { return None };
        Some(Self {
            figure: figure.to_string(),
            status: status.to_string(),
            wall_s: wall_s.parse().ok()?,
            peak_rss_mb: peak.parse().ok(),
            config_hash: config_hash.to_string(),
        })
    }
}

/// `results/timing.csv`: what making each figure's current outputs cost.
/// A figure made now gets this invocation's wall time and peak memory (the
/// process's peak so far); one made by an earlier invocation keeps that
/// invocation's row while its configuration hash is unchanged (status
/// `made-earlier`), so a full reproduction split over several invocations
/// is still timed in one table. `total` sums the figures' wall times (and
/// takes the largest peak); `invocation` is this process alone.
fn write_timing_table(
    ctx: &ReproduceContext,
    made: Vec<TimingRow>,
    invocation: TimingRow,
) -> Result<(), ExperimentError> {
    let path = ctx.results_dir.join("timing.csv");
    let earlier: Vec<TimingRow> = std::fs::read_to_string(&path)
        .map(|text| text.lines().skip(1).filter_map(TimingRow::parse).collect())
        .unwrap_or_default();
    let mut rows = Vec::new();
    for figure in FIGURES {
        let hash = ctx.recorded_hash(figure.id);
        let now = made.iter().find(|r| r.figure == figure.id && r.status == "made");
        let before = earlier.iter().find(|r| {
            r.figure == figure.id
                && matches!(r.status.as_str(), "made" | "made-earlier")
                && Some(&r.config_hash) == hash.as_ref()
        });
        match (now, before) {
            (Some(row), _) => rows.push(row.clone()),
            (None, Some(row)) => rows.push(TimingRow { status: "made-earlier".into(), ..row.clone() }),
            (None, None) => rows.extend(made.iter().find(|r| r.figure == figure.id).cloned()),
        }
    }
    let total = TimingRow {
        figure: "total".into(),
        status: String::new(),
        wall_s: rows.iter().map(|r| r.wall_s).sum(),
        peak_rss_mb: rows.iter().filter_map(|r| r.peak_rss_mb).reduce(f64::max),
        config_hash: String::new(),
    };
    rows.push(total);
    rows.push(invocation);
    write_csv(&path, TIMING_HEADER, rows.iter().map(TimingRow::line))
}

/// Peak resident memory of this process so far, in MB (`None` where the
/// system does not report it).
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches(" kB").trim().parse::<f64>();
    kb.ok().map(|kb| kb / 1024.0)
}

#[derive(Serialize)]
struct ManifestEntry {
    path: String,
    sha256: String,
    figure: String,
    config_hash: String,
}

/// `results/manifest.json`: every output of every complete figure (its data
/// folder and its images), sorted by path.
fn write_manifest(ctx: &ReproduceContext) -> Result<(), ExperimentError> {
    let mut entries = Vec::new();
    for figure in FIGURES {
        let Some(config_hash) = ctx.recorded_hash(figure.id) else { continue };
        // Every file of the figure's data folder (extra tables included) and its images.
        let data = ctx.results_dir.join(figure.id);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&data)
            .map_err(|e| ExperimentError::io(&data, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        paths.extend(figure_outputs(ctx, figure.id).into_iter().filter(|p| p.is_file() && !p.starts_with(&data)));
        for path in paths {
            entries.push(ManifestEntry {
                sha256: sha256_file(&path)?,
                path: path.display().to_string(),
                figure: figure.id.into(),
                config_hash: config_hash.clone(),
            });
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let text = serde_json::to_string_pretty(&entries).map_err(|e| ExperimentError::Input(e.to_string()))?;
    let mut file = AtomicFile::create(&ctx.results_dir.join("manifest.json"))?;
    file.line(&text)?;
    file.commit()
}

/// The files a figure writes, relative to the results and figures folders.
pub fn figure_outputs(ctx: &ReproduceContext, id: &str) -> Vec<PathBuf> {
    let data = ctx.results_dir.join(id);
    let mut files: Vec<PathBuf> =
        ["runs.csv", "runs.parquet", "summary.csv", "timing.csv"].iter().map(|f| data.join(f)).collect();
    files.push(ctx.figures_dir.join(format!("{id}.svg")));
    files.push(ctx.figures_dir.join(format!("{id}.png")));
    files
}

/// The name of an init in output files (`none` for full fine-tuning).
pub fn init_name(init: Option<InitChoice>) -> &'static str {
    init.map_or("none", InitChoice::name)
}

/// SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> Result<String, ExperimentError> {
    let bytes = std::fs::read(path).map_err(|e| ExperimentError::io(path, e))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// A figure's configuration being made: its hash decides whether the
/// outputs on disk are up to date, and [`finish`](Self::finish) records it
/// once every output is written.
pub struct FigureRun {
    id: &'static str,
    hash: String,
    config: serde_json::Value,
}

/// The record written last into `results/<id>/config.json`.
#[derive(Debug, Serialize, Deserialize)]
struct ConfigRecord {
    id: String,
    config_hash: String,
    quick: bool,
    config: serde_json::Value,
}

impl ReproduceContext {
    /// Every run of the quick or full presets, into `results_dir` and
    /// `figures_dir`, skipping up-to-date figures, no overrides.
    pub fn new(results_dir: PathBuf, figures_dir: PathBuf, quick: bool) -> Self {
        Self {
            results_dir,
            figures_dir,
            quick,
            force: false,
            overrides: toml::Table::new(),
            mode: JobMode::All,
            ledger: Arc::default(),
        }
    }

    /// `results/shards/`: the stored runs of `--shard`.
    pub fn shards_dir(&self) -> PathBuf {
        self.results_dir.join("shards")
    }

    /// Number the runs asked for from now on from 0, stored (in shard and
    /// merge mode) under `results/shards/<store>/`.
    pub fn open_store(&self, store: &str) {
        *self.ledger() = Ledger::new(self.shards_dir().join(store), self.mode);
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The figure's configuration: `preset` with the keys of the `[id]`
    /// table of `--config` replacing its own (unknown keys are an error).
    pub fn config<C: Serialize + DeserializeOwned>(&self, id: &str, preset: C) -> Result<C, ExperimentError> {
        let Some(table) = self.overrides.get(id) else { return Ok(preset) };
        let bad = |e: String| ExperimentError::Input(format!("--config [{id}]: {e}"));
        let toml::Value::Table(overrides) = table else { return Err(bad("must be a table".into())) };
        let mut merged = toml::Table::try_from(&preset).map_err(|e| bad(e.to_string()))?;
        for (key, value) in overrides {
            if !merged.contains_key(key) {
                let known: Vec<&String> = merged.keys().collect();
                return Err(bad(format!("unknown key '{key}' (known: {known:?})")));
            }
            merged.insert(key.clone(), value.clone());
        }
        toml::Value::Table(merged).try_into().map_err(|e: toml::de::Error| bad(e.to_string()))
    }

    /// Start figure `id` with `config`: `None` when its outputs are up to
    /// date (same configuration hash, every file present) and `--force` was
    /// not given. A shard never skips (its records resume instead) and
    /// leaves the figure's outputs alone.
    pub fn begin<C: Serialize>(&self, id: &'static str, config: &C) -> Result<Option<FigureRun>, ExperimentError> {
        let config = serde_json::to_value(config).map_err(|e| ExperimentError::Input(e.to_string()))?;
        let text = format!("{id}\n{}\n{}\n{config}", env!("CARGO_PKG_VERSION"), self.quick);
        let hash = format!("{:x}", Sha256::digest(text.as_bytes()));
        self.open_store(&format!("{id}-{}", &hash[..16]));
        if matches!(self.mode, JobMode::Shard(_)) {
            return Ok(Some(FigureRun { id, hash, config }));
        }
        let record_path = self.results_dir.join(id).join("config.json");
        let recorded = std::fs::read_to_string(&record_path)
            .ok()
            .and_then(|t| serde_json::from_str::<ConfigRecord>(&t).ok())
            .is_some_and(|r| r.config_hash == hash);
        if !self.force && recorded && figure_outputs(self, id).iter().all(|p| p.is_file()) {
            return Ok(None);
        }
        // Forget the old record first: an interrupted run is then never up to date.
        let _ = std::fs::remove_file(&record_path);
        Ok(Some(FigureRun { id, hash, config }))
    }

    /// The configuration hash recorded for figure `id`, if it is complete.
    pub fn recorded_hash(&self, id: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.results_dir.join(id).join("config.json")).ok()?;
        serde_json::from_str::<ConfigRecord>(&text).ok().map(|r| r.config_hash)
    }
}

impl FigureRun {
    /// Record the configuration: the figure is complete.
    pub fn finish(self, ctx: &ReproduceContext) -> Result<FigureStatus, ExperimentError> {
        let record = ConfigRecord { id: self.id.into(), config_hash: self.hash, quick: ctx.quick, config: self.config };
        let text = serde_json::to_string_pretty(&record).map_err(|e| ExperimentError::Input(e.to_string()))?;
        let mut file = AtomicFile::create(&ctx.results_dir.join(self.id).join("config.json"))?;
        file.line(&text)?;
        file.commit()?;
        Ok(FigureStatus::Made)
    }
}

/// Run `jobs` in parallel (outer level; each run is sequential inside, or
/// deterministic in its own parallel parts), advancing `bar` per job and
/// keeping the job order; the first error wins. A shard runs only its own
/// jobs (those it stored before are read back); a merge runs none and
/// reads every record from the shards.
pub fn run_jobs<J: Sync>(
    ctx: &ReproduceContext,
    bar: &ProgressBar,
    jobs: &[J],
    f: impl Fn(&J) -> Result<RunRecord, ExperimentError> + Sync + Send,
) -> Result<Vec<RunRecord>, ExperimentError> {
    let shard = match ctx.mode {
        JobMode::Shard(shard) => Some(shard),
        JobMode::All | JobMode::Merge => None,
    };
    let mut ledger = ctx.ledger();
    let first = ledger.reserve(jobs.len());
    let mut mine = Vec::new();
    for (number, job) in (first..).zip(jobs) {
        if shard.is_none_or(|s| s.owns(number)) {
            mine.push((number, job, ledger.take(number)?));
        }
    }
    if let Some((number, ..)) = mine.iter().find(|m| ctx.mode == JobMode::Merge && m.2.is_none()) {
        return Err(ExperimentError::Input(format!(
            "the shard records in {} lack run {number}: run every shard with the same --quick and --config",
            ledger.store().display()
        )));
    }
    drop(ledger);
    bar.set_length(bar.length().unwrap_or(0).saturating_sub((jobs.len() - mine.len()) as u64));
    let runs: Vec<Result<(usize, RunRecord), ExperimentError>> = mine
        .into_par_iter()
        .map(|(number, job, stored)| {
            let run = stored.map_or_else(|| f(job), Ok);
            bar.inc(1);
            run.map(|r| (number, r))
        })
        .collect();
    let runs: Vec<(usize, RunRecord)> = runs.into_iter().collect::<Result<_, _>>()?;
    if shard.is_some() {
        let mut ledger = ctx.ledger();
        for (number, run) in &runs {
            ledger.keep(*number, run.clone());
        }
    }
    Ok(runs.into_iter().map(|(_, run)| run).collect())
}

/// Matrix-sensing instances of one size, for κ × seeds.
#[derive(Debug, Clone, Copy)]
pub struct SensingGrid<'a> {
    /// Matrix size n.
    pub n: usize,
    /// Target rank r* (and LoRA rank).
    pub true_rank: usize,
    /// Condition numbers.
    pub kappas: &'a [f64],
    /// Seeds.
    pub seeds: &'a [u64],
    /// Evaluations (and steps) of every run.
    pub eval_budget: u64,
}

impl SensingGrid<'_> {
    /// Every job on every instance (κ, seed), setting `kappa=κ`: one instance
    /// per pair, shared by its runs (its operator can be hundreds of MB).
    pub fn runs(
        &self,
        ctx: &ReproduceContext,
        jobs: &[(&MethodLine, f64)],
        id: &str,
    ) -> Result<Vec<RunRecord>, ExperimentError> {
        let bar = figure_bar(id, jobs.len() * self.kappas.len() * self.seeds.len());
        let mut runs = Vec::new();
        for &kappa in self.kappas {
            for &seed in self.seeds {
                let params = MatrixSensingParams { kappa, seed, ..MatrixSensingParams::square(self.n, self.true_rank) };
                let instance = MatrixSensing::new(params)?;
                let settings = MethodSettings::with_lr(1.0, self.true_rank);
                let stop = StopRule::new(self.eval_budget, Some(self.eval_budget));
                runs.extend(run_jobs(ctx, &bar, jobs, |&(line, lr)| {
                    line.record_run(lr, &settings, &mut instance.clone(), seed, stop, kappa_setting(kappa))
                })?);
            }
        }
        bar.finish_and_clear();
        sort_runs(&mut runs);
        Ok(runs)
    }
}

/// The setting key of a condition number.
pub fn kappa_setting(kappa: f64) -> String {
    format!("kappa={kappa}")
}

/// The progress bar of a figure with `runs` runs.
pub fn figure_bar(id: &str, runs: usize) -> ProgressBar {
    progress_bar(runs as u64, id)
}

/// Render `figure` to `paper-figures/<id>.svg` and `.png`.
pub fn render_figure(id: &str, figure: &Figure, ctx: &ReproduceContext) -> Result<(), ExperimentError> {
    std::fs::create_dir_all(&ctx.figures_dir).map_err(|e| ExperimentError::io(&ctx.figures_dir, e))?;
    figure.render(&ctx.figures_dir.join(format!("{id}.svg")), &ctx.figures_dir.join(format!("{id}.png")))?;
    Ok(())
}

/// The record of one run.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Method name.
    pub method: &'static str,
    /// Initialization (`None` for full fine-tuning).
    pub init: Option<InitChoice>,
    /// The figure's own key, e.g. `kappa=10`.
    pub setting: String,
    /// Step size.
    pub lr: f64,
    /// Seed.
    pub seed: u64,
    /// One row per recorded step.
    pub rows: Vec<Row>,
    /// How it ended.
    pub outcome: Outcome,
}

impl RunRecord {
    /// Whether the run diverged (non-finite, or loss > 1e3 × initial).
    pub fn diverged(&self) -> bool {
        matches!(self.outcome, Outcome::Diverged { .. })
    }

    /// Final relative error; +∞ for a diverged run, so it ranks last and is
    /// never dropped.
    pub fn final_rel_error(&self) -> f64 {
        match self.rows.last() {
            Some(row) if !self.diverged() && row.rel_error.is_finite() => row.rel_error,
            _ => f64::INFINITY,
        }
    }

    fn key(&self) -> (&'static str, Option<InitChoice>, &str, f64, u64) {
        (self.method, self.init, &self.setting, self.lr, self.seed)
    }
}

/// Sort runs by (method, init, setting, lr, seed): the order every output
/// file uses, so output does not depend on the thread count.
pub fn sort_runs(runs: &mut [RunRecord]) {
    runs.sort_by(|a, b| {
        let (ka, kb) = (a.key(), b.key());
        ka.0.cmp(kb.0).then(ka.1.cmp(&kb.1)).then(ka.2.cmp(kb.2)).then(ka.3.total_cmp(&kb.3)).then(ka.4.cmp(&kb.4))
    });
}

/// Record a figure's runs: `runs.csv`, `runs.parquet` and `timing.csv`,
/// and the runs back to draw from. A shard instead stores its records for
/// the merge and returns `None`: no figure is drawn from part of the runs.
pub fn record_runs(
    figure: &str,
    problem: &str,
    runs: Vec<RunRecord>,
    ctx: &ReproduceContext,
) -> Result<Option<Vec<RunRecord>>, ExperimentError> {
    if let Some(run) = runs.iter().find(|r| r.setting.contains([',', '"', '\n'])) {
        return Err(ExperimentError::Input(format!(
            "{figure}: the setting '{}' would break the CSV files (no commas, quotes or newlines)",
            run.setting
        )));
    }
    if let JobMode::Shard(shard) = ctx.mode {
        ctx.ledger().write(shard)?;
        return Ok(None);
    }
    write_runs(figure, problem, &runs, ctx)?;
    write_runs_parquet(figure, problem, &runs, ctx)?;
    write_timing(figure, &runs, ctx)?;
    Ok(Some(runs))
}

/// `runs.parquet`: the same table as `runs.csv`, typed (floats as f64,
/// missing balance gaps as nulls).
fn write_runs_parquet(
    figure: &str,
    problem: &str,
    runs: &[RunRecord],
    ctx: &ReproduceContext,
) -> Result<(), ExperimentError> {
    let rows = || runs.iter().flat_map(|run| run.rows.iter().map(move |row| (run, row)));
    let text = |f: &dyn Fn(&RunRecord) -> String| Column::Str(rows().map(|(run, _)| f(run)).collect());
    let num = |f: &dyn Fn(&RunRecord, &Row) -> Option<f64>| Column::F64(rows().map(|(run, row)| f(run, row)).collect());
    let columns = vec![
        ("figure", text(&|_| figure.to_string())),
        ("problem", text(&|_| problem.to_string())),
        ("method", text(&|r| r.method.to_string())),
        ("init", text(&|r| init_name(r.init).to_string())),
        ("lr", num(&|r, _| Some(r.lr))),
        ("seed", Column::U64(rows().map(|(run, _)| run.seed).collect())),
        ("setting", text(&|r| r.setting.clone())),
        ("step", Column::U64(rows().map(|(_, row)| row.step).collect())),
        ("evals", Column::U64(rows().map(|(_, row)| row.evals).collect())),
        ("loss", num(&|_, row| Some(row.loss))),
        ("rel_error", num(&|_, row| Some(row.rel_error))),
        ("balance_gap", num(&|_, row| row.balance_gap)),
        ("h", num(&|_, row| Some(row.h))),
        ("diverged", Column::Bool(rows().map(|(run, _)| run.diverged()).collect())),
    ];
    let path = ctx.results_dir.join(figure).join("runs.parquet");
    let temporary = ctx.results_dir.join(figure).join(".partial.runs.parquet");
    write_parquet(&temporary, columns)?;
    std::fs::rename(&temporary, &path).map_err(|e| ExperimentError::io(&path, e))
}

/// The columns of one recorded step of a run, shared by `runs.csv` and the
/// PINN sweep's cache.
pub const RUN_ROW_COLUMNS: &str = "method,init,lr,seed,setting,step,evals,loss,rel_error,balance_gap,h,diverged";

/// One recorded step in [`RUN_ROW_COLUMNS`], floats with 17 significant digits.
pub fn run_row(run: &RunRecord, row: &Row) -> String {
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{}",
        run.method,
        init_name(run.init),
        float(run.lr),
        run.seed,
        run.setting,
        row.step,
        row.evals,
        float(row.loss),
        float(row.rel_error),
        optional_float(row.balance_gap),
        float(row.h),
        run.diverged()
    )
}

/// `runs.csv` of SPEC §6: one row per run and recorded step.
fn write_runs(figure: &str, problem: &str, runs: &[RunRecord], ctx: &ReproduceContext) -> Result<(), ExperimentError> {
    let header = format!("figure,problem,{RUN_ROW_COLUMNS}");
    let lines =
        runs.iter().flat_map(|run| run.rows.iter().map(move |row| format!("{figure},{problem},{}", run_row(run, row))));
    write_csv(&ctx.results_dir.join(figure).join("runs.csv"), &header, lines)
}

/// `timing.csv`: wall time of each run's steps (kept out of runs.csv so the
/// data files are deterministic).
fn write_timing(figure: &str, runs: &[RunRecord], ctx: &ReproduceContext) -> Result<(), ExperimentError> {
    let header = "method,init,setting,lr,seed,steps,evals,time_s";
    let lines = runs.iter().map(|run| {
        let last = run.rows.last().copied();
        format!(
            "{},{},{},{},{},{},{},{:.6}",
            run.method,
            init_name(run.init),
            run.setting,
            float(run.lr),
            run.seed,
            last.map_or(0, |r| r.step),
            last.map_or(0, |r| r.evals),
            last.map_or(0.0, |r| r.time_s)
        )
    });
    write_csv(&ctx.results_dir.join(figure).join("timing.csv"), header, lines)
}

/// The runs of one (method, init, setting, lr) configuration, over seeds.
pub struct Group<'a> {
    /// Method name.
    pub method: &'static str,
    /// Initialization.
    pub init: Option<InitChoice>,
    /// Setting key.
    pub setting: &'a str,
    /// Step size.
    pub lr: f64,
    /// The seeds' runs.
    pub runs: Vec<&'a RunRecord>,
}

impl Group<'_> {
    /// Median over seeds of the final relative error (diverged = +∞).
    pub fn median_final_error(&self) -> f64 {
        let finals: Vec<f64> = self.runs.iter().map(|r| r.final_rel_error()).collect();
        median(&finals).unwrap_or(f64::INFINITY)
    }

    /// Median and IQR over seeds of `value(row)` at each step index, with the
    /// x coordinate `x(row)` of the first run that has that step. Seeds whose
    /// run stopped earlier (diverged) no longer contribute.
    pub fn median_curve(&self, x: impl Fn(&Row) -> f64, value: impl Fn(&Row) -> f64) -> Vec<(f64, f64, f64, f64)> {
        let longest = self.runs.iter().map(|r| r.rows.len()).max().unwrap_or(0);
        (0..longest)
            .filter_map(|k| {
                let rows: Vec<&Row> = self.runs.iter().filter_map(|r| r.rows.get(k)).collect();
                let values: Vec<f64> = rows.iter().map(|r| value(r)).collect();
                let (q25, med, q75) = median_iqr(&values)?;
                Some((x(rows[0]), q25, med, q75))
            })
            .collect()
    }
}

/// Group sorted runs by (method, init, setting, lr).
pub fn group_runs(runs: &[RunRecord]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for run in runs {
        match groups.last_mut() {
            Some(g) if g.method == run.method && g.init == run.init && g.setting == run.setting && g.lr == run.lr => {
                g.runs.push(run)
            }
            _ => groups.push(Group {
                method: run.method,
                init: run.init,
                setting: &run.setting,
                lr: run.lr,
                runs: vec![run],
            }),
        }
    }
    groups
}

/// The step-size rule of every figure: for each (method, init, setting),
/// the step size with the smallest median final relative error over seeds
/// (diverged runs count as +∞; ties go to the smaller step size).
pub fn best_step_sizes<'a>(groups: &'a [Group<'a>]) -> Vec<&'a Group<'a>> {
    let mut best: Vec<&Group<'_>> = Vec::new();
    for g in groups {
        match best.last_mut() {
            Some(b) if b.method == g.method && b.init == g.init && b.setting == g.setting => {
                if g.median_final_error() < b.median_final_error() {
                    *b = g;
                }
            }
            _ => best.push(g),
        }
    }
    best
}

/// `summary.csv`: one row per (method, init, setting, lr).
pub fn write_summary(
    figure: &str,
    groups: &[Group<'_>],
    chosen: &[&Group<'_>],
    ctx: &ReproduceContext,
) -> Result<(), ExperimentError> {
    let header = "method,init,setting,lr,seeds,diverged,evals,final_rel_error_median,final_rel_error_q25,final_rel_error_q75,chosen";
    let lines = groups.iter().map(|g| {
        let finals: Vec<f64> = g.runs.iter().map(|r| r.final_rel_error()).collect();
        let (q25, med, q75) = median_iqr(&finals).unwrap_or((f64::NAN, f64::NAN, f64::NAN));
        let evals = g.runs.iter().filter_map(|r| r.rows.last()).map(|r| r.evals).max().unwrap_or(0);
        let is_chosen = chosen.iter().any(|c| std::ptr::eq(*c, g));
        format!(
            "{},{},{},{},{},{},{},{},{},{},{}",
            g.method,
            init_name(g.init),
            g.setting,
            float(g.lr),
            g.runs.len(),
            g.runs.iter().filter(|r| r.diverged()).count(),
            evals,
            float(med),
            float(q25),
            float(q75),
            is_chosen
        )
    });
    write_csv(&ctx.results_dir.join(figure).join("summary.csv"), header, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(overrides: &str) -> ReproduceContext {
        let dir = std::env::temp_dir().join(format!("odelora-figures-{}-{}", std::process::id(), overrides.len()));
        ReproduceContext {
            overrides: overrides.parse().unwrap(),
            ..ReproduceContext::new(dir.join("results"), dir.join("figures"), true)
        }
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Toy {
        seeds: Vec<u64>,
        steps: u64,
    }

    #[test]
    fn config_file_replaces_preset_keys_and_rejects_unknown_ones() {
        let preset = Toy { seeds: vec![0, 1, 2], steps: 10 };
        let ctx = context("[toy]\nseeds = [7]\n");
        assert_eq!(ctx.config("toy", preset.clone()).unwrap(), Toy { seeds: vec![7], steps: 10 });
        assert_eq!(ctx.config("other", preset.clone()).unwrap(), preset);
        let err = context("[toy]\nsteeps = 3\n").config("toy", preset).unwrap_err().to_string();
        assert!(err.contains("unknown key 'steeps'"), "{err}");
    }

    #[test]
    fn a_setting_that_would_break_the_csv_is_refused() {
        let ctx = context("");
        let run = |setting: &str| RunRecord {
            method: "lora-gd",
            init: Some(InitChoice::Lora),
            setting: setting.into(),
            lr: 0.1,
            seed: 0,
            rows: Vec::new(),
            outcome: Outcome::Completed,
        };
        let err = record_runs("toy", "none", vec![run("a=1"), run("b, c")], &ctx).unwrap_err().to_string();
        assert!(err.contains("'b, c' would break the CSV"), "{err}");
    }

    #[test]
    fn a_finished_figure_is_up_to_date_until_its_config_or_an_output_changes() {
        let ctx = context("");
        let config = Toy { seeds: vec![0], steps: 1 };
        let run = ctx.begin("toy", &config).unwrap().expect("nothing made yet");
        for path in figure_outputs(&ctx, "toy") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "x").unwrap();
        }
        run.finish(&ctx).unwrap();
        assert!(ctx.begin("toy", &config).unwrap().is_none(), "same config: skipped");
        assert!(ctx.begin("toy", &Toy { steps: 2, ..config.clone() }).unwrap().is_some(), "new config: made");
        // begin() forgot the record, so even the old config is made again.
        assert!(ctx.begin("toy", &config).unwrap().is_some());
        let forced = ReproduceContext { force: true, ..ctx.clone() };
        assert!(forced.begin("toy", &config).unwrap().is_some());
        std::fs::remove_dir_all(ctx.results_dir.parent().unwrap()).unwrap();
    }
}
