//! Figures of beats over the audio, for reports, papers and the CLI (plotters; SVG or
//! PNG, chosen by the file extension).
//!
//! [`plot_beats`] draws two panels over a shared time axis in seconds: the waveform as a
//! min/max envelope, and below it the activation curve(s); tracked beats are vertical
//! lines through both panels, and reference beats (if given) are triangles above the
//! activation panel, filled green where a tracked beat lies within the hit window (±70 ms,
//! the mir_eval F-measure window) and drawn as red crosses where none does.
//!
//! Text is set in an embedded DejaVu Sans subset (`assets/fonts/`), so figures render the
//! same on every machine with no system fonts or fontconfig.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

use crate::audio::Signal;
use crate::tracking::Activation;
use crate::{Error, Result};

/// The embedded font (DejaVu Sans, Latin subset; licence in `assets/fonts/`).
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-subset.ttf");

/// Colour of tracked-beat lines.
pub const BEAT_COLOUR: RGBColor = RGBColor(0xD6, 0x27, 0x28);
/// Colour of reference beats that a tracked beat hits.
pub const HIT_COLOUR: RGBColor = RGBColor(0x2C, 0xA0, 0x2C);
/// Colour of reference beats that no tracked beat hits.
pub const MISS_COLOUR: RGBColor = RGBColor(0xE3, 0x1A, 0x1C);
/// Colour of the waveform envelope.
pub const WAVEFORM_COLOUR: RGBColor = RGBColor(0x70, 0x70, 0x70);
/// Colours of successive activation curves (matplotlib's tab10 minus red and green).
pub const ACTIVATION_COLOURS: [RGBColor; 4] = [
    RGBColor(0x1F, 0x77, 0xB4),
    RGBColor(0xFF, 0x7F, 0x0E),
    RGBColor(0x94, 0x67, 0xBD),
    RGBColor(0x8C, 0x56, 0x4B),
];

/// What [`plot_beats`] draws.
#[derive(Debug, Clone, Copy)]
pub struct PlotInput<'a> {
    /// The audio (drawn as a min/max envelope).
    pub waveform: &'a Signal,
    /// Activation curves with their legend names (e.g. `("percussive", &act)`).
    pub activations: &'a [(&'a str, &'a Activation)],
    /// Tracked beat times in seconds.
    pub beats_s: &'a [f64],
    /// Reference (ground-truth) beat times in seconds, if any.
    pub reference_s: Option<&'a [f64]>,
    /// Start of the plotted span in seconds.
    pub from_s: f64,
    /// End of the plotted span in seconds (> `from_s`).
    pub to_s: f64,
    /// Figure title (may be empty).
    pub title: &'a str,
}

/// Figure settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlotConfig {
    /// Width in pixels (SVG user units). Default 1600: a full-width figure at 300 dpi is
    /// about 1600 px wide at 13.5 cm.
    pub width_px: u32,
    /// Height in pixels. Default 700.
    pub height_px: u32,
    /// A reference beat counts as hit when a tracked beat lies within this many seconds.
    /// Default 0.07 s, the mir_eval / MIREX F-measure window.
    pub hit_window_s: f64,
}

impl Default for PlotConfig {
    fn default() -> Self {
        Self {
            width_px: 1600,
            height_px: 700,
            hit_window_s: 0.07,
        }
    }
}

impl PlotConfig {
    /// [`Error::Config`] for sizes outside 200..=10 000 px or a window outside (0, 1] s.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [("width_px", self.width_px), ("height_px", self.height_px)] {
            if !(200..=10_000).contains(&v) {
                return Err(Error::Config(format!(
                    "plot {name} = {v} must lie in 200..=10000"
                )));
            }
        }
        if !(self.hit_window_s > 0.0 && self.hit_window_s <= 1.0) {
            return Err(Error::Config(format!(
                "plot hit_window_s = {} must lie in (0, 1]",
                self.hit_window_s
            )));
        }
        Ok(())
    }
}

/// Draws `input` to `path`: SVG for a `.svg` extension, PNG for `.png` (see the module
/// docs), with [`PlotConfig::default`].
pub fn plot_beats(input: &PlotInput<'_>, path: &Path) -> Result<()> {
    plot_beats_with(input, &PlotConfig::default(), path)
}

