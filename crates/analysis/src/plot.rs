//! Figures as data: panels of line series with optional spread bands,
//! rendered to SVG and PNG with an embedded font (so PNG text does not
//! depend on the machine's fonts).

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::AnalysisError;

/// One line of a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Palette index (colors repeat after 10).
    pub color: usize,
    /// Dashed instead of solid (e.g. a method from another init).
    pub dashed: bool,
    /// `(x, y)` points; on a log axis non-positive `y` are dropped.
    pub points: Vec<(f64, f64)>,
    /// Optional spread band `(x, low, high)`, e.g. the IQR over seeds.
    pub band: Vec<(f64, f64, f64)>,
}

impl Series {
    /// A median line with its spread band, from `(x, low, median, high)`
    /// points (e.g. the IQR over seeds).
    pub fn median_band(label: String, color: usize, dashed: bool, curve: &[(f64, f64, f64, f64)]) -> Self {
        Self {
            label,
            color,
            dashed,
            points: curve.iter().map(|&(x, _, m, _)| (x, m)).collect(),
            band: curve.iter().map(|&(x, lo, _, hi)| (x, lo, hi)).collect(),
        }
    }
}

/// One chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Title above the chart.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Logarithmic x axis (non-positive x are dropped).
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// The lines.
    pub series: Vec<Series>,
    /// A table of values in [0, 1] drawn as coloured cells instead of the
    /// lines (the axes' labels are then unused).
    pub heatmap: Option<Heatmap>,
}

/// Cells coloured from red (0) to green (1), each with its value printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Row labels, top to bottom.
    pub rows: Vec<String>,
    /// Column labels, left to right.
    pub columns: Vec<String>,
    /// `values[row][column]`; `None` draws an empty grey cell.
    pub values: Vec<Vec<Option<f64>>>,
}

/// A grid of panels.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Panels, row by row.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub columns: usize,
    /// Pixel size of one panel.
    pub panel_size: (u32, u32),
}

/// The tab10 palette.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const FONT: &str = "sans-serif";
/// Approximate height of one legend row and of a panel's plotting area,
/// used to reserve room for the legend above the data.
const LEGEND_ROW_PX: f64 = 19.0;
const PLOT_HEIGHT_PX: f64 = 320.0;
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled font is known to parse; a failure would only lose text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES);
    });
}

impl Figure {
    fn size(&self) -> (u32, u32) {
        let cols = self.columns.max(1);
        let rows = self.panels.len().div_ceil(cols).max(1);
        (self.panel_size.0 * cols as u32, self.panel_size.1 * rows as u32)
    }

    /// Render to `svg` and `png` (each written to a temporary name and
    /// renamed, so an interrupted run never leaves a half-written figure).
    pub fn render(&self, svg: &Path, png: &Path) -> Result<(), AnalysisError> {
        register_font();
        let size = self.size();
        let tmp_svg = temporary_name(svg);
        {
            let root = SVGBackend::new(&tmp_svg, size).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(plot_error)?;
        }
        let tmp_png = temporary_name(png);
        {
            let root = BitMapBackend::new(&tmp_png, size).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(plot_error)?;
        }
        std::fs::rename(&tmp_svg, svg)?;
        std::fs::rename(&tmp_png, png)?;
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), AnalysisError> {
        root.fill(&WHITE).map_err(plot_error)?;
        let cols = self.columns.max(1);
        let rows = self.panels.len().div_ceil(cols).max(1);
        let areas = root.split_evenly((rows, cols));
        for (panel, area) in self.panels.iter().zip(&areas) {
            panel.draw(area)?;
        }
        Ok(())
    }
}

/// Whole numbers without a decimal point, others with up to 3 significant digits.
fn format_tick(x: f64) -> String {
    if x == x.round() && x.abs() < 1e6 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}").trim_end_matches('0').to_string()
    }
}

/// `dir/.name.partial.ext`: same extension, so backends pick the format.
fn temporary_name(path: &Path) -> std::path::PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".partial.{name}"))
}

fn plot_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> AnalysisError {
    AnalysisError::Plot(e.to_string())
}

