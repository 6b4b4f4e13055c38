//! An aggregation's result rows turned into what the Results page draws:
//! the latest revision of each (window, group), one series per group (the
//! top N by total, or those matching a filter), points at the window's
//! start (tumbling, session) or end (sliding, cumulative: the value as of
//! that instant), provisional rows and revisions counted and marked.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sluice_connectors::table::FIXED_COLUMNS;
use sluice_connectors::{QueryCell, QueryResult};
use sluice_formats::time::parse_rfc3339;

/// Rows read per request (newest windows first).
pub const ROW_LIMIT: usize = 20_000;

/// What the page asks for.
#[derive(Debug, Clone, Default)]
pub struct SeriesQuery {
    /// Series to draw (largest totals first); 0 means 8.
    pub top: usize,
    /// Only groups whose label contains this (case-insensitive).
    pub group: Option<String>,
    /// The value column (`value`, or `p50`, `p99`, ... for percentiles).
    pub value: Option<String>,
    /// Only windows starting at or after this (epoch ms).
    pub from_ms: Option<i64>,
    /// Only windows starting before this (epoch ms).
    pub to_ms: Option<i64>,
}

/// One point of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Window start, epoch ms.
    pub start: i64,
    /// Window end, epoch ms.
    pub end: i64,
    /// The value (`None` when the store holds NULL).
    pub value: Option<f64>,
    /// Still open when written (may change).
    pub provisional: bool,
    /// Revision (0: the first result of the window).
    pub revision: i64,
}

/// One group's points, by window start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// The group's values joined (`desktop / US`), or `all`.
    pub group: String,
    /// Points.
    pub points: Vec<Point>,
}

/// The page's data for one aggregation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultSeries {
    /// Which end of a window the x axis uses: `start` or `end`.
    pub x: &'static str,
    /// Value columns the table has (the page offers them).
    pub value_columns: Vec<String>,
    /// The value column drawn.
    pub value: String,
    /// Groups in the rows read.
    pub groups_total: usize,
    /// Drawn series.
    pub series: Vec<Series>,
    /// Rows that were provisional, among the latest revisions.
    pub provisional: usize,
    /// Windows with more than one revision.
    pub revised: usize,
    /// Rows read from the store.
    pub rows_read: usize,
}

/// Epoch ms of a timestamp cell as the stores print them
/// (`2024-01-01 00:00:00[.000]`, RFC 3339, or epoch seconds/ms).
pub fn cell_ms(c: &QueryCell) -> Option<i64> {
    match c {
        QueryCell::Text(s) => {
            let t = s.trim();
            parse_rfc3339(t).or_else(|| parse_rfc3339(&format!("{t}Z")))
        }
        QueryCell::Number(n) => n.parse::<i64>().ok(),
        _ => None,
    }
}

/// A time a user typed (UTC unless it says otherwise): RFC 3339, or a
/// date with an optional `HH:MM[:SS]`.
pub fn time_text_ms(t: &str) -> Option<i64> {
    let t = t.trim();
    let cell = |s: String| cell_ms(&QueryCell::Text(s));
    cell(t.to_string())
        .or_else(|| cell(format!("{t}:00")))
        .or_else(|| cell(format!("{t} 00:00:00")))
}

fn cell_f64(c: &QueryCell) -> Option<f64> {
    match c {
        QueryCell::Number(n) | QueryCell::Text(n) => n.parse().ok(),
        QueryCell::Bool(b) => Some(f64::from(u8::from(*b))),
        QueryCell::Null => None,
    }
}

fn cell_text(c: &QueryCell) -> String {
    match c {
        QueryCell::Null => "∅".into(),
        QueryCell::Number(s) | QueryCell::Text(s) => s.clone(),
        QueryCell::Bool(b) => b.to_string(),
    }
}

fn cell_bool(c: &QueryCell) -> bool {
    match c {
        QueryCell::Bool(b) => *b,
        QueryCell::Number(n) => n != "0",
        QueryCell::Text(t) => t == "true" || t == "1",
        QueryCell::Null => false,
    }
}

/// How a table's windows are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// At the window's start (tumbling).
    Start,
    /// At the window's end: the value as of that instant (sliding,
    /// cumulative).
    End,
    /// Sessions: a session a later emission grew supersedes it, so a
    /// window inside another of its group is dropped (as ClickHouse's
    /// final view does).
    Session,
}

