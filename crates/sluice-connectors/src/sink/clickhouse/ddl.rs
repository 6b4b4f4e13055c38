//! Tables and views generated from the result table specs, for old and
//! modern ClickHouse servers.

use sluice_core::{NumberMerge, StateShape};

use crate::{SqlType, TableSpec};

/// Which column types and table settings a server supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Before 20.1 (Debian's 18.16): `DateTime` (seconds), plain `String`, no TTL.
    Legacy,
    /// 20.1 and later: `DateTime64(3, 'UTC')`, `LowCardinality(String)` for
    /// text dimensions, optional TTL.
    Modern,
}

impl Dialect {
    /// The dialect of a server reporting `version` (`18.16.1`, `24.3.2.23`).
    pub fn from_version(version: &str) -> Dialect {
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|m| m.trim().parse().ok())
            .unwrap_or(0);
        if major >= 20 {
            Dialect::Modern
        } else {
            Dialect::Legacy
        }
    }

    fn time(self) -> &'static str {
        match self {
            Dialect::Legacy => "DateTime('UTC')",
            Dialect::Modern => "DateTime64(3, 'UTC')",
        }
    }
}

/// Name of the dead-letter table.
pub const DEAD_LETTER_TABLE: &str = "_sluice_dead_letters";

fn scalar(ty: SqlType, dialect: Dialect) -> String {
    match ty {
        SqlType::Text => "String".into(),
        SqlType::BigInt | SqlType::HugeInt => "Int64".into(),
        SqlType::Double => "Float64".into(),
        SqlType::Boolean => "UInt8".into(),
        SqlType::Timestamp => dialect.time().into(),
    }
}

/// Whether the value of `spec` is an integer (sum, min and max).
pub(crate) fn integer_value(spec: &TableSpec) -> bool {
    spec.values
        .first()
        .is_some_and(|c| matches!(c.ty, SqlType::BigInt | SqlType::HugeInt))
}

/// The state columns of a table's state shape, `(name, type)`.
pub(crate) fn state_columns(spec: &TableSpec) -> Vec<(String, String)> {
    let num = if integer_value(spec) {
        "Nullable(Int64)"
    } else {
        "Nullable(Float64)"
    };
    let c = |n: &str, t: &str| (n.to_string(), t.to_string());
    match spec.kind.state_shape() {
        StateShape::Counter => vec![c("st_count", "UInt64")],
        StateShape::Number(m) => vec![c(number_column(m), num)],
        StateShape::Mean => vec![
            c("st_isum", "Int64"),
            c("st_fsum", "Float64"),
            c("st_n", "UInt64"),
        ],
        StateShape::Set => vec![c("st_set", "Array(String)")],
        // non-zero HyperLogLog registers as `index << 8 | rank`
        StateShape::Registers => vec![c("st_hll", "Array(UInt32)")],
        StateShape::Sketch => vec![
            c("st_keys", "Array(Int32)"),
            c("st_counts", "Array(UInt64)"),
        ],
    }
}

/// The state column of a number merged by `m` (`st_sum`, `st_min`,
/// `st_max`: tables written by earlier versions keep their names).
fn number_column(m: NumberMerge) -> &'static str {
    match m {
        NumberMerge::Sum => "st_sum",
        NumberMerge::Min => "st_min",
        NumberMerge::Max => "st_max",
    }
}

/// Every column of `<table>_parts`, in insert order: `(name, type)`.
pub fn parts_columns(spec: &TableSpec, dialect: Dialect) -> Vec<(String, String)> {
    let mut cols = vec![
        ("window_start".to_string(), dialect.time().to_string()),
        ("window_end".to_string(), dialect.time().to_string()),
        // exact bounds: old servers' DateTime has whole seconds only
        ("window_start_ms".to_string(), "Int64".to_string()),
        ("window_end_ms".to_string(), "Int64".to_string()),
        ("group_key".to_string(), "String".to_string()),
    ];
    for d in &spec.dims {
        let t = match (d.ty, dialect) {
            (SqlType::Text, Dialect::Modern) => "LowCardinality(Nullable(String))".to_string(),
            (ty, _) => format!("Nullable({})", scalar(ty, dialect)),
        };
        cols.push((d.name.clone(), t));
    }
    cols.extend(state_columns(spec));
    cols.extend([
        ("rev".to_string(), "UInt32".to_string()),
        ("prov".to_string(), "UInt8".to_string()),
        ("emitted".to_string(), dialect.time().to_string()),
        ("_shard".to_string(), "String".to_string()),
        ("_version".to_string(), "UInt64".to_string()),
    ]);
    cols
}

