CREATE DATABASE IF NOT EXISTS `sluice`;

CREATE TABLE IF NOT EXISTS `sluice`.`avg_temperature_by_site_parts` (
    `window_start` DateTime('UTC'),
    `window_end` DateTime('UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `site` Nullable(String),
    `st_isum` Int64,
    `st_fsum` Float64,
    `st_n` UInt64,
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime('UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`avg_temperature_by_site` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `site`,
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
        `site`,
        sum(st_isum) AS m_isum,
        sum(st_fsum) AS m_fsum,
        sum(st_n) AS m_n,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`avg_temperature_by_site_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `site`
);

CREATE TABLE IF NOT EXISTS `sluice`.`max_temperature_by_model_parts` (
    `window_start` DateTime('UTC'),
    `window_end` DateTime('UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `device_model` Nullable(String),
    `st_max` Nullable(Float64),
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime('UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`max_temperature_by_model` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `device_model`,
    m_max AS `value`,
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
        `device_model`,
        max(st_max) AS m_max,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`max_temperature_by_model_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `device_model`
);

CREATE TABLE IF NOT EXISTS `sluice`.`min_battery_by_site_parts` (
    `window_start` DateTime('UTC'),
    `window_end` DateTime('UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `site` Nullable(String),
    `st_min` Nullable(Int64),
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime('UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`min_battery_by_site` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `site`,
    m_min AS `value`,
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
        `site`,
        min(st_min) AS m_min,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`min_battery_by_site_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `site`
);

CREATE TABLE IF NOT EXISTS `sluice`.`critical_alarms_parts` (
    `window_start` DateTime('UTC'),
    `window_end` DateTime('UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `site` Nullable(String),
    `st_count` UInt64,
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime('UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`critical_alarms` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `site`,
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
        `site`,
        sum(st_count) AS m_count,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`critical_alarms_parts` FINAL
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `site`
);

CREATE TABLE IF NOT EXISTS `sluice`.`device_activity_sessions_parts` (
    `window_start` DateTime('UTC'),
    `window_end` DateTime('UTC'),
    `window_start_ms` Int64,
    `window_end_ms` Int64,
    `group_key` String,
    `device_id` Nullable(String),
    `st_count` UInt64,
    `rev` UInt32,
    `prov` UInt8,
    `emitted` DateTime('UTC'),
    `_shard` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(_version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start_ms, window_end_ms, group_key, _shard);

CREATE VIEW IF NOT EXISTS `sluice`.`device_activity_sessions` AS
SELECT
    window_start,
    window_end,
    window_start_ms,
    window_end_ms,
    `device_id`,
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
        `device_id`,
        sum(st_count) AS m_count,
        max(rev) AS revision,
        max(prov) AS provisional,
        max(emitted) AS emitted_at
    FROM `sluice`.`device_activity_sessions_parts` FINAL
    WHERE (group_key, _shard, window_start_ms, window_end_ms) IN
    (
        SELECT group_key, _shard, x.1, x.2
        FROM (SELECT group_key, _shard, groupArray((window_start_ms, window_end_ms)) AS w FROM `sluice`.`device_activity_sessions_parts` FINAL GROUP BY group_key, _shard)
        ARRAY JOIN w AS x
        WHERE NOT arrayExists(y -> y.1 <= x.1 AND y.2 >= x.2 AND (y.1 != x.1 OR y.2 != x.2), w)
    )
    GROUP BY window_start, window_end, window_start_ms, window_end_ms, group_key, `device_id`
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
    `written_at` DateTime('UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (source, partition, offset, kind, aggregation);

