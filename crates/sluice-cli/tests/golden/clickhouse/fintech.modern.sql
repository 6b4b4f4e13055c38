CREATE DATABASE IF NOT EXISTS `sluice`;

CREATE TABLE IF NOT EXISTS `sluice`.`payment_volume_by_network_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `card_network` LowCardinality(Nullable(String)),
    `channel` LowCardinality(Nullable(String)),
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

CREATE VIEW IF NOT EXISTS `sluice`.`payment_volume_by_network` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `card_network`,
    `channel`,
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
        `card_network`,
        `channel`,
        sum(st_sum) AS m_sum,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`payment_volume_by_network_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `card_network`, `channel`
);

CREATE TABLE IF NOT EXISTS `sluice`.`refunds_by_reason_window_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `country` LowCardinality(Nullable(String)),
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

CREATE VIEW IF NOT EXISTS `sluice`.`refunds_by_reason_window` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `country`,
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
        `country`,
        sum(st_count) AS m_count,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`refunds_by_reason_window_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `country`
);

CREATE TABLE IF NOT EXISTS `sluice`.`distinct_payers_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `country` LowCardinality(Nullable(String)),
    `st_set` Array(String),
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime64(3, 'UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`distinct_payers` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `country`,
    m_distinct AS `value`,
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
        uniqExactArray(st_set) AS m_distinct,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`distinct_payers_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `country`
);

CREATE TABLE IF NOT EXISTS `sluice`.`payment_amount_p99_parts` (
    `window_start` DateTime64(3, 'UTC'),
    `window_end` DateTime64(3, 'UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `channel` LowCardinality(Nullable(String)),
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

CREATE VIEW IF NOT EXISTS `sluice`.`payment_amount_p99` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `channel`,
    if(m_total = 0, NULL, multiIf((arrayElement(m_keys, arrayFirstIndex(x -> x > toUInt64(floor(0.5 * (m_total - 1))), arrayCumSum(m_counts))) AS k_p50) = 0, 0., k_p50 > 0, 2 * exp((k_p50 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1), -(2 * exp((-k_p50 - 1048576) * ln(1.02020202020202)) / (1.02020202020202 + 1)))) AS `p50`,
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
        `channel`,
        sumMap(st_keys, st_counts) AS m_sk,
        m_sk.1 AS m_keys,
        m_sk.2 AS m_counts,
        sum(arraySum(st_counts)) AS m_total,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`payment_amount_p99_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `channel`
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

