//! Splitting a reproduction over machines: `--shard K/N` runs the K-th of N
//! deterministic parts of every figure's runs and stores their records;
//! `odelora merge` reads every part back and draws the figures.
//!
//! A figure's runs are numbered in the order the figure asks for them (its
//! job lists depend only on its configuration), and shard K takes the runs
//! whose number is K − 1 modulo N. Records are stored per *store*: a figure's
//! id and configuration hash (or the PINN sweep's hash, shared by its two
//! figures), in `results/shards/<store>/K-of-N.csv`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{run_row, RunRecord, RUN_ROW_COLUMNS};
use crate::methods::{method_info, InitChoice};
use crate::output::{float, write_csv};
use crate::training::{Outcome, Row};
use crate::ExperimentError;

/// `--shard K/N`: part K (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, in `1..=count`.
    pub index: usize,
    /// N.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("--shard takes K/N with 1 <= K <= N (e.g. 2/8), got '{text}'");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    /// Whether run number `job` of a figure belongs to this shard.
    pub fn owns(&self, job: usize) -> bool {
        job % self.count == self.index - 1
    }

    fn file_name(&self) -> String {
        format!("{}-of-{}.csv", self.index, self.count)
    }
}

/// Which runs an invocation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobMode {
    /// Every run, then the figures (`odelora reproduce`).
    #[default]
    All,
    /// This shard's runs, stored for a later merge; no figures.
    Shard(Shard),
    /// No runs: every record from the shard files, then the figures
    /// (`odelora merge`).
    Merge,
}

/// The runs of the figure being made: how many it has asked for, and the
/// records read from or written to its store.
#[derive(Debug, Default)]
pub struct Ledger {
    store: PathBuf,
    mode: JobMode,
    next: usize,
    /// Read on first use, so a figure that asks for no runs (the PINN
    /// sweep from its cache) never needs its store.
    stored: Option<BTreeMap<usize, RunRecord>>,
    mine: Vec<(usize, RunRecord)>,
}

impl Ledger {
    /// A ledger for `store` (a folder under `results/shards/`).
    pub fn new(store: PathBuf, mode: JobMode) -> Self {
        Self { store, mode, ..Self::default() }
    }

    /// Number the next `count` runs: the first number.
    pub fn reserve(&mut self, count: usize) -> usize {
        self.next += count;
        self.next - count
    }

    /// The stored record of run `job`, if any (taken out): in shard mode
    /// from this shard's earlier file (a re-run resumes), in merge mode from
    /// every shard's (an error if one is missing or malformed).
    pub fn take(&mut self, job: usize) -> Result<Option<RunRecord>, ExperimentError> {
        if self.stored.is_none() {
            self.stored = Some(match self.mode {
                JobMode::All => BTreeMap::new(),
                JobMode::Shard(shard) => {
                    read_records(&self.store.join(shard.file_name())).unwrap_or_default().into_iter().collect()
                }
                JobMode::Merge => read_all_shards(&self.store)?,
            });
        }
        Ok(self.stored.as_mut().and_then(|stored| stored.remove(&job)))
    }

    /// Remember run `job` for this shard's file.
    pub fn keep(&mut self, job: usize, record: RunRecord) {
        self.mine.push((job, record));
    }

    /// Write this shard's records (sorted by run number).
    pub fn write(&mut self, shard: Shard) -> Result<(), ExperimentError> {
        self.mine.sort_by_key(|(job, _)| *job);
        write_records(&self.store.join(shard.file_name()), self.mine.iter().map(|(job, r)| (*job, r)))
    }

    /// The store's folder.
    pub fn store(&self) -> &Path {
        &self.store
    }
}

