//! `pinn-stability`: PINN fine-tuning (SPEC §5.4) — final relative L2 error
//! against the step size per PDE and method (medians with IQR over seeds;
//! a diverged run is drawn at 10), and the fraction of each method's
//! step-size grid that trains stably: a grid point is stable when every
//! seed's run neither diverged nor raised its loss on more than 1% of its
//! steps (SPEC §6). The fractions are a table (`stability.csv`) and a
//! heatmap. The runs are those of the shared sweep ([`super::pinn_sweep`]).
//!
//! A tanh network with a frozen output layer has a bounded loss: too large
//! a step saturates the hidden units and stalls the loss rather than
//! blowing it up, so instability shows as loss increases and a high final
//! error, rarely as divergence.

use odelora_analysis::plot::{Figure, Heatmap, Panel, Series};

use super::pinn_sweep::{begin_sweep_figure, is_stable, pde_setting, SweepFigure};
use super::{group_runs, render_figure, write_summary, FigureStatus, ReproduceContext, DIVERGED_ERROR};
use crate::methods::InitChoice;
use crate::output::write_csv;
use crate::ExperimentError;

const ID: &str = "pinn-stability";

/// Run (or reuse) the sweep, write the data and the figure.
pub fn make(ctx: &ReproduceContext) -> Result<FigureStatus, ExperimentError> {
    let (figure_run, sweep, runs) = match begin_sweep_figure(ctx, ID)? {
        SweepFigure::Draw(figure_run, sweep, runs) => (figure_run, sweep, runs),
        SweepFigure::Done(status) => return Ok(status),
    };
    let groups = group_runs(&runs);
    write_summary(ID, &groups, &[], ctx)?;

    let lines: Vec<_> = sweep.lines().collect();
    let mut table = Vec::new();
    let mut cells = vec![vec![None; sweep.pdes.len()]; lines.len()];
    for (j, pde) in sweep.pdes.iter().enumerate() {
        let key = pde_setting(pde);
        for (i, line) in lines.iter().enumerate() {
            let points: Vec<_> = groups.iter().filter(|g| line.owns(g) && g.setting == key).collect();
            let stable = points.iter().filter(|g| g.runs.iter().all(|r| is_stable(r))).count();
            if !points.is_empty() {
                let fraction = stable as f64 / points.len() as f64;
                cells[i][j] = Some(fraction);
                table.push(format!(
                    "{pde},{},{},{stable},{},{fraction}",
                    line.method,
                    super::init_name(line.init),
                    points.len()
                ));
            }
        }
    }
    write_csv(
        &ctx.results_dir.join(ID).join("stability.csv"),
        "pde,method,init,stable_step_sizes,step_sizes,fraction",
        table,
    )?;

    let mut panels = Vec::new();
    for pde in &sweep.pdes {
        let key = pde_setting(pde);
        for (family, family_lines) in [("GD-type", &sweep.gd_lines), ("Adam-type", &sweep.adam_lines)] {
            let series = family_lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.lrs.iter().any(|&lr| lr > 0.0))
                .map(|(color, line)| {
                    let curve = line.final_error_by_step_size(&groups, &key);
                    Series::median_band(line.label(), color, line.init == Some(InitChoice::Spectral), &curve)
                })
                .collect();
            panels.push(Panel {
                title: format!("{pde}, {family}: error after {} evaluations", sweep.eval_budget),
                x_label: "step size (learning rate)".into(),
                y_label: format!("final relative L2 (diverged = {DIVERGED_ERROR})"),
                log_x: true,
                log_y: true,
                series,
                heatmap: None,
            });
        }
    }
    panels.push(Panel {
        title: "fraction of the step-size grid that trains stably".into(),
        x_label: String::new(),
        y_label: String::new(),
        log_x: false,
        log_y: false,
        series: Vec::new(),
        heatmap: Some(Heatmap {
            rows: lines.iter().map(|l| l.label()).collect(),
            columns: sweep.pdes.clone(),
            values: cells,
        }),
    });
    render_figure(ID, &Figure { panels, columns: 4, panel_size: (560, 420) }, ctx)?;
    figure_run.finish(ctx)
}