impl Panel {
    /// The visible points of a series (finite, positive on a log axis), with
    /// x as drawn: `log10 x` on a log x axis (drawn linearly, labelled 10^x).
    fn visible(&self, points: &[(f64, f64)]) -> Vec<(f64, f64)> {
        points
            .iter()
            .copied()
            .filter(|&(x, y)| x.is_finite() && y.is_finite() && (!self.log_y || y > 0.0) && (!self.log_x || x > 0.0))
            .map(|(x, y)| if self.log_x { (x.log10(), y) } else { (x, y) })
            .collect()
    }

    fn x_tick(&self, x: f64) -> String {
        if self.log_x {
            // Three significant digits: 10^2.2 reads 158, not 158.489.
            let v = 10f64.powf(x);
            let digits = 2 - v.log10().floor() as i32;
            let rounded = if digits > 0 {
                let f = 10f64.powi(digits);
                (v * f).round() / f
            } else {
                let f = 10f64.powi(-digits);
                (v / f).round() * f
            };
            if (1e-4..1e5).contains(&rounded) {
                format!("{rounded}")
            } else {
                format!("{v:.0e}")
            }
        } else {
            format_tick(x)
        }
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let mut xs = (f64::INFINITY, f64::NEG_INFINITY);
        let mut ys = (f64::INFINITY, f64::NEG_INFINITY);
        for s in &self.series {
            let band = s.band.iter().flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]);
            for (x, y) in self.visible(&s.points).into_iter().chain(self.visible(&band.collect::<Vec<_>>())) {
                xs = (xs.0.min(x), xs.1.max(x));
                ys = (ys.0.min(y), ys.1.max(y));
            }
        }
        if !xs.0.is_finite() {
            xs = (0.0, 1.0);
        }
        if !ys.0.is_finite() {
            ys = if self.log_y { (1e-16, 1.0) } else { (0.0, 1.0) };
        }
        if xs.0 == xs.1 {
            xs.1 = xs.0 + 1.0;
        }
        // Headroom above the data for the legend (drawn in the upper right),
        // so it never covers a curve: the legend takes `fraction` of the height.
        let fraction = (self.series.len() as f64 * LEGEND_ROW_PX + 12.0) / PLOT_HEIGHT_PX;
        let fraction = fraction.min(0.6);
        if self.log_y {
            let (lo, hi) = (ys.0.log10() - 0.3, ys.1.log10() + 0.3);
            let top = hi + (hi - lo) * fraction / (1.0 - fraction);
            ys = (10f64.powf(lo), 10f64.powf(top));
        } else {
            let pad = 0.05 * (ys.1 - ys.0).max(1e-12);
            let (lo, hi) = (ys.0 - pad, ys.1 + pad);
            ys = (lo, hi + (hi - lo) * fraction / (1.0 - fraction));
        }
        (xs, ys)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), AnalysisError> {
        if let Some(heatmap) = &self.heatmap {
            return heatmap.draw(&self.title, area);
        }
        let ((x0, x1), (y0, y1)) = self.ranges();
        let mut builder = ChartBuilder::on(area);
        builder.caption(&self.title, (FONT, 18)).margin(12).x_label_area_size(40).y_label_area_size(64);
        if self.log_y {
            let mut chart = builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale()).map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .x_label_formatter(&|x| self.x_tick(*x))
                .y_label_formatter(&|y| format!("{y:.0e}"))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 15))
                .draw()
                .map_err(plot_error)?;
            self.draw_series(&mut chart)
        } else {
            let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .x_label_formatter(&|x| self.x_tick(*x))
                .y_label_formatter(&|y| format_tick(*y))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 15))
                .draw()
                .map_err(plot_error)?;
            self.draw_series(&mut chart)
        }
    }

    fn draw_series<'a, DB: DrawingBackend + 'a, X, Y>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    ) -> Result<(), AnalysisError>
    where
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        for s in &self.series {
            let color = PALETTE[s.color % PALETTE.len()];
            let band: Vec<(f64, f64)> = s
                .band
                .iter()
                .map(|&(x, lo, _)| (x, lo))
                .chain(s.band.iter().rev().map(|&(x, _, hi)| (x, hi)))
                .collect();
            let band = self.visible(&band);
            if band.len() >= 3 {
                chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.15).filled()))).map_err(plot_error)?;
            }
            let points = self.visible(&s.points);
            let style = color.stroke_width(2);
            let legend_style = style;
            if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(points, 8, 5, style))
                    .map_err(plot_error)?
                    .label(&s.label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 8, y)], legend_style));
            } else {
                chart
                    .draw_series(LineSeries::new(points, style))
                    .map_err(plot_error)?
                    .label(&s.label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], legend_style));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 13))
            .draw()
            .map_err(plot_error)?;
        Ok(())
    }
}