/// [`plot_beats`] with explicit settings.
pub fn plot_beats_with(input: &PlotInput<'_>, config: &PlotConfig, path: &Path) -> Result<()> {
    let _span = tracing::info_span!("plot.beats", path = %path.display()).entered();
    config.validate()?;
    validate(input)?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let size = (config.width_px, config.height_px);
    let fail = |e: String| Error::io(path, std::io::Error::other(e));
    match ext.as_str() {
        "svg" => {
            let svg = render_svg(input, config)?;
            std::fs::write(path, svg).map_err(|e| Error::io(path, e))
        }
        "png" => {
            register_font();
            let root = BitMapBackend::new(path, size).into_drawing_area();
            draw(&root, input, config).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        _ => Err(Error::InvalidInput(format!(
            "{}: plots are written as .svg or .png",
            path.display()
        ))),
    }
}

/// The figure as SVG text.
pub fn render_svg(input: &PlotInput<'_>, config: &PlotConfig) -> Result<String> {
    config.validate()?;
    validate(input)?;
    register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (config.width_px, config.height_px))
            .into_drawing_area();
        draw(&root, input, config).map_err(Error::InvalidInput)?;
        root.present()
            .map_err(|e| Error::InvalidInput(format!("plot: {e}")))?;
    }
    Ok(svg)
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold, FontStyle::Italic] {
            for family in ["sans-serif", "serif", "monospace"] {
                // The font is embedded and known to parse (tested), so this cannot fail.
                let _ = plotters::style::register_font(family, style, FONT);
            }
        }
    });
}

fn validate(input: &PlotInput<'_>) -> Result<()> {
    if !(input.from_s.is_finite() && input.to_s.is_finite() && input.from_s < input.to_s) {
        return Err(Error::InvalidInput(format!(
            "plot span {} s to {} s is not a finite, non-empty interval",
            input.from_s, input.to_s
        )));
    }
    if input.waveform.sample_rate_hz == 0 {
        return Err(Error::InvalidInput("plot: waveform at 0 Hz".into()));
    }
    for (name, a) in input.activations {
        if !(a.fps.is_finite() && a.fps > 0.0) {
            return Err(Error::InvalidInput(format!(
                "plot: activation '{name}' has frame rate {}",
                a.fps
            )));
        }
    }
    let all_beats = input.beats_s.iter().chain(input.reference_s.unwrap_or(&[]));
    if let Some(t) = all_beats.into_iter().find(|t| !t.is_finite()) {
        return Err(Error::InvalidInput(format!("plot: beat time {t}")));
    }
    Ok(())
}

/// Min/max of the samples in each of `columns` equal slices of the span.
fn envelope(signal: &Signal, from_s: f64, to_s: f64, columns: usize) -> Vec<(f64, f32, f32)> {
    let sr = f64::from(signal.sample_rate_hz);
    let n = signal.samples.len();
    let step = (to_s - from_s) / columns as f64;
    (0..columns)
        .filter_map(|c| {
            let t0 = from_s + c as f64 * step;
            let a = ((t0 * sr).floor().max(0.0) as usize).min(n);
            let b = (((t0 + step) * sr).ceil().max(0.0) as usize).clamp(a, n);
            let slice = signal.samples.get(a..b.max(a + 1).min(n))?;
            let lo = slice.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = slice.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            (lo.is_finite() && hi.is_finite()).then_some((t0 + step / 2.0, lo, hi))
        })
        .collect()
}

/// For each reference beat in the span: whether a tracked beat lies within `window`.
fn hits(beats: &[f64], reference: &[f64], window: f64) -> Vec<(f64, bool)> {
    let mut sorted: Vec<f64> = beats.to_vec();
    sorted.sort_by(f64::total_cmp);
    reference
        .iter()
        .map(|&r| {
            let i = sorted.partition_point(|&b| b < r - window);
            (r, sorted.get(i).is_some_and(|&b| b <= r + window))
        })
        .collect()
}

