CREATE DATABASE IF NOT EXISTS `sluice`;

CREATE TABLE IF NOT EXISTS `sluice`.`latency_percentiles_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `service_name` LowCardinality(Nullable(String)),
    `region` LowCardinality(Nullable(String)),
    `st_keys` Array(Int32),
    `st_counts` Array(UInt64),
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime64(3, 'UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`latency_percentiles` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `service_name`,
    `region`,
    if(m_total = 0, NULL, multiIf((arrayElement(m_keys, arrayFirstIndex(x -> x > toUInt64(floor(0.5 * (m_total - 1))), arrayCumSum(m_counts))) AS k_p50) = 0, 0., k_p50 > 0, 2 * exp((k_p50 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1), -(2 * exp((-k_p50 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1)))) AS `p50`,
    if(m_total = 0, NULL, multiIf((arrayElement(m_keys, arrayFirstIndex(x -> x > toUInt64(floor(0.95 * (m_total - 1))), arrayCumSum(m_counts))) AS k_p95) = 0, 0., k_p95 > 0, 2 * exp((k_p95 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1), -(2 * exp((-k_p95 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1)))) AS `p95`,
    if(m_total = 0, NULL, multiIf((arrayElement(m_keys, arrayFirstIndex(x -> x > toUInt64(floor(0.99 * (m_total - 1))), arrayCumSum(m_counts))) AS k_p99) = 0, 0., k_p99 > 0, 2 * exp((k_p99 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1), -(2 * exp((-k_p99 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1)))) AS `p99`,
    revision,
    provisional,
    emitted_at
FROM
(
    SELECT
        window_start,
        window_end,
        window_start_ms,
        window_end_ms,
        `service_name`,
        `region`,
        sumMap(st_keys, st_counts) AS m_sk,
        m_sk.1 AS m_keys,
        m_sk.2 AS m_counts,
        sum(arraySum(st_counts)) AS m_total,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`latency_percentiles_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `service_name`, `region`
);

CREATE TABLE IF NOT EXISTS `sluice`.`requests_per_minute_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `service_name` LowCardinality(Nullable(String)),
    `status_class` LowCardinality(Nullable(String)),
    `st_count` UInt64,
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime64(3, 'UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`requests_per_minute` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `service_name`,
    `status_class`,
    m_count AS `value`,
    revision,
    provisional,
    emitted_at
FROM
(
    SELECT
        window_start,
        window_end,
        window_start_ms,
        window_end_ms,
        `service_name`,
        `status_class`,
        sum(st_count) AS m_count,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`requests_per_minute_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `service_name`, `status_class`
);

CREATE TABLE IF NOT EXISTS `sluice`.`server_errors_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `service_name` LowCardinality(Nullable(String)),
    `st_count` UInt64,
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime64(3, 'UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`server_errors` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `service_name`,
    m_count AS `value`,
    revision,
    provisional,
    emitted_at
FROM
(
    SELECT
        window_start,
        window_end,
        window_start_ms,
        window_end_ms,
        `service_name`,
        sum(st_count) AS m_count,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`server_errors_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `service_name`
);

CREATE TABLE IF NOT EXISTS `sluice`.`avg_latency_by_route_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `route` LowCardinality(Nullable(String)),
    `st_isum` Int64,
    `st_fsum` Float64,
    `st_n` UInt64,
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime64(3, 'UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`avg_latency_by_route` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `route`,
    if(m_n = 0, NULL, (m_isum + m_fsum) / m_n) AS `value`,
    revision,
    provisional,
    emitted_at
FROM
(
    SELECT
        window_start,
        window_end,
        window_start_ms,
        window_end_ms,
        `route`,
        sum(st_isum) AS m_isum,
        sum(st_fsum) AS m_fsum,
        sum(st_n) AS m_n,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`avg_latency_by_route_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `route`
);

CREATE TABLE IF NOT EXISTS `sluice`.`_sluice_dead_letters` (
    `kind` String,
    `reason` String,
    `source` String,
    `partition` UInt32,
    `offset` Int64,
    `event_type` String,
    `aggregation` String,
    `event_time` Nullable(Int64),
    `payload` String,
    `written_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (source, partition, offset, kind, aggregation);