/// Every shard's records in `store`: files `K-of-N.csv` for one N and every
/// K in 1..=N, each run number once.
fn read_all_shards(store: &Path) -> Result<BTreeMap<usize, RunRecord>, ExperimentError> {
    let hint = "run `odelora reproduce --shard K/N` for every K with the same --quick and --config first";
    let entries = std::fs::read_dir(store)
        .map_err(|_| ExperimentError::Input(format!("no shard records in {}: {hint}", store.display())))?;
    let mut shards: Vec<(Shard, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.strip_suffix(".csv")?.to_string();
            let shard: Shard = name.replace("-of-", "/").parse().ok()?;
            Some((shard, path))
        })
        .collect();
    shards.sort_by_key(|(s, _)| (s.count, s.index));
    let Some(count) = shards.first().map(|(s, _)| s.count) else {
        return Err(ExperimentError::Input(format!("no shard records in {}: {hint}", store.display())));
    };
    if shards.iter().any(|(s, _)| s.count != count) {
        return Err(ExperimentError::Input(format!(
            "{} holds shards of different splits (N); keep one split: {hint}",
            store.display()
        )));
    }
    let missing: Vec<String> =
        (1..=count).filter(|k| !shards.iter().any(|(s, _)| s.index == *k)).map(|k| format!("{k}/{count}")).collect();
    if !missing.is_empty() {
        return Err(ExperimentError::Input(format!(
            "{} lacks shard(s) {}: {hint}",
            store.display(),
            missing.join(", ")
        )));
    }
    let mut records = BTreeMap::new();
    for (shard, path) in shards {
        let runs = read_records(&path).ok_or_else(|| {
            ExperimentError::Input(format!(
                "{} is malformed: delete it and run `odelora reproduce --shard {}/{}` again",
                path.display(),
                shard.index,
                shard.count
            ))
        })?;
        for (job, run) in runs {
            if !shard.owns(job) || records.insert(job, run).is_some() {
                return Err(ExperimentError::Input(format!(
                    "{} holds run {job}, which belongs to another shard",
                    path.display()
                )));
            }
        }
    }
    Ok(records)
}

/// The header of a records file: the run number, the columns of `runs.csv`,
/// how the run ended and each step's wall time.
fn records_header() -> String {
    format!("job,{RUN_ROW_COLUMNS},outcome,time_s")
}

/// Write numbered records, one line per recorded step (floats round-trip),
/// and a last line `end,<lines>` so that a damaged file is never read.
pub fn write_records<'a>(
    path: &Path,
    records: impl Iterator<Item = (usize, &'a RunRecord)>,
) -> Result<(), ExperimentError> {
    let mut lines: Vec<String> = records
        .flat_map(|(job, run)| {
            run.rows.iter().map(move |row| {
                format!("{job},{},{},{}", run_row(run, row), outcome_field(run.outcome), float(row.time_s))
            })
        })
        .collect();
    lines.push(format!("end,{}", lines.len()));
    write_csv(path, &records_header(), lines)
}

fn outcome_field(outcome: Outcome) -> String {
    match outcome {
        Outcome::Diverged { step } => format!("diverged@{step}"),
        other => other.name().to_string(),
    }
}

fn parse_outcome(field: &str) -> Option<Outcome> {
    if let Some(step) = field.strip_prefix("diverged@") {
        return Some(Outcome::Diverged { step: step.parse().ok()? });
    }
    [Outcome::Completed, Outcome::Budget, Outcome::Reached, Outcome::StepTooSmall]
        .into_iter()
        .find(|o| o.name() == field)
}

