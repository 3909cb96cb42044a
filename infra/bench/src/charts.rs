//! The pictures in `docs/performance.md` (issue 24 item 4): SVG charts drawn with `plotters`
//! from `bench/results.json` after every run, so they always show the figures the doc prints.
//!
//! - `perf-added-latency.svg`: added latency over bedrock-local direct, per gateway (peers part);
//! - `perf-cold-start.svg`: cold start per runtime, init and first invoke (log scale);
//! - `perf-lmi.svg`: peak RSS and added first-token p99 versus concurrent streams (LMI part).
//!
//! A chart whose figures are missing from the report is not drawn (and not embedded).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use serde_json::Value;

/// Where the charts go in `docs/performance.md`: between these markers, rewritten every run.
pub const MARK_START: &str = "<!-- charts:start -->";
pub const MARK_END: &str = "<!-- charts:end -->";

const SIZE: (u32, u32) = (860, 440);
const FONT: &str = "sans-serif";
/// Colour-blind-safe (Okabe-Ito) series colours.
const COLOURS: [RGBColor; 4] = [
    RGBColor(0, 114, 178),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(230, 159, 0),
];

type DrawResult<T> = Result<T, String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// One bar group: a label and a value per series (`None`: not measured, no bar).
struct Group {
    label: String,
    values: Vec<Option<f64>>,
}

/// A grouped bar chart.
struct Bars<'a> {
    caption: &'a str,
    y_desc: &'a str,
    series: &'a [&'a str],
    groups: Vec<Group>,
    log: bool,
}

