//! One module per figure id of SPEC §6, and what they share: the run
//! record, the output schema, seed statistics and the step-size rule.

mod sensing_convergence;

use std::path::PathBuf;

use odelora_analysis::stats::{median, median_iqr};
use rayon::prelude::*;

use crate::methods::InitChoice;
use crate::output::{float, optional_float, write_csv};
use crate::training::{Outcome, Row};
use crate::ExperimentError;

/// Where a reproduction writes, and at which size.
#[derive(Debug, Clone)]
pub struct ReproduceContext {
    /// `results/`: one folder per figure with its data.
    pub results_dir: PathBuf,
    /// `paper-figures/`: the rendered figures.
    pub figures_dir: PathBuf,
    /// The quick preset (CI-sized) instead of the full one.
    pub quick: bool,
}

/// A figure id, what it shows, and the function that makes it.
pub struct FigureInfo {
    /// The id (`--only` takes it).
    pub id: &'static str,
    /// One line on what it shows.
    pub description: &'static str,
    /// Runs every run and writes data and figure.
    pub make: fn(&ReproduceContext) -> Result<(), ExperimentError>,
}

/// Every figure that can be made today.
pub const FIGURES: &[FigureInfo] = &[FigureInfo {
    id: "sensing-convergence",
    description: "matrix sensing: relative error vs iteration and vs gradient evaluations, κ ∈ {1, 10, 100}",
    make: sensing_convergence::make,
}];

/// One method line of a figure: a method from an init, over its own
/// step-size grid.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodLine {
    /// Method name as the CLI spells it.
    pub method: &'static str,
    /// Initialization.
    pub init: InitChoice,
    /// The method's own step-size grid.
    pub lrs: Vec<f64>,
}

/// The record of one run.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Method name.
    pub method: &'static str,
    /// Initialization.
    pub init: InitChoice,
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
    fn diverged(&self) -> bool {
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

    fn key(&self) -> (&'static str, InitChoice, &str, f64, u64) {
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

/// Run `jobs` in parallel (outer-level parallelism; each run is sequential
/// inside), keeping the job order in the result.
pub fn run_parallel<J: Sync, R: Send>(jobs: &[J], f: impl Fn(&J) -> R + Sync + Send) -> Vec<R> {
    jobs.par_iter().map(f).collect()
}

/// `runs.csv` of SPEC §6: one row per run and recorded step.
pub fn write_runs(
    figure: &str,
    problem: &str,
    runs: &[RunRecord],
    ctx: &ReproduceContext,
) -> Result<(), ExperimentError> {
    let header = "figure,problem,method,init,lr,seed,setting,step,evals,loss,rel_error,balance_gap,h,diverged";
    let lines = runs.iter().flat_map(|run| {
        run.rows.iter().map(move |row| {
            format!(
                "{figure},{problem},{},{},{},{},{},{},{},{},{},{},{},{}",
                run.method,
                run.init.name(),
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
        })
    });
    write_csv(&ctx.results_dir.join(figure).join("runs.csv"), header, lines)
}

/// `timing.csv`: wall time of each run's steps (kept out of runs.csv so the
/// data files are deterministic).
pub fn write_timing(figure: &str, runs: &[RunRecord], ctx: &ReproduceContext) -> Result<(), ExperimentError> {
    let header = "method,init,setting,lr,seed,steps,evals,time_s";
    let lines = runs.iter().map(|run| {
        let last = run.rows.last().copied();
        format!(
            "{},{},{},{},{},{},{},{:.6}",
            run.method,
            run.init.name(),
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
    pub init: InitChoice,
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
            g.init.name(),
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