type DrawResult = std::result::Result<(), String>;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &PlotInput<'_>,
    config: &PlotConfig,
) -> DrawResult {
    let e = |x: &dyn std::fmt::Display| format!("plot: {x}");
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let (from, to) = (input.from_s, input.to_s);
    let in_span = |t: &&f64| **t >= from && **t <= to;
    let root = root.margin(10, 4, 4, 12);
    let root = if input.title.is_empty() {
        root
    } else {
        root.titled(input.title, ("sans-serif", 26))
            .map_err(|x| e(&x))?
    };
    let (legend_strip, root) = root.split_vertically(36);
    let (w, h) = root.dim_in_pixel();
    let (top, bottom) = root.split_vertically((h as f64 * 0.42) as u32);

    // Waveform panel.
    let peak = input
        .waveform
        .samples
        .iter()
        .fold(
            0.0f32,
            |m, s| if s.is_finite() { m.max(s.abs()) } else { m },
        )
        .max(1e-6);
    let y = f64::from(peak) * 1.05;
    let mut wave = ChartBuilder::on(&top)
        .margin(8)
        .x_label_area_size(0)
        .y_label_area_size(70)
        .build_cartesian_2d(from..to, -y..y)
        .map_err(|x| e(&x))?;
    wave.configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .x_labels(0)
        .y_labels(5)
        .y_desc("Amplitude")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(|x| e(&x))?;
    let env = envelope(input.waveform, from, to, (w as usize).max(2));
    if !env.is_empty() {
        let outline: Vec<(f64, f64)> = env
            .iter()
            .map(|&(t, _, hi)| (t, f64::from(hi)))
            .chain(env.iter().rev().map(|&(t, lo, _)| (t, f64::from(lo))))
            .collect();
        wave.draw_series(std::iter::once(Polygon::new(
            outline,
            WAVEFORM_COLOUR.mix(0.8).filled(),
        )))
        .map_err(|x| e(&x))?;
    }
    let beat_style = BEAT_COLOUR.mix(0.8).stroke_width(2);
    wave.draw_series(
        input
            .beats_s
            .iter()
            .filter(in_span)
            .map(|&t| PathElement::new(vec![(t, -y), (t, y)], beat_style)),
    )
    .map_err(|x| e(&x))?;

    // Activation panel.
    let act_max = input
        .activations
        .iter()
        .flat_map(|(_, a)| a.values.iter())
        .fold(1.0f32, |m, v| if v.is_finite() { m.max(*v) } else { m });
    let y_top = f64::from(act_max) * 1.15;
    let mut act = ChartBuilder::on(&bottom)
        .margin(8)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(from..to, 0.0..y_top)
        .map_err(|x| e(&x))?;
    act.configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .x_desc("Time (s)")
        .y_desc("Activation")
        .x_label_formatter(&|t| format!("{t:.1}"))
        .y_labels(5)
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(|x| e(&x))?;
    act.draw_series(
        input
            .beats_s
            .iter()
            .filter(in_span)
            .map(|&t| PathElement::new(vec![(t, 0.0), (t, y_top)], beat_style)),
    )
    .map_err(|x| e(&x))?;
    let mut legend = vec![LegendEntry::Beat("tracked beats".to_string())];
    for (i, (name, a)) in input.activations.iter().enumerate() {
        let colour = ACTIVATION_COLOURS[i % ACTIVATION_COLOURS.len()];
        let first = ((from * a.fps).floor().max(0.0)) as usize;
        let last = (((to * a.fps).ceil() + 1.0).max(0.0) as usize).min(a.values.len());
        let points = a
            .values
            .get(first.min(last)..last)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(k, v)| ((first + k) as f64 / a.fps, f64::from(*v)));
        act.draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(|x| e(&x))?;
        legend.push(LegendEntry::Curve(colour, (*name).to_string()));
    }
    if let Some(reference) = input.reference_s {
        let marks = hits(input.beats_s, reference, config.hit_window_s);
        let y_mark = f64::from(act_max) * 1.07;
        let (hit, miss): (Vec<_>, Vec<_>) = marks
            .into_iter()
            .filter(|(t, _)| *t >= from && *t <= to)
            .partition(|m| m.1);
        act.draw_series(
            hit.iter()
                .map(|&(t, _)| TriangleMarker::new((t, y_mark), 7, HIT_COLOUR.filled())),
        )
        .map_err(|x| e(&x))?;
        legend.push(LegendEntry::Hit("reference: hit".to_string()));
        act.draw_series(
            miss.iter()
                .map(|&(t, _)| Cross::new((t, y_mark), 6, MISS_COLOUR.stroke_width(2))),
        )
        .map_err(|x| e(&x))?;
        legend.push(LegendEntry::Miss(format!(
            "reference: miss (> {:.0} ms)",
            config.hit_window_s * 1e3
        )));
    }
    draw_legend(&legend_strip, &legend, beat_style).map_err(|x| e(&x))
}

/// One entry of the legend row above the panels.
enum LegendEntry {
    Beat(String),
    Curve(RGBColor, String),
    Hit(String),
    Miss(String),
}

