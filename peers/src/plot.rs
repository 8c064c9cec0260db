//! The scaling plot: check latency and load time against organisation size,
//! one line per engine, log-log.

use plotters::prelude::*;

/// `(engine, users, load ms, check median ns)` points, in any order.
pub fn draw(
    path: &std::path::Path,
    points: &[(String, f64, f64, f64)],
) -> Result<(), Box<dyn std::error::Error>> {
    let mut points = points.to_vec();
    points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let points = &points[..];
    let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(500);
    let engines: Vec<String> = {
        let mut e: Vec<String> = points.iter().map(|p| p.0.clone()).collect();
        e.dedup();
        e
    };
    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
    ];
    let users = |f: fn(&(String, f64, f64, f64)) -> f64| {
        let lo = points.iter().map(f).fold(f64::MAX, f64::min);
        let hi = points.iter().map(f).fold(f64::MIN, f64::max);
        (lo / 2.0).max(1e-3)..hi * 2.0
    };
    for (area, title, value, seconds) in [
        (
            &left,
            "check latency (median)",
            (|p: &(String, f64, f64, f64)| p.3) as fn(&_) -> f64,
            1e-9,
        ),
        (
            &right,
            "load time",
            (|p: &(String, f64, f64, f64)| p.2) as fn(&_) -> f64,
            1e-3,
        ),
    ] {
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(users(|p| p.1).log_scale(), users(value).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("users")
            .x_label_formatter(&|v| count(*v))
            .y_label_formatter(&|v| duration(v * seconds))
            .light_line_style(WHITE)
            .draw()?;
        for (i, engine) in engines.iter().enumerate() {
            let color = colors[i % colors.len()];
            let series: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| &p.0 == engine)
                .map(|p| (p.1, value(p)))
                .collect();
            chart
                .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))?
                .label(engine.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart.draw_series(
                series
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// `1000` as 1k, `1000000` as 1M.
fn count(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{}M", v / 1e6),
        v if v >= 1e3 => format!("{}k", v / 1e3),
        v => format!("{v}"),
    }
}

/// Seconds in the unit that reads best: 100 ns, 10 µs, 1 ms, 10 s.
fn duration(s: f64) -> String {
    let (v, unit) = match s {
        s if s >= 1.0 => (s, "s"),
        s if s >= 1e-3 => (s * 1e3, "ms"),
        s if s >= 1e-6 => (s * 1e6, "µs"),
        s => (s * 1e9, "ns"),
    };
    format!("{} {unit}", (v * 1e3).round() / 1e3)
}