/// Builds the series of `r` (the rows of one result table or view).
pub fn series(r: &QueryResult, q: &SeriesQuery, dims: &[String], shape: Shape) -> ResultSeries {
    let x_end = shape == Shape::End;
    let col = |n: &str| r.columns.iter().position(|c| c == n);
    let value_columns: Vec<String> = r
        .columns
        .iter()
        .filter(|c| !FIXED_COLUMNS.contains(&c.as_str()) && !dims.contains(c))
        .cloned()
        .collect();
    let value = q
        .value
        .clone()
        .filter(|v| value_columns.contains(v))
        .or_else(|| value_columns.first().cloned())
        .unwrap_or_else(|| "value".into());
    let (start_i, end_i, value_i) = (col("window_start"), col("window_end"), col(&value));
    let (rev_i, prov_i) = (col("revision"), col("provisional"));
    let dim_i: Vec<usize> = dims.iter().filter_map(|d| col(d)).collect();
    // latest revision per (group, start, end)
    let mut latest: HashMap<(String, i64, i64), Point> = HashMap::new();
    let mut revised = 0usize;
    for row in &r.rows {
        let (Some(start), Some(end)) = (
            start_i.and_then(|i| row.get(i)).and_then(cell_ms),
            end_i.and_then(|i| row.get(i)).and_then(cell_ms),
        ) else {
            continue;
        };
        if q.from_ms.is_some_and(|f| start < f) || q.to_ms.is_some_and(|t| start >= t) {
            continue;
        }
        let group = if dim_i.is_empty() {
            "all".to_string()
        } else {
            dim_i
                .iter()
                .map(|&i| row.get(i).map(cell_text).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let p = Point {
            start,
            end,
            value: value_i.and_then(|i| row.get(i)).and_then(cell_f64),
            provisional: prov_i.and_then(|i| row.get(i)).is_some_and(cell_bool),
            revision: rev_i
                .and_then(|i| row.get(i))
                .and_then(cell_f64)
                .map_or(0, |v| v as i64),
        };
        match latest.entry((group, start, end)) {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                revised += 1;
                if p.revision >= o.get().revision {
                    o.insert(p);
                }
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                if p.revision > 0 {
                    revised += 1;
                }
                v.insert(p);
            }
        }
    }
    let mut by_group: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    let mut provisional = 0;
    for ((g, _, _), p) in latest {
        provisional += usize::from(p.provisional);
        by_group.entry(g).or_default().push(p);
    }
    let groups_total = by_group.len();
    let filter = q.group.as_ref().map(|g| g.to_lowercase());
    let mut ranked: Vec<(f64, Series)> = by_group
        .into_iter()
        .filter(|(g, _)| {
            filter
                .as_ref()
                .is_none_or(|f| g.to_lowercase().contains(f.as_str()))
        })
        .map(|(group, mut points)| {
            if shape == Shape::Session {
                // by start, longest first: a window is inside an earlier one
                // exactly when an earlier end reaches past its own
                points.sort_by_key(|p| (p.start, std::cmp::Reverse(p.end)));
                let mut reach = i64::MIN;
                points.retain(|p| {
                    let inside = reach >= p.end;
                    reach = reach.max(p.end);
                    !inside
                });
            }
            points.sort_by_key(|p| (p.start, p.end));
            let total = points.iter().filter_map(|p| p.value).map(f64::abs).sum();
            (total, Series { group, points })
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.1.group.cmp(&b.1.group))
    });
    let top = if q.top == 0 { 8 } else { q.top };
    ResultSeries {
        x: if x_end { "end" } else { "start" },
        value_columns,
        value,
        groups_total,
        series: ranked.into_iter().take(top).map(|(_, s)| s).collect(),
        provisional,
        revised,
        rows_read: r.rows.len(),
    }
}