/// Draws every chart the report has figures for into `dir`; returns the Markdown that embeds them
/// (between the markers), paths relative to the doc.
pub fn write(results: &Value, dir: &Path) -> DrawResult<(Vec<PathBuf>, String)> {
    let mut written = Vec::new();
    let mut md = format!("{MARK_START}\n## Charts\n\n");
    let charts: [(&str, &str, Option<Bars<'_>>); 2] = [
        (
            "perf-added-latency.svg",
            "Added latency over bedrock-local direct, per gateway",
            added_latency(results),
        ),
        (
            "perf-cold-start.svg",
            "Cold start per runtime (median, log scale)",
            cold_start(results),
        ),
    ];
    for (file, alt, bars) in charts {
        let Some(bars) = bars else { continue };
        let path = dir.join(file);
        std::fs::write(&path, render(|root| draw_bars(root, &bars))?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        md.push_str(&format!("![{alt}]({file})\n\n"));
        written.push(path);
    }
    if let Some(levels) = lmi_levels(results, "/lmi/levels") {
        let steady = lmi_levels(results, "/lmi/steady").unwrap_or_default();
        let path = dir.join("perf-lmi.svg");
        std::fs::write(&path, render(|root| draw_lmi(root, &levels, &steady))?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        md.push_str(
            "![Peak RSS and added first-token p99 versus concurrent streams in one process](perf-lmi.svg)\n\n",
        );
        written.push(path);
    }
    md.push_str(
        "The charts are drawn by `make bench` from `bench/results.json` (the figures in the tables \
         above and below); a part that was not measured has no chart.\n",
    );
    md.push_str(MARK_END);
    md.push('\n');
    Ok((written, md))
}

/// Redraws the charts from the report at `out` next to `doc`, and splices their part into `doc`.
pub fn refresh(out: &Path, doc: &Path) -> DrawResult<Vec<PathBuf>> {
    let text = std::fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let results: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let dir = doc.parent().unwrap_or(Path::new("."));
    let (written, part) = write(&results, dir)?;
    let md = std::fs::read_to_string(doc).map_err(|e| format!("{}: {e}", doc.display()))?;
    let md = crate::doc_parts::splice(&md, MARK_START, MARK_END, &part);
    std::fs::write(doc, md).map_err(|e| format!("{}: {e}", doc.display()))?;
    Ok(written)
}

fn render(
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult<()>,
) -> DrawResult<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn median(v: &Value) -> Option<f64> {
    v.get("median").and_then(Value::as_f64)
}

/// Peers: each gateway's added latency (chat and first token, p50 and p99).
fn added_latency(results: &Value) -> Option<Bars<'static>> {
    const SERIES: &[&str] = &[
        "request p50",
        "request p99",
        "stream first token p50",
        "stream first token p99",
    ];
    let targets = results.pointer("/peers/targets")?.as_array()?;
    let groups: Vec<Group> = targets
        .iter()
        .filter(|t| t.get("added_chat_ms").is_some_and(|v| !v.is_null()))
        .map(|t| {
            let q = |k: &str, p: &str| t.get(k).and_then(|s| s.get(p)).and_then(Value::as_f64);
            Group {
                label: short_name(
                    t.get("key").and_then(Value::as_str).unwrap_or(""),
                    t.get("name").and_then(Value::as_str).unwrap_or("?"),
                ),
                values: vec![
                    q("added_chat_ms", "median"),
                    q("added_chat_ms", "p99"),
                    q("added_ttft_ms", "median"),
                    q("added_ttft_ms", "p99"),
                ],
            }
        })
        .collect();
    (!groups.is_empty()).then_some(Bars {
        caption: "Added latency over bedrock-local direct (ms, lower is better)",
        y_desc: "ms added",
        series: SERIES,
        groups,
        log: false,
    })
}

/// A label that fits under its bars: ours by mode, the peers by their own name and version.
fn short_name(key: &str, name: &str) -> String {
    match key {
        "ours_classic" => "this gateway (classic)".into(),
        "ours_lmi" => "this gateway (LMI)".into(),
        _ => name.split(" (").next().unwrap_or(name).to_string(),
    }
}

/// Cold start: init and first invoke medians per runtime, from the cold-start figures.
fn cold_start(results: &Value) -> Option<Bars<'static>> {
    const SERIES: &[&str] = &["init (spawn → first next)", "first invoke"];
    let figures = results.get("figures")?.as_array()?;
    let fig = |id: &str| {
        figures
            .iter()
            .find(|f| f.get("id").and_then(Value::as_str) == Some(id))
    };
    let ours = |id: &str| fig(id).and_then(|f| f.get("ours")).and_then(median);
    let base = |id: &str| {
        fig(id)
            .and_then(|f| f.pointer("/baseline/summary"))
            .and_then(median)
    };
    let mut groups = vec![Group {
        label: "minimal Rust".into(),
        values: vec![
            base("cold_start.init.invoke"),
            base("cold_start.first_invoke.invoke.vs_minimal"),
        ],
    }];
    for name in ["invoke", "stream-url", "count", "async-callback"] {
        groups.push(Group {
            label: name.into(),
            values: vec![
                ours(&format!("cold_start.init.{name}")),
                ours(&format!("cold_start.first_invoke.{name}.vs_minimal")),
            ],
        });
    }
    groups.push(Group {
        label: "Python boto3".into(),
        values: vec![
            ours("cold_start.init.python-boto3"),
            ours("cold_start.first_invoke.python-boto3"),
        ],
    });
    groups.retain(|g| g.values.iter().any(Option::is_some));
    (!groups.is_empty()).then_some(Bars {
        caption: "Cold start per runtime (median ms, log scale, lower is better)",
        y_desc: "ms",
        series: SERIES,
        groups,
        log: true,
    })
}

fn draw_bars(root: &DrawingArea<SVGBackend<'_>, Shift>, bars: &Bars<'_>) -> DrawResult<()> {
    let values = || bars.groups.iter().flat_map(|g| g.values.iter().flatten());
    let max = values().fold(0.0_f64, |a, &b| a.max(b));
    let min_pos = values()
        .filter(|v| **v > 0.0)
        .fold(f64::INFINITY, |a, &b| a.min(b));
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(bars.caption, (FONT, 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64);
    let x_range = 0.0..bars.groups.len() as f64;
    if bars.log {
        let floor = (min_pos / 2.0).max(0.01);
        let chart = builder
            .build_cartesian_2d(x_range, (floor..max * 2.0).log_scale())
            .map_err(err)?;
        fill_bars(root, chart, bars, floor)
    } else {
        let chart = builder
            .build_cartesian_2d(x_range, 0.0..max * 1.15)
            .map_err(err)?;
        fill_bars(root, chart, bars, 0.0)
    }
}

/// Mesh, one bar per group and series (from `floor`), legend and group names, on either y axis.
fn fill_bars<'a, Y>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    bars: &Bars<'_>,
    floor: f64,
) -> DrawResult<()>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(bars.y_desc)
        .draw()
        .map_err(err)?;
    let width = 0.8 / bars.series.len() as f64;
    for (si, name) in bars.series.iter().enumerate() {
        let colour = COLOURS[si % COLOURS.len()];
        chart
            .draw_series(bars.groups.iter().enumerate().filter_map(|(gi, g)| {
                let v = g.values.get(si).copied().flatten()?;
                let x0 = gi as f64 + 0.1 + si as f64 * width;
                Some(Rectangle::new(
                    [(x0, floor), (x0 + width * 0.9, v.max(floor))],
                    colour.filled(),
                ))
            }))
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    label_groups(root, &bars.groups, |x| chart.backend_coord(&(x, floor)))
}

/// Each group's name under its bars (plotters places numeric labels only at round values).
fn label_groups(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    groups: &[Group],
    at: impl Fn(f64) -> (i32, i32),
) -> DrawResult<()> {
    let style =
        TextStyle::from((FONT, 14).into_font()).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Top,
        ));
    for (gi, g) in groups.iter().enumerate() {
        let (x, y) = at(gi as f64 + 0.5);
        root.draw(&Text::new(g.label.clone(), (x, y + 8), style.clone()))
            .map_err(err)?;
    }
    Ok(())
}

