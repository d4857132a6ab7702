//! `feature-learning`: the width sweep of SPEC §5.3. On the width toy
//! (`f(x) = W x`, 4 Gaussian inputs, rank-2 target) every method steps with
//! `η = η0 / n` for T steps; `df` = RMS over the batch of ‖f_T(x) − f_0(x)‖
//! and `dz_a` = RMS ‖A_T x − A_0 x‖, medians over seeds with IQR bands
//! against the width n on log–log axes, and the fitted slope of log df with
//! its 95% interval in the legend (0 = stable feature learning).
//!
//! ODELoRA starts from the spectral init at ‖B0A0‖₂ = 1e-2, the LoRA family
//! from LoRA's init (B = 0); LoRA+ is shown with its default ratio λ = 16 and
//! with λ = n (the width scaling its authors derive). `features.csv` holds
//! every run's final df and dz_a.

use odelora::problems::{WidthToy, WidthToyParams};
use odelora_analysis::plot::{Figure, Panel, Series};
use odelora_analysis::rates::fit_line;
use odelora_analysis::stats::median_iqr;
use serde::{Deserialize, Serialize};

use super::{
    figure_bar, group_runs, init_name, record_runs, render_figure, run_jobs, sort_runs, write_summary, FigureStatus,
    MethodLine, ReproduceContext, RunRecord,
};
use crate::features::FeatureChange;
use crate::methods::{build_method, InitChoice, MethodSettings};
use crate::output::{float, optional_float, write_csv};
use crate::training::{run, StopRule};
use crate::ExperimentError;

const ID: &str = "feature-learning";

/// LoRA+ ratio: a number, or the width.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ratio {
    /// The method's own default.
    Default,
    /// A fixed λ.
    Fixed(f64),
    /// λ = n.
    Width,
}

/// One line of the figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// Method and init (its `lrs` are ignored: every line steps with η0/n).
    pub line: MethodLine,
    /// LoRA+ ratio.
    pub ratio: Ratio,
}

/// The figure's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Widths n.
    pub widths: Vec<usize>,
    /// Seeds per width.
    pub seeds: Vec<u64>,
    /// η0: every method steps with η0 / n.
    pub eta0: f64,
    /// Steps T.
    pub steps: u64,
    /// The lines.
    pub lines: Vec<Line>,
}

fn line(method: &str, init: InitChoice, ratio: Ratio) -> Line {
    Line { line: MethodLine::new(method, init, &[]), ratio }
}

impl Config {
    /// CI-sized: n = 2^7 … 2^10, four seeds.
    pub fn quick() -> Self {
        Self {
            widths: (7..=10).map(|k| 1 << k).collect(),
            seeds: (0..4).collect(),
            eta0: 0.5,
            steps: 10,
            lines: vec![
                line("odelora-euler", InitChoice::Spectral, Ratio::Default),
                line("lora-gd", InitChoice::Lora, Ratio::Default),
                line("loraplus-gd", InitChoice::Lora, Ratio::Fixed(16.0)),
                line("loraplus-gd", InitChoice::Lora, Ratio::Width),
                line("riemannian-gd", InitChoice::Lora, Ratio::Default),
                Line { line: MethodLine::full("full-gd", &[]), ratio: Ratio::Default },
            ],
        }
    }

    /// The study's size: n = 2^7 … 2^12, eight seeds (SPEC §5.3).
    pub fn full() -> Self {
        Self { widths: (7..=12).map(|k| 1 << k).collect(), seeds: (0..8).collect(), ..Self::quick() }
    }
}

impl Line {
    fn label(&self) -> String {
        match self.ratio {
            Ratio::Default => self.line.label(),
            Ratio::Fixed(r) => format!("{}, λ = {r}", self.line.label()),
            Ratio::Width => format!("{}, λ = n", self.line.label()),
        }
    }

    fn ratio_key(&self) -> String {
        match self.ratio {
            Ratio::Default => "default".into(),
            Ratio::Fixed(r) => format!("{r}"),
            Ratio::Width => "n".into(),
        }
    }

    fn setting(&self, width: usize) -> String {
        format!("ratio={};width={width}", self.ratio_key())
    }
}

/// One run and its final feature changes.
fn feature_run(
    l: &Line,
    width: usize,
    seed: u64,
    config: &Config,
) -> Result<(RunRecord, (f64, Option<f64>)), ExperimentError> {
    let mut toy = WidthToy::new(WidthToyParams::new(width, seed))?;
    let h = config.eta0 / width as f64;
    let mut settings = MethodSettings::with_lr(h, 2);
    settings.init = l.line.init;
    // SPEC §5.3: the spectral init at ‖B0A0‖₂ = 1e-2 on the toy.
    settings.init_scale = Some(1e-2);
    match l.ratio {
        Ratio::Default => {}
        Ratio::Fixed(r) => settings.loraplus_ratio = r,
        Ratio::Width => settings.loraplus_ratio = width as f64,
    }
    let name = l.line.method_name()?;
    let mut method = build_method(name, &settings, &mut toy, seed)?;
    let probe = FeatureChange::new(&toy, method.as_ref());
    let mut rows = Vec::new();
    let stop = StopRule::new(config.steps, None);
    let outcome = run(method.as_mut(), &mut toy, stop, |row, _| rows.push(*row));
    let change = probe.measure(method.as_ref());
    let record = RunRecord { method: name, init: l.line.init, setting: l.setting(width), lr: h, seed, rows, outcome };
    Ok((record, change))
}