/// RFC 4180 CSV of a query result, with a header.
pub fn csv(r: &QueryResult) -> String {
    let field = |s: String| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let mut out = r
        .columns
        .iter()
        .map(|c| field(c.clone()))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for row in &r.rows {
        let line: Vec<String> = row
            .iter()
            .map(|c| match c {
                QueryCell::Null => String::new(),
                other => field(cell_text(other)),
            })
            .collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_times_read_as_utc() {
        let noon = 1_796_385_600_000;
        assert_eq!(time_text_ms("2026-12-04T12:00:00Z"), Some(noon));
        assert_eq!(time_text_ms("2026-12-04 12:00:00"), Some(noon));
        assert_eq!(time_text_ms(" 2026-12-04 12:00 "), Some(noon));
        assert_eq!(time_text_ms("2026-12-04"), Some(noon - 12 * 3_600_000));
        assert_eq!(time_text_ms("yesterday"), None);
        assert_eq!(time_text_ms("2026-13-04"), None);
    }

    fn t(s: &str) -> QueryCell {
        QueryCell::Text(s.into())
    }
    fn n(s: &str) -> QueryCell {
        QueryCell::Number(s.into())
    }

    fn table() -> QueryResult {
        let row = |start: &str, end: &str, dev: &str, v: &str, rev: &str, prov: bool| {
            vec![
                t(start),
                t(end),
                t(dev),
                t(dev),
                n(v),
                n(rev),
                QueryCell::Bool(prov),
                t(start),
            ]
        };
        QueryResult {
            columns: [
                "window_start",
                "window_end",
                "device_type",
                "group_key",
                "value",
                "revision",
                "provisional",
                "emitted_at",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![
                row(
                    "2024-01-01 00:00:00.000",
                    "2024-01-01 00:01:00.000",
                    "desktop",
                    "5",
                    "0",
                    false,
                ),
                // a revision of the same window: the later one wins
                row(
                    "2024-01-01 00:00:00.000",
                    "2024-01-01 00:01:00.000",
                    "desktop",
                    "7",
                    "1",
                    false,
                ),
                row(
                    "2024-01-01 00:01:00.000",
                    "2024-01-01 00:02:00.000",
                    "desktop",
                    "3",
                    "0",
                    true,
                ),
                row(
                    "2024-01-01 00:00:00.000",
                    "2024-01-01 00:01:00.000",
                    "mobile",
                    "1",
                    "0",
                    false,
                ),
                row(
                    "2024-01-01 00:00:00.000",
                    "2024-01-01 00:01:00.000",
                    "tablet",
                    "100",
                    "0",
                    false,
                ),
            ],
        }
    }

    #[test]
    fn latest_revision_per_window_top_groups_first() {
        let dims = vec!["device_type".to_string()];
        let s = series(
            &table(),
            &SeriesQuery {
                top: 2,
                ..Default::default()
            },
            &dims,
            Shape::Start,
        );
        assert_eq!(s.groups_total, 3);
        assert_eq!(s.value, "value");
        assert_eq!(s.value_columns, vec!["value".to_string()]);
        let groups: Vec<&str> = s.series.iter().map(|x| x.group.as_str()).collect();
        assert_eq!(groups, ["tablet", "desktop"]);
        let desktop = &s.series[1];
        assert_eq!(desktop.points.len(), 2);
        assert_eq!(desktop.points[0].value, Some(7.0));
        assert_eq!(desktop.points[0].revision, 1);
        assert_eq!(desktop.points[0].start, 1_704_067_200_000);
        assert!(desktop.points[1].provisional);
        assert_eq!((s.provisional, s.revised, s.rows_read), (1, 1, 5));
    }

    #[test]
    fn filter_and_time_range() {
        let dims = vec!["device_type".to_string()];
        let q = SeriesQuery {
            group: Some("DESK".into()),
            from_ms: Some(1_704_067_260_000),
            ..Default::default()
        };
        let s = series(&table(), &q, &dims, Shape::End);
        assert_eq!(s.series.len(), 1);
        assert_eq!(s.series[0].points.len(), 1);
        assert_eq!(s.x, "end");
    }

    #[test]
    fn a_grown_session_supersedes_the_one_it_contains() {
        let dims = vec!["device_type".to_string()];
        let mut r = table();
        // desktop's 00:00–00:01 session grew to 00:00–00:03 (emitted again)
        r.rows.push(r.rows[0].clone());
        let last = r.rows.len() - 1;
        r.rows[last][1] = t("2024-01-01 00:03:00.000");
        let s = series(&r, &SeriesQuery::default(), &dims, Shape::Session);
        let desktop = s.series.iter().find(|x| x.group == "desktop").unwrap();
        // 00:00–00:03 covers 00:00–00:01 and 00:01–00:02
        assert_eq!(desktop.points.len(), 1);
        assert_eq!(desktop.points[0].end, 1_704_067_380_000);
        // not for other window kinds
        let s = series(&r, &SeriesQuery::default(), &dims, Shape::Start);
        let desktop = s.series.iter().find(|x| x.group == "desktop").unwrap();
        assert_eq!(desktop.points.len(), 3);
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let r = QueryResult {
            columns: vec!["a".into(), "b".into()],
            rows: vec![
                vec![t("x,y"), QueryCell::Null],
                vec![t("say \"hi\""), n("2")],
            ],
        };
        assert_eq!(csv(&r), "a,b\n\"x,y\",\n\"say \"\"hi\"\"\",2\n");
    }
}