/// Columns of the dead-letter table, `(name, type)`.
pub(crate) fn dead_letter_columns(dialect: Dialect) -> Vec<(&'static str, String)> {
    vec![
        ("kind", "String".into()),
        ("reason", "String".into()),
        ("source", "String".into()),
        ("partition", "UInt32".into()),
        ("offset", "Int64".into()),
        ("event_type", "String".into()),
        ("aggregation", "String".into()),
        ("event_time", "Nullable(Int64)".into()),
        ("payload", "String".into()),
        ("written_at", dialect.time().into()),
    ]
}

fn gamma_literal() -> String {
    let a = sluice_engine::aggregate::percentile::RELATIVE_ACCURACY;
    format!("{:?}", (1.0 + a) / (1.0 - a))
}

/// `(inner merge expressions, outer finish expressions)` of the view.
fn view_exprs(spec: &TableSpec) -> (Vec<String>, Vec<String>) {
    let value = spec
        .values
        .first()
        .map(|c| c.name.clone())
        .unwrap_or_else(|| "value".into());
    match spec.kind.state_shape() {
        StateShape::Counter => (
            vec!["sum(st_count) AS m_count".into()],
            vec![format!("m_count AS `{value}`")],
        ),
        StateShape::Number(m) => {
            let (f, col) = match m {
                NumberMerge::Sum => ("sum", "m_sum"),
                NumberMerge::Min => ("min", "m_min"),
                NumberMerge::Max => ("max", "m_max"),
            };
            (
                vec![format!("{f}({}) AS {col}", number_column(m))],
                vec![format!("{col} AS `{value}`")],
            )
        }
        StateShape::Mean => (
            vec![
                "sum(st_isum) AS m_isum".into(),
                "sum(st_fsum) AS m_fsum".into(),
                "sum(st_n) AS m_n".into(),
            ],
            vec![format!(
                "if(m_n = 0, NULL, (m_isum + m_fsum) / m_n) AS `{value}`"
            )],
        ),
        StateShape::Set => (
            vec!["uniqExactArray(st_set) AS m_distinct".into()],
            vec![format!("m_distinct AS `{value}`")],
        ),
        StateShape::Registers => {
            // merge: every shard's non-zero registers, sorted, keeping the
            // largest rank per register; then the engine's estimator
            // (aggregate::hll::Hll::estimate) in SQL
            let m = sluice_engine::aggregate::hll::REGISTERS;
            let regs = "(arrayFilter((x, i) -> i = length(m_hll) OR intDiv(m_hll[i + 1], 256) != intDiv(x, 256), m_hll, arrayEnumerate(m_hll)) AS k_hll)";
            let raw = format!(
                "(0.7213 / (1 + 1.079 / {m}) * {m} * {m} / (arraySum(arrayMap(x -> exp2(-toInt32(x % 256)), {regs})) + ({m} - length(k_hll))))"
            );
            (
                vec!["arraySort(groupArrayArray(st_hll)) AS m_hll".into()],
                vec![format!(
                    "toUInt64(round(if(({raw} AS h_raw) <= 2.5 * {m} AND length(k_hll) < {m}, {m} * ln({m} / ({m} - length(k_hll))), h_raw))) AS `{value}`"
                )],
            )
        }
        StateShape::Sketch => {
            let g = gamma_literal();
            let off = sluice_engine::aggregate::percentile::KEY_OFFSET;
            let outer = spec
                .values
                .iter()
                .map(|c| {
                    let q = quantile_of(&c.name);
                    let k = format!("k_{}", c.name);
                    let find = format!(
                        "arrayElement(m_keys, arrayFirstIndex(x -> x > toUInt64(floor({q:?} * (m_total - 1))), arrayCumSum(m_counts)))"
                    );
                    format!(
                        "if(m_total = 0, NULL, multiIf(({find} AS {k}) = 0, 0., {k} > 0, 2 * exp(({k} - {off}) * ln({g})) / ({g} + 1), -(2 * exp((-{k} - {off}) * ln({g})) / ({g} + 1)))) AS `{}`",
                        c.name
                    )
                })
                .collect();
            (
                vec![
                    // keys and counts under their own names: 18.16 stores
                    // `arrayElement(m_sk.1, i)` as `m_sk.1[i]`, which its own
                    // parser then refuses when the server restarts
                    "sumMap(st_keys, st_counts) AS m_sk".into(),
                    "m_sk.1 AS m_keys".into(),
                    "m_sk.2 AS m_counts".into(),
                    "sum(arraySum(st_counts)) AS m_total".into(),
                ],
                outer,
            )
        }
    }
}

/// `p50` → 0.5, `p99_9` → 0.999.
fn quantile_of(column: &str) -> f64 {
    column
        .trim_start_matches('p')
        .replace('_', ".")
        .parse::<f64>()
        .map(|p| p / 100.0)
        .unwrap_or(0.5)
}