/// Run every run, write the data and the figure.
pub fn make(ctx: &ReproduceContext) -> Result<FigureStatus, ExperimentError> {
    let config = ctx.config(ID, if ctx.quick { Config::quick() } else { Config::full() })?;
    let Some(figure_run) = ctx.begin(ID, &config)? else { return Ok(FigureStatus::UpToDate) };
    let (widths, seeds) = (&config.widths, &config.seeds);
    let jobs: Vec<(&Line, usize, u64)> = config
        .lines
        .iter()
        .flat_map(|l| widths.iter().flat_map(move |&n| seeds.iter().map(move |&s| (l, n, s))))
        .collect();
    let bar = figure_bar(ID, jobs.len());
    let changes = std::sync::Mutex::new(Vec::new());
    let mut runs = run_jobs(ctx, &bar, &jobs, |&(l, n, seed)| {
        let (record, change) = feature_run(l, n, seed, &config)?;
        changes.lock().map_err(|_| ExperimentError::Input("a run panicked".into()))?.push((
            record.method,
            record.init,
            record.setting.clone(),
            seed,
            change,
        ));
        Ok(record)
    })?;
    bar.finish_and_clear();
    sort_runs(&mut runs);
    let Some(runs) = record_runs(ID, "width-toy", runs, ctx)? else { return Ok(FigureStatus::Sharded) };
    write_summary(ID, &group_runs(&runs), &[], ctx)?;

    let mut changes = changes.into_inner().map_err(|_| ExperimentError::Input("a run panicked".into()))?;
    changes.sort_by(|a, b| (a.0, a.1, &a.2, a.3).cmp(&(b.0, b.1, &b.2, b.3)));
    let rows = changes.iter().map(|(method, init, setting, seed, (df, dz_a))| {
        format!("{method},{},{setting},{seed},{},{}", init_name(*init), float(*df), optional_float(*dz_a))
    });
    write_csv(&ctx.results_dir.join(ID).join("features.csv"), "method,init,setting,seed,df,dz_a", rows)?;

    let mut df_series = Vec::new();
    let mut dz_series = Vec::new();
    let mut slopes = Vec::new();
    for (color, l) in config.lines.iter().enumerate() {
        let name = l.line.method.as_str();
        let medians = |pick: fn(&(f64, Option<f64>)) -> Option<f64>| -> Vec<(f64, f64, f64, f64)> {
            config
                .widths
                .iter()
                .filter_map(|&n| {
                    let key = l.setting(n);
                    let values: Vec<f64> = changes
                        .iter()
                        .filter(|c| c.0 == name && c.1 == l.line.init && c.2 == key)
                        .filter_map(|c| pick(&c.4))
                        .collect();
                    let (lo, med, hi) = median_iqr(&values)?;
                    Some((n as f64, lo, med, hi))
                })
                .collect()
        };
        let df = medians(|c| Some(c.0));
        let logs: (Vec<f64>, Vec<f64>) = df.iter().map(|&(n, _, m, _)| (n.ln(), m.ln())).unzip();
        let fit = fit_line(&logs.0, &logs.1);
        let slope_text = match fit.and_then(|f| f.slope_interval_95(logs.0.len()).map(|i| (f.slope, i))) {
            Some((s, (lo, hi))) => format!("slope {s:.2} [{lo:.2}, {hi:.2}]"),
            None => "slope n/a".into(),
        };
        slopes.push(format!(
            "{},{},{}",
            l.label().replace(',', ";"),
            fit.map_or(String::new(), |f| float(f.slope)),
            fit.map_or(String::new(), |f| float(f.slope_std_error))
        ));
        let dashed = l.line.init == Some(InitChoice::Lora) && matches!(l.ratio, Ratio::Width);
        let series = |points: &[(f64, f64, f64, f64)], label: String| Series::median_band(label, color, dashed, points);
        df_series.push(series(&df, format!("{}: {slope_text}", l.label())));
        let dz = medians(|c| c.1);
        if !dz.is_empty() {
            dz_series.push(series(&dz, l.label()));
        }
    }
    write_csv(&ctx.results_dir.join(ID).join("slopes.csv"), "line,slope_log_df,slope_std_error", slopes)?;
    let title =
        format!("width toy, η = {}/n, T = {} steps, median of {} seeds", config.eta0, config.steps, config.seeds.len());
    let panels = vec![
        Panel {
            title: format!("feature change df, {title}"),
            x_label: "width n".into(),
            y_label: "df = RMS ‖f_T(x) − f_0(x)‖".into(),
            log_x: true,
            log_y: true,
            series: df_series,
            heatmap: None,
        },
        Panel {
            title: "change of the LoRA features dz_a".into(),
            x_label: "width n".into(),
            y_label: "dz_a = RMS ‖A_T x − A_0 x‖".into(),
            log_x: true,
            log_y: true,
            series: dz_series,
            heatmap: None,
        },
    ];
    render_figure(ID, &Figure { panels, columns: 2, panel_size: (700, 500) }, ctx)?;
    figure_run.finish(ctx)
}