impl Heatmap {
    fn draw<DB: DrawingBackend>(&self, title: &str, area: &DrawingArea<DB, Shift>) -> Result<(), AnalysisError> {
        let area = area.margin(12, 12, 12, 12).titled(title, (FONT, 18)).map_err(plot_error)?;
        let (width, height) = area.dim_in_pixel();
        let (left, top) = (190i32, 28i32);
        let cols = self.columns.len().max(1) as i32;
        let rows = self.rows.len().max(1) as i32;
        let cell_w = ((width as i32 - left) / cols).max(1);
        let cell_h = ((height as i32 - top) / rows).max(1);
        let label = (FONT, 13).into_font().color(&BLACK);
        for (j, name) in self.columns.iter().enumerate() {
            let x = left + j as i32 * cell_w + 4;
            area.draw(&Text::new(name.clone(), (x, 6), label.clone())).map_err(plot_error)?;
        }
        for (i, name) in self.rows.iter().enumerate() {
            let y = top + i as i32 * cell_h;
            area.draw(&Text::new(name.clone(), (4, y + cell_h / 2 - 7), label.clone())).map_err(plot_error)?;
            for j in 0..self.columns.len() {
                let value = self.values.get(i).and_then(|r| r.get(j)).copied().flatten();
                let color = match value {
                    Some(v) => {
                        let v = v.clamp(0.0, 1.0);
                        let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * v).round() as u8;
                        RGBColor(mix(214, 44), mix(39, 160), mix(40, 44))
                    }
                    None => RGBColor(220, 220, 220),
                };
                let x = left + j as i32 * cell_w;
                let cell = Rectangle::new([(x, y), (x + cell_w - 2, y + cell_h - 2)], color.mix(0.8).filled());
                area.draw(&cell).map_err(plot_error)?;
                if let Some(v) = value {
                    let text = Text::new(format!("{v:.2}"), (x + cell_w / 2 - 14, y + cell_h / 2 - 7), label.clone());
                    area.draw(&text).map_err(plot_error)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_svg_and_png_with_log_axis_and_nonpositive_values() {
        let dir = std::env::temp_dir().join(format!("odelora-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let series = Series {
            label: "decay".into(),
            color: 0,
            dashed: false,
            points: (0..20).map(|k| (k as f64, 0.5f64.powi(k))).chain([(20.0, 0.0)]).collect(),
            band: (0..20).map(|k| (k as f64, 0.4f64.powi(k), 0.6f64.powi(k))).collect(),
        };
        let dashed = Series { label: "other".into(), color: 1, dashed: true, band: vec![], ..series.clone() };
        let panel = Panel {
            title: "t".into(),
            x_label: "step".into(),
            y_label: "error".into(),
            log_x: false,
            log_y: true,
            series: vec![series, dashed],
            heatmap: None,
        };
        let fig = Figure { panels: vec![panel], columns: 1, panel_size: (400, 300) };
        let (svg, png) = (dir.join("f.svg"), dir.join("f.png"));
        fig.render(&svg, &png).unwrap();
        let svg_text = std::fs::read_to_string(&svg).unwrap();
        assert!(svg_text.contains("decay") && svg_text.contains("<svg"));
        let png_bytes = std::fs::read(&png).unwrap();
        assert_eq!(&png_bytes[1..4], b"PNG");
        assert!(!dir.join(".partial.f.png").exists());
        let table = Panel {
            title: "stable fraction".into(),
            x_label: String::new(),
            y_label: String::new(),
            log_x: false,
            log_y: false,
            series: Vec::new(),
            heatmap: Some(Heatmap {
                rows: vec!["method a".into(), "method b".into()],
                columns: vec!["pde 1".into(), "pde 2".into()],
                values: vec![vec![Some(1.0), Some(0.25)], vec![None, Some(0.0)]],
            }),
        };
        let fig = Figure { panels: vec![table], columns: 1, panel_size: (500, 300) };
        fig.render(&svg, &png).unwrap();
        assert!(std::fs::read_to_string(&svg).unwrap().contains("0.25"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