/// The statements that create the database, every `<table>_parts`, every
/// view and the dead-letter table (all `IF NOT EXISTS`).
pub fn ddl(
    tables: &[TableSpec],
    dialect: Dialect,
    database: &str,
    ttl_days: Option<u32>,
) -> Vec<String> {
    let mut out = vec![format!("CREATE DATABASE IF NOT EXISTS `{database}`")];
    for spec in tables {
        let cols = parts_columns(spec, dialect)
            .into_iter()
            .map(|(n, t)| format!("    `{n}` {t}"))
            .collect::<Vec<_>>()
            .join(",\n");
        let ttl = match (dialect, ttl_days) {
            (Dialect::Modern, Some(d)) => {
                format!("\nTTL toDateTime(window_start) + INTERVAL {d} DAY")
            }
            _ => String::new(),
        };
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS `{database}`.`{name}_parts` (\n{cols}\n)\nENGINE = ReplacingMergeTree(_version)\nPARTITION BY toYYYYMMDD(window_start)\nORDER BY (window_start_ms, window_end_ms, group_key, _shard){ttl}",
            name = spec.name
        ));
        let dims: Vec<String> = spec.dims.iter().map(|d| format!("`{}`", d.name)).collect();
        let (inner, outer) = view_exprs(spec);
        let bounds = [
            "window_start".to_string(),
            "window_end".to_string(),
            "window_start_ms".to_string(),
            "window_end_ms".to_string(),
        ];
        let mut inner_sel = bounds.to_vec();
        inner_sel.extend(dims.iter().cloned());
        inner_sel.extend(inner);
        inner_sel.extend([
            "max(rev) AS revision".to_string(),
            "max(prov) AS provisional".to_string(),
            "max(emitted) AS emitted_at".to_string(),
        ]);
        let mut group = bounds.to_vec();
        group.push("group_key".to_string());
        group.extend(dims.iter().cloned());
        let mut outer_sel = bounds.to_vec();
        outer_sel.extend(dims.iter().cloned());
        outer_sel.extend(outer);
        outer_sel.extend([
            "revision".to_string(),
            "provisional".to_string(),
            "emitted_at".to_string(),
        ]);
        // a session that grew (late data merged it with a neighbour) is
        // re-emitted with a wider window that contains the old one: keep only
        // windows no other window of the same group and shard contains
        let live = if spec.session {
            format!(
                "\n    WHERE (group_key, _shard, window_start_ms, window_end_ms) IN\n    (\n        SELECT group_key, _shard, x.1, x.2\n        FROM (SELECT group_key, _shard, groupArray((window_start_ms, window_end_ms)) AS w FROM `{database}`.`{name}_parts` FINAL GROUP BY group_key, _shard)\n        ARRAY JOIN w AS x\n        WHERE NOT arrayExists(y -> y.1 <= x.1 AND y.2 >= x.2 AND (y.1 != x.1 OR y.2 != x.2), w)\n    )",
                name = spec.name
            )
        } else {
            String::new()
        };
        out.push(format!(
            "CREATE VIEW IF NOT EXISTS `{database}`.`{name}` AS\nSELECT\n    {outer}\nFROM\n(\n    SELECT\n        {inner}\n    FROM `{database}`.`{name}_parts` FINAL{live}\n    GROUP BY {group}\n)",
            name = spec.name,
            outer = outer_sel.join(",\n    "),
            inner = inner_sel.join(",\n        "),
            group = group.join(", "),
        ));
    }
    let cols = dead_letter_columns(dialect)
        .into_iter()
        .map(|(n, t)| format!("    `{n}` {t}"))
        .collect::<Vec<_>>()
        .join(",\n");
    out.push(format!(
        "CREATE TABLE IF NOT EXISTS `{database}`.`{DEAD_LETTER_TABLE}` (\n{cols}\n)\nENGINE = ReplacingMergeTree\nORDER BY (source, partition, offset, kind, aggregation)"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_by_major_version() {
        assert_eq!(Dialect::from_version("18.16.1"), Dialect::Legacy);
        assert_eq!(Dialect::from_version("19.17.4.11"), Dialect::Legacy);
        assert_eq!(Dialect::from_version("24.3.2.23"), Dialect::Modern);
        assert_eq!(Dialect::from_version("garbage"), Dialect::Legacy);
    }

    #[test]
    fn quantile_names_round_trip() {
        for q in [0.5, 0.9, 0.95, 0.99, 0.999] {
            let c = crate::table::quantile_column(q);
            assert!((quantile_of(&c) - q).abs() < 1e-12, "{c}");
        }
    }
}