/// Read a records file; `None` if it is missing or malformed.
pub fn read_records(path: &Path) -> Option<Vec<(usize, RunRecord)>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    if lines.next()? != records_header() {
        return None;
    }
    let mut lines: Vec<&str> = lines.collect();
    let count: usize = lines.pop()?.strip_prefix("end,")?.parse().ok()?;
    if count != lines.len() {
        return None;
    }
    let mut runs: Vec<(usize, RunRecord)> = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 15 {
            return None;
        }
        let job: usize = f[0].parse().ok()?;
        let row = Row {
            step: f[6].parse().ok()?,
            evals: f[7].parse().ok()?,
            loss: f[8].parse().ok()?,
            rel_error: f[9].parse().ok()?,
            balance_gap: if f[10].is_empty() { None } else { Some(f[10].parse().ok()?) },
            h: f[11].parse().ok()?,
            time_s: f[14].parse().ok()?,
        };
        if runs.last().is_none_or(|(last, _)| *last != job) {
            let init = match f[2] {
                "none" => None,
                name => Some(InitChoice::ALL.iter().copied().find(|i| i.name() == name)?),
            };
            let record = RunRecord {
                method: method_info(f[1]).ok()?.name,
                init,
                lr: f[3].parse().ok()?,
                seed: f[4].parse().ok()?,
                setting: f[5].into(),
                rows: Vec::new(),
                outcome: parse_outcome(f[13])?,
            };
            runs.push((job, record));
        }
        runs.last_mut()?.1.rows.push(row);
    }
    Some(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_and_partition_the_runs() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", ""] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains("K/N"), "{bad}: {err}");
        }
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        for job in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.owns(job)).count(), 1, "job {job} in exactly one shard");
        }
    }

    fn record(method: &str, outcome: Outcome, steps: u64) -> RunRecord {
        let rows = (0..steps)
            .map(|k| Row {
                step: k,
                evals: 2 * k,
                loss: 1.0 / (k as f64 + 3.0),
                rel_error: 0.1 / (k as f64 + 1.0),
                balance_gap: (k % 2 == 0).then_some(1e-17 * k as f64),
                h: 0.25,
                time_s: 1e-3 * k as f64,
            })
            .collect();
        RunRecord {
            method: method_info(method).unwrap().name,
            init: if method.starts_with("full") { None } else { Some(InitChoice::Lora) },
            setting: "kappa=10".into(),
            lr: 0.1,
            seed: 3,
            rows,
            outcome,
        }
    }

    #[test]
    fn records_round_trip_with_their_outcomes_and_malformed_files_are_rejected() {
        let dir = std::env::temp_dir().join(format!("odelora-shards-{}", std::process::id()));
        let path = dir.join("1-of-2.csv");
        let runs = [
            (0, record("lora-gd", Outcome::Completed, 3)),
            (2, record("full-adam", Outcome::Diverged { step: 1 }, 2)),
            (4, record("odelora-rk45", Outcome::StepTooSmall, 1)),
        ];
        write_records(&path, runs.iter().map(|(j, r)| (*j, r))).unwrap();
        let back = read_records(&path).unwrap();
        assert_eq!(back.len(), 3);
        for ((j, a), (k, b)) in runs.iter().zip(&back) {
            assert_eq!(j, k);
            assert_eq!((a.method, a.init, &a.setting, a.lr, a.seed), (b.method, b.init, &b.setting, b.lr, b.seed));
            assert_eq!(a.outcome, b.outcome);
            assert_eq!(a.rows, b.rows);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let damaged = [
            text[..text.len() - 3].to_string(),
            text.lines().filter(|l| !l.starts_with("2,")).collect::<Vec<_>>().join("\n"),
            text.replacen("lora-gd", "lora-xx", 1),
        ];
        for bad in damaged {
            std::fs::write(&path, bad).unwrap();
            assert!(read_records(&path).is_none(), "a damaged file is rejected");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn merging_needs_every_shard_of_one_split() {
        let dir = std::env::temp_dir().join(format!("odelora-merge-{}", std::process::id()));
        let write = |name: &str, jobs: &[usize]| {
            let runs: Vec<(usize, RunRecord)> =
                jobs.iter().map(|&j| (j, record("lora-gd", Outcome::Budget, 2))).collect();
            write_records(&dir.join(name), runs.iter().map(|(j, r)| (*j, r))).unwrap();
        };
        let err = |dir: &Path| read_all_shards(dir).unwrap_err().to_string();
        assert!(err(&dir).contains("no shard records"));
        write("1-of-2.csv", &[0, 2]);
        assert!(err(&dir).contains("lacks shard(s) 2/2"), "{}", err(&dir));
        write("2-of-2.csv", &[1, 3]);
        assert_eq!(read_all_shards(&dir).unwrap().keys().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        write("1-of-3.csv", &[0]);
        assert!(err(&dir).contains("different splits"));
        std::fs::remove_file(dir.join("1-of-3.csv")).unwrap();
        write("2-of-2.csv", &[1, 2]);
        assert!(err(&dir).contains("belongs to another shard"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
