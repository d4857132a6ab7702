//! `pinn-curves`: PINN fine-tuning (SPEC §5.4) — training loss and relative
//! L2 error on the test grid against gradient evaluations, per PDE and
//! method, each at its best step size (the smallest median final relative
//! L2 over seeds on its grid), medians with IQR bands. GD-type and Adam-type
//! methods are drawn in separate panels. The runs are those of the shared
//! sweep ([`super::pinn_sweep`]).

use odelora_analysis::plot::{Figure, Panel, Series};

use super::pinn_sweep::{begin_sweep_figure, pde_setting, SweepFigure};
use super::{best_step_sizes, group_runs, render_figure, write_summary, FigureStatus, MethodLine, ReproduceContext};
use crate::methods::InitChoice;
use crate::training::Row;
use crate::ExperimentError;

const ID: &str = "pinn-curves";

/// Run (or reuse) the sweep, write the data and the figure.
pub fn make(ctx: &ReproduceContext) -> Result<FigureStatus, ExperimentError> {
    let (figure_run, sweep, runs) = match begin_sweep_figure(ctx, ID)? {
        SweepFigure::Draw(figure_run, sweep, runs) => (figure_run, sweep, runs),
        SweepFigure::Done(status) => return Ok(status),
    };
    let groups = group_runs(&runs);
    let chosen = best_step_sizes(&groups);
    write_summary(ID, &groups, &chosen, ctx)?;

    let mut panels = Vec::new();
    for pde in &sweep.pdes {
        let key = pde_setting(pde);
        let families: [(&str, &Vec<MethodLine>); 2] = [("GD-type", &sweep.gd_lines), ("Adam-type", &sweep.adam_lines)];
        for (metric, value, log) in [
            ("relative L2 error", (|r: &Row| r.rel_error) as fn(&Row) -> f64, true),
            ("training loss", |r: &Row| r.loss, true),
        ] {
            for (family, lines) in families {
                let series = lines
                    .iter()
                    .enumerate()
                    .filter_map(|(color, line)| {
                        let g = chosen.iter().find(|g| line.owns(g) && g.setting == key)?;
                        let curve = g.median_curve(|row| row.evals as f64, value);
                        let step = if g.lr > 0.0 { g.lr.to_string() } else { "adaptive".into() };
                        let dashed = line.init == Some(InitChoice::Spectral);
                        Some(Series::median_band(format!("{}, h={step}", line.label()), color, dashed, &curve))
                    })
                    .collect();
                panels.push(Panel {
                    title: format!("{pde}: {metric}, {family}"),
                    x_label: "gradient evaluations".into(),
                    y_label: metric.into(),
                    log_x: false,
                    log_y: log,
                    series,
                    heatmap: None,
                });
            }
        }
    }
    render_figure(ID, &Figure { panels, columns: 4, panel_size: (560, 420) }, ctx)?;
    figure_run.finish(ctx)
}
