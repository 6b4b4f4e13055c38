CREATE DATABASE IF NOT EXISTS `sluice`;

CREATE TABLE IF NOT EXISTS `sluice`.`events_per_minute_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `device_type` LowCardinality(Nullable(String)),
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

CREATE VIEW IF NOT EXISTS `sluice`.`events_per_minute` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `device_type`,
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
        `device_type`,
        sum(st_count) AS m_count,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`events_per_minute_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `device_type`
);

CREATE TABLE IF NOT EXISTS `sluice`.`events_by_device_and_type_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `device_type` LowCardinality(Nullable(String)),
    `event_type` LowCardinality(Nullable(String)),
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

CREATE VIEW IF NOT EXISTS `sluice`.`events_by_device_and_type` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `device_type`,
    `event_type`,
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
        `device_type`,
        `event_type`,
        sum(st_count) AS m_count,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`events_by_device_and_type_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `device_type`, `event_type`
);

CREATE TABLE IF NOT EXISTS `sluice`.`revenue_by_country_5m_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `country` LowCardinality(Nullable(String)),
    `st_sum` Nullable(Int64),
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime64(3, 'UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`revenue_by_country_5m` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `country`,
    m_sum AS `value`,
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
        `country`,
        sum(st_sum) AS m_sum,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`revenue_by_country_5m_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `country`
);

CREATE TABLE IF NOT EXISTS `sluice`.`unique_users_by_platform_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `platform` LowCardinality(Nullable(String)),
    `st_hll` Array(UInt32),
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime64(3, 'UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`unique_users_by_platform` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `platform`,
    toUInt64(round(if(((0.7213 / (1 + 1.079 / 16384) * 16384 * 16384 / (arraySum(arrayMap(x -> exp2(-toInt32(x % 256)), (arrayFilter((x, i) -> i = length(m_hll) OR intDiv(m_hll[i + 1], 256) != intDiv(x, 256), m_hll, arrayEnumerate(m_hll)) AS k_hll))) + (16384 - length(k_hll)))) AS h_raw) <= 2.5 * 16384 AND length(k_hll) < 16384, 16384 * ln(16384 / (16384 - length(k_hll))), h_raw))) AS `value`,
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
        `platform`,
        arraySort(groupArrayArray(st_hll)) AS m_hll,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`unique_users_by_platform_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `platform`
);

CREATE TABLE IF NOT EXISTS `sluice`.`order_value_percentiles_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `platform` LowCardinality(Nullable(String)),
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

CREATE VIEW IF NOT EXISTS `sluice`.`order_value_percentiles` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `platform`,
    if(m_total = 0, NULL, multiIf((arrayElement(m_keys, arrayFirstIndex(x -> x > toUInt64(floor(0.5 * (m_total - 1))), arrayCumSum(m_counts))) AS k_p50) = 0, 0., k_p50 > 0, 2 * exp((k_p50 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1), -(2 * exp((-k_p50 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1)))) AS `p50`,
    if(m_total = 0, NULL, multiIf((arrayElement(m_keys, arrayFirstIndex(x -> x > toUInt64(floor(0.9 * (m_total - 1))), arrayCumSum(m_counts))) AS k_p90) = 0, 0., k_p90 > 0, 2 * exp((k_p90 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1), -(2 * exp((-k_p90 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1)))) AS `p90`,
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
        `platform`,
        sumMap(st_keys, st_counts) AS m_sk,
        m_sk.1 AS m_keys,
        m_sk.2 AS m_counts,
        sum(arraySum(st_counts)) AS m_total,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`order_value_percentiles_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `platform`
);

CREATE TABLE IF NOT EXISTS `sluice`.`big_carts_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `device_type` LowCardinality(Nullable(String)),
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

CREATE VIEW IF NOT EXISTS `sluice`.`big_carts` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `device_type`,
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
        `device_type`,
        sum(st_count) AS m_count,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`big_carts_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `device_type`
);

CREATE TABLE IF NOT EXISTS `sluice`.`revenue_today_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `country` LowCardinality(Nullable(String)),
    `st_sum` Nullable(Int64),
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime64(3, 'UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`revenue_today` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `country`,
    m_sum AS `value`,
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
        `country`,
        sum(st_sum) AS m_sum,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`revenue_today_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `country`
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