/// Draws the legend as one centred row, outside the data.
fn draw_legend<DB: DrawingBackend>(
    strip: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    beat_style: ShapeStyle,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ("sans-serif", 17).into_font();
    let text_style = TextStyle::from(font.clone()).pos(Pos::new(HPos::Left, VPos::Center));
    let (w, h) = strip.dim_in_pixel();
    let y = h as i32 / 2;
    let gap = 34;
    let widths: Vec<i32> = entries
        .iter()
        .map(|entry| {
            let label = match entry {
                LegendEntry::Beat(l)
                | LegendEntry::Curve(_, l)
                | LegendEntry::Hit(l)
                | LegendEntry::Miss(l) => l,
            };
            let text_w = strip
                .estimate_text_size(label, &text_style)
                .map_or(100, |s| s.0 as i32);
            28 + text_w
        })
        .collect();
    let total: i32 = widths.iter().sum::<i32>() + gap * (entries.len() as i32 - 1).max(0);
    let mut x = ((w as i32 - total) / 2).max(0);
    for (entry, width) in entries.iter().zip(widths) {
        let (glyph_x, text_x) = (x + 10, x + 28);
        let label = match entry {
            LegendEntry::Beat(l) => {
                strip.draw(&PathElement::new(
                    vec![(glyph_x, y - 9), (glyph_x, y + 9)],
                    beat_style,
                ))?;
                l
            }
            LegendEntry::Curve(c, l) => {
                strip.draw(&PathElement::new(
                    vec![(glyph_x - 10, y), (glyph_x + 10, y)],
                    c.stroke_width(2),
                ))?;
                l
            }
            LegendEntry::Hit(l) => {
                strip.draw(&TriangleMarker::new((glyph_x, y), 7, HIT_COLOUR.filled()))?;
                l
            }
            LegendEntry::Miss(l) => {
                strip.draw(&Cross::new((glyph_x, y), 6, MISS_COLOUR.stroke_width(2)))?;
                l
            }
        };
        strip.draw(&Text::new(label.as_str(), (text_x, y), text_style.clone()))?;
        x += width + gap;
    }
    Ok(())
}

/// A named series of `(step, value)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points in step order.
    pub points: Vec<(f64, f64)>,
    /// Drawn translucent when true: secondary series.
    pub secondary: bool,
}

/// What [`plot_training`] draws: one panel per entry, sharing the step axis.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingPlot {
    /// Figure title (may be empty).
    pub title: String,
    /// Label of the shared x axis (e.g. "Optimiser step").
    pub x_label: String,
    /// Panels, top to bottom: y-axis label and its series.
    pub panels: Vec<(String, Vec<Series>)>,
}

/// Draws training curves (loss, validation metrics) to `path` (`.svg` or `.png`).
pub fn plot_training(plot: &TrainingPlot, config: &PlotConfig, path: &Path) -> Result<()> {
    let _span = tracing::info_span!("plot.training", path = %path.display()).entered();
    config.validate()?;
    if plot.panels.is_empty() {
        return Err(Error::InvalidInput("plot: no training panels".into()));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let fail = |e: String| Error::io(path, std::io::Error::other(e));
    register_font();
    match ext.as_str() {
        "svg" => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (config.width_px, config.height_px))
                    .into_drawing_area();
                draw_training(&root, plot).map_err(Error::InvalidInput)?;
                root.present()
                    .map_err(|e| Error::InvalidInput(format!("plot: {e}")))?;
            }
            std::fs::write(path, svg).map_err(|e| Error::io(path, e))
        }
        "png" => {
            let root =
                BitMapBackend::new(path, (config.width_px, config.height_px)).into_drawing_area();
            draw_training(&root, plot).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        _ => Err(Error::InvalidInput(format!(
            "{}: plots are written as .svg or .png",
            path.display()
        ))),
    }
}