/// LMI levels at `pointer` (the waves or the steady phase): (N, peak RSS MB, added first-token
/// p99 ms).
fn lmi_levels(results: &Value, pointer: &str) -> Option<Vec<(f64, f64, Option<f64>)>> {
    let levels = results.pointer(pointer)?.as_array()?;
    let out: Vec<_> = levels
        .iter()
        .filter_map(|l| {
            Some((
                l.get("n")?.as_f64()?,
                l.get("peak_rss_mb")?.as_f64()?,
                l.get("added_first_token_p99_ms").and_then(Value::as_f64),
            ))
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

/// Smallest added first-token p99 drawn: the right axis is logarithmic (the waves' and the
/// steady phase's figures are orders of magnitude apart); a smaller or negative one sits on it.
const LMI_FLOOR_MS: f64 = 0.1;

fn draw_lmi(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    levels: &[(f64, f64, Option<f64>)],
    steady: &[(f64, f64, Option<f64>)],
) -> DrawResult<()> {
    let all = || levels.iter().chain(steady);
    let max_n = all().map(|l| l.0).fold(1.0, f64::max);
    let max_rss = all().map(|l| l.1).fold(0.0, f64::max);
    let max_added = all().filter_map(|l| l.2).fold(1.0, f64::max);
    let x = (1.0..max_n * 1.5).log_scale();
    let mut chart = ChartBuilder::on(root)
        .caption(
            "One stream-url process, N concurrent paced streams (LMI)",
            (FONT, 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .right_y_label_area_size(64)
        .build_cartesian_2d(x.clone(), 0.0..max_rss * 1.2)
        .map_err(err)?
        .set_secondary_coord(x, (LMI_FLOOR_MS..max_added * 2.0).log_scale());
    chart
        .configure_mesh()
        .x_desc("concurrent streams N (log scale)")
        .y_desc("peak RSS (MB)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("added first-token p99 vs N = 1 (ms, log scale)")
        .draw()
        .map_err(err)?;
    let rss = COLOURS[0];
    chart
        .draw_series(LineSeries::new(
            levels.iter().map(|l| (l.0, l.1)),
            rss.stroke_width(2),
        ))
        .map_err(err)?
        .label("peak RSS (MB, left)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], rss.stroke_width(2)));
    chart
        .draw_series(
            levels
                .iter()
                .map(|l| Circle::new((l.0, l.1), 4, rss.filled())),
        )
        .map_err(err)?;
    for (series, colour, label) in [
        (
            levels,
            COLOURS[2],
            "added first-token p99, waves (ms, right)",
        ),
        (
            steady,
            COLOURS[1],
            "added first-token p99, steady (ms, right)",
        ),
    ] {
        let points: Vec<(f64, f64)> = series
            .iter()
            .filter_map(|l| Some((l.0, l.2?.max(LMI_FLOOR_MS))))
            .collect();
        if points.is_empty() {
            continue;
        }
        chart
            .draw_secondary_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        chart
            .draw_secondary_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Value {
        json!({
            "figures": [
                {"id": "cold_start.init.invoke", "ours": {"median": 4.8}, "baseline": {"summary": {"median": 1.4}}},
                {"id": "cold_start.first_invoke.invoke.vs_minimal", "ours": {"median": 7.3}, "baseline": {"summary": {"median": 1.5}}},
                {"id": "cold_start.first_invoke.python-boto3", "ours": {"median": 265.0}},
            ],
            "peers": {"targets": [
                {"key": "direct", "name": "bedrock-local direct", "added_chat_ms": null},
                {"key": "litellm", "name": "LiteLLM proxy 1.108.7", "added_chat_ms": {"median": 14.1, "p99": 31.0}, "added_ttft_ms": {"median": 14.6, "p99": 39.1}},
            ]},
            "lmi": {"levels": [
                {"n": 1, "peak_rss_mb": 13.9, "added_first_token_p99_ms": null},
                {"n": 256, "peak_rss_mb": 43.1, "added_first_token_p99_ms": 896.1},
            ], "steady": [
                {"n": 1, "peak_rss_mb": 14.0, "added_first_token_p99_ms": null},
                {"n": 256, "peak_rss_mb": 45.0, "added_first_token_p99_ms": 2.5},
            ]},
        })
    }

    #[test]
    fn every_chart_is_drawn_from_the_report_and_embedded() {
        let dir = std::env::temp_dir().join(format!("bench-charts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (written, md) = write(&report(), &dir).unwrap();
        assert_eq!(written.len(), 3, "{written:?}");
        for p in &written {
            let svg = std::fs::read_to_string(p).unwrap();
            assert!(
                svg.starts_with("<svg") && svg.contains("</svg>"),
                "{}",
                p.display()
            );
            let file = p.file_name().unwrap().to_str().unwrap();
            assert!(md.contains(&format!("({file})")), "{md}");
        }
        let latency = std::fs::read_to_string(dir.join("perf-added-latency.svg")).unwrap();
        assert!(
            latency.contains("LiteLLM proxy 1.108.7"),
            "gateway labelled"
        );
        assert!(
            !latency.contains(">bedrock-local direct<"),
            "direct is the baseline, not a bar"
        );
        let lmi = std::fs::read_to_string(dir.join("perf-lmi.svg")).unwrap();
        assert!(lmi.contains("p99, waves") && lmi.contains("p99, steady"));
        let cold = std::fs::read_to_string(dir.join("perf-cold-start.svg")).unwrap();
        assert!(cold.contains("minimal Rust") && cold.contains("Python boto3"));
        assert!(
            !cold.contains(">count<"),
            "a runtime without figures is left out"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_part_not_measured_has_no_chart() {
        let dir = std::env::temp_dir().join(format!("bench-charts-none-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (written, md) = write(&json!({"figures": []}), &dir).unwrap();
        assert!(written.is_empty());
        assert!(!md.contains(".svg") && md.starts_with(MARK_START));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
