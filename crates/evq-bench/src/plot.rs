//! §5's plot: delivered events/s against the number of clients, one line
//! per system and batching, as a PNG drawn with `plotters` (bitmap backend).
//!
//! Text needs a font: the first of a few common TrueType files found on the
//! machine (DejaVu Sans, Liberation Sans). Where none is, the plot is drawn
//! without text, and the table beside it in `docs/performance.md` gives the
//! numbers and the legend (the lines keep their colours and order).

use std::io;
use std::path::Path;

use plotters::prelude::*;

/// One line of the plot.
pub struct Series {
    /// Its legend.
    pub label: String,
    /// (clients, events/s) points.
    pub points: Vec<(u32, f64)>,
    /// Dashed (baselines) or solid (evq).
    pub baseline: bool,
}

const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// Registers a font for text, if the machine has one; whether it did.
fn font() -> bool {
    static ONCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ONCE.get_or_init(|| {
        for path in FONTS {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

const COLOURS: [RGBColor; 4] =
    [RGBColor(0x1f, 0x77, 0xb4), RGBColor(0xd6, 0x27, 0x28), RGBColor(0x2c, 0xa0, 0x2c), RGBColor(0xff, 0x7f, 0x0e)];

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Draws `series` to `path` (PNG, 900×540), log-log axes. Returns whether
/// text (title, axes, legend) could be drawn.
pub fn scaling(path: &Path, title: &str, series: &[Series]) -> io::Result<bool> {
    let text = font();
    let max_x = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).max().unwrap_or(64).max(2);
    let (lo, hi) = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if hi > 0.0 { (lo / 2.0, hi * 2.0) } else { (1e3, 1e7) };
    let root = BitMapBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(16);
    if text {
        builder.caption(title, ("sans-serif", 20)).x_label_area_size(40).y_label_area_size(70);
    } else {
        builder.x_label_area_size(4).y_label_area_size(4);
    }
    let mut chart = builder.build_cartesian_2d((1u32..max_x).log_scale(), (lo..hi).log_scale()).map_err(err)?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc("clients")
            .y_desc("events/s delivered, summed over clients")
            .y_label_formatter(&|v| crate::common::rate(*v))
            .label_style(("sans-serif", 14));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let style = ShapeStyle::from(&colour).stroke_width(if s.baseline { 1 } else { 3 });
        let points: Vec<(u32, f64)> = s.points.iter().copied().filter(|p| p.1 > 0.0).collect();
        let drawn = chart.draw_series(LineSeries::new(points.clone(), style)).map_err(err)?;
        if text {
            drawn.label(s.label.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, colour.filled()))).map_err(err)?;
    }
    if text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(text)
}