fn draw_training<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &TrainingPlot,
) -> DrawResult {
    let e = |x: &dyn std::fmt::Display| format!("plot: {x}");
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let root = root.margin(10, 4, 4, 12);
    let root = if plot.title.is_empty() {
        root
    } else {
        root.titled(&plot.title, ("sans-serif", 26))
            .map_err(|x| e(&x))?
    };
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let all = plot
        .panels
        .iter()
        .flat_map(|(_, s)| s.iter().flat_map(|s| s.points.iter()))
        .filter(finite);
    let (x0, x1) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let (x0, x1) = if x0.is_finite() && x1 > x0 {
        (x0, x1)
    } else {
        (0.0, 1.0)
    };
    let areas = root.split_evenly((plot.panels.len(), 1));
    let last = plot.panels.len() - 1;
    for (k, ((y_label, series), area)) in plot.panels.iter().zip(areas.iter()).enumerate() {
        let (y0, y1) = series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(finite)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.1), b.max(p.1))
            });
        let (y0, y1) = if y0.is_finite() && y1 > y0 {
            let pad = (y1 - y0) * 0.06;
            (y0 - pad, y1 + pad)
        } else if y0.is_finite() {
            (y0 - 0.5, y0 + 0.5)
        } else {
            (0.0, 1.0)
        };
        let mut chart = ChartBuilder::on(area)
            .margin(8)
            .x_label_area_size(if k == last { 50 } else { 8 })
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|x| e(&x))?;
        let mut mesh = chart.configure_mesh();
        mesh.y_desc(y_label.as_str())
            .y_labels(6)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .light_line_style(WHITE.mix(0.0));
        if k == last {
            mesh.x_desc(plot.x_label.as_str())
                .x_label_formatter(&|x| format!("{x:.0}"));
        } else {
            mesh.x_labels(0);
        }
        mesh.draw().map_err(|x| e(&x))?;
        for (i, s) in series.iter().enumerate() {
            let colour = ACTIVATION_COLOURS[i % ACTIVATION_COLOURS.len()];
            let style = if s.secondary {
                colour.mix(0.55).stroke_width(2)
            } else {
                colour.stroke_width(2)
            };
            let points: Vec<(f64, f64)> = s.points.iter().filter(finite).copied().collect();
            // Sparse series (validation points) get markers, so a single point still shows.
            if points.len() < 60 {
                let marker = if s.secondary {
                    colour.mix(0.55).filled()
                } else {
                    colour.filled()
                };
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 3, marker)))
                    .map_err(|x| e(&x))?;
            }
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(|x| e(&x))?
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|x| e(&x))?;
    }
    Ok(())
}

/// Moving average of `values` over `window` points, sampled every `every` points, as
/// `(index + 1, mean)` pairs (for noisy per-step losses).
pub fn smooth(values: &[f32], window: usize, every: usize) -> Vec<(f64, f64)> {
    let (window, every) = (window.max(1), every.max(1));
    let mut out = Vec::new();
    let mut sum = 0.0f64;
    let mut n = 0usize;
    for (i, v) in values.iter().enumerate() {
        sum += f64::from(*v);
        n += 1;
        if n > window {
            sum -= f64::from(values[i - window]);
            n = window;
        }
        if (i + 1) % every == 0 || i + 1 == values.len() {
            out.push(((i + 1) as f64, sum / n as f64));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_matching_uses_the_window() {
        let m = hits(&[1.0, 2.05], &[1.06, 2.0, 3.0, 0.5], 0.07);
        assert_eq!(
            m,
            vec![(1.06, true), (2.0, true), (3.0, false), (0.5, false)]
        );
        let m = hits(&[], &[1.0], 0.07);
        assert_eq!(m, vec![(1.0, false)]);
    }

    #[test]
    fn smoothing_averages_a_window() {
        let s = smooth(&[1.0, 3.0, 5.0, 7.0], 2, 2);
        assert_eq!(s, vec![(2.0, 2.0), (4.0, 6.0)]);
        assert!(smooth(&[], 10, 10).is_empty());
    }

    #[test]
    fn training_plot_has_panels_and_labels() {
        let plot = TrainingPlot {
            title: "run".into(),
            x_label: "Optimiser step".into(),
            panels: vec![
                (
                    "NT-Xent loss".into(),
                    vec![Series {
                        name: "training".into(),
                        points: vec![(1.0, 2.7), (2.0, 2.5), (3.0, f64::NAN)],
                        secondary: false,
                    }],
                ),
                (
                    "Cosine".into(),
                    vec![Series {
                        name: "positives".into(),
                        points: vec![(2.0, 0.5)],
                        secondary: true,
                    }],
                ),
            ],
        };
        let dir = std::env::temp_dir().join(format!("zerons-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let svg = dir.join("t.svg");
        plot_training(&plot, &PlotConfig::default(), &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        for label in [
            "NT-Xent loss",
            "Cosine",
            "Optimiser step",
            "training",
            "positives",
        ] {
            assert!(text.contains(label), "{label} missing");
        }
        assert!(plot_training(&plot, &PlotConfig::default(), &dir.join("t.txt")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn envelope_covers_the_span() {
        let s = Signal::new((0..1000).map(|k| (k as f32 / 10.0).sin()).collect(), 100);
        let env = envelope(&s, 0.0, 10.0, 50);
        assert_eq!(env.len(), 50);
        assert!(
            env.iter()
                .all(|&(_, lo, hi)| lo <= hi && hi <= 1.0 && lo >= -1.0)
        );
        // Past the end of the audio: no columns, no panic.
        assert!(envelope(&s, 20.0, 30.0, 10).is_empty());
        assert!(!FONT.is_empty());
    }
}
