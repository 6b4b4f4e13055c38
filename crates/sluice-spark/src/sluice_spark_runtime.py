"""What every Spark job `sluice spark job` generates shares, whatever its domain.

The generated `job.py` says *what* to compute (its event types, topics and
aggregations); this module says *how*, the same way for every domain:

- reading the domain's Kafka topics, Confluent wire format (magic byte 0, a
  4-byte schema id, then the Avro datum), each record decoded with the writer
  schema the registry holds for its id into the job's reader schema, so old
  and new writers can share a topic;
- records that cannot be decoded (bad magic byte, a schema id the registry
  did not list when the job started, a datum that does not parse) are counted
  and written to the domain's dead-letter topic, never aggregated;
- one streaming query per aggregation, append mode: a window is written once,
  when Spark's watermark passes its end, into `<table>_parts`, the very
  table the native runner writes, with the same state columns, so the views,
  dashboards and alerts sluice generates read either runner;
- exactly-once: Spark keeps offsets and window state in its checkpoint; a
  micro-batch replayed after a crash writes the same rows again, which the
  table engine (`ReplacingMergeTree`, keyed by window, group and shard)
  keeps once;
- progress (input rows, batch durations, watermark, rows dropped behind the
  watermark) is printed as one JSON line per query at the end
  (`SLUICE_SPARK_SUMMARY`).

Connection settings come from the environment (`SLUICE_KAFKA_BOOTSTRAP`,
`SLUICE_SCHEMA_REGISTRY_URL`, `SLUICE_CLICKHOUSE_URL`,
`SLUICE_CLICKHOUSE_DATABASE`, `SLUICE_CLICKHOUSE_USER`,
`SLUICE_CLICKHOUSE_PASSWORD`), with the non-secret defaults the job was
generated with; a secret is never written into a job file.
"""

import argparse
import base64
import collections
import datetime
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro
from pyspark.sql.streaming import StreamingQueryListener

# The shard every Spark-written row carries (the native runner writes one per
# partition number); the views merge shards, so a table holds one runner's
# rows at a time.
SHARD = "spark"
# The query that reads every record: counts them, dead-letters rejects.
RECORDS_QUERY = "_dead_letters"
# DDSketch with 1 % relative accuracy, keys offset as the native engine
# writes them (`sluice_engine::aggregate::percentile`).
SKETCH_GAMMA = (1.0 + 0.01) / (1.0 - 0.01)
SKETCH_KEY_OFFSET = 1 << 20
SKETCH_MIN_MAGNITUDE = 1e-9
# HyperLogLog precision of the native engine (`aggregate::hll::PRECISION`).
HLL_PRECISION = 14


class Aggregation:
    """One aggregation: its result table and how to compute its state."""

    def __init__(self, name, table, kind, dims, build):
        self.name = name
        self.table = table
        self.kind = kind
        self.dims = dims
        self.build = build


def setting(name, default):
    value = os.environ.get(name)
    if value:
        return value
    if default is None:
        sys.exit(f"sluice spark job: set {name} (it comes from a secret, so it is not written into the job)")
    return default


def duration(ms):
    """Milliseconds as a Spark interval string."""
    for unit, size in (("hours", 3_600_000), ("minutes", 60_000), ("seconds", 1_000)):
        if ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} milliseconds"


# ---------------------------------------------------------------- registry


def http(method, url, body=None, auth=None, headers=None, attempts=5):
    """One HTTP request with the retry policy of sluice (doubling back-off)."""
    delay = 0.2
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=body, method=method)
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.read()
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            if e.code < 500 or attempt == attempts - 1:
                raise RuntimeError(f"{method} {url.split('?')[0]}: HTTP {e.code}: {text.strip()}") from None
        except (urllib.error.URLError, OSError) as e:
            if attempt == attempts - 1:
                raise RuntimeError(f"{method} {url.split('?')[0]}: {e}") from None
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def writer_schemas(registry, subject, auth=None):
    """Every schema registered under `subject`, by id."""
    base = registry.rstrip("/")
    quoted = urllib.parse.quote(subject, safe="")
    try:
        versions = json.loads(http("GET", f"{base}/subjects/{quoted}/versions", auth=auth))
    except RuntimeError as e:
        if "HTTP 404" in str(e):
            return {}
        raise
    out = {}
    for v in versions:
        answer = json.loads(http("GET", f"{base}/subjects/{quoted}/versions/{v}", auth=auth))
        out[int(answer["id"])] = answer["schema"]
    return out


# ---------------------------------------------------------------- decoding


def read_events(spark, job, settings, starting_offsets, max_records_per_batch=None):
    """The decoded events of every topic (one column per field any aggregation
    reads) and every record with its verdict (`_ok`, and the reason when it
    did not decode), as two streaming DataFrames over one Kafka source."""
    topics = [t["topic"] for t in job.EVENT_TYPES]
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings["bootstrap"])
        .option("subscribe", ",".join(topics))
        .option("startingOffsets", starting_offsets)
        .option("includeHeaders", "false")
    )
    if max_records_per_batch:
        reader = reader.option("maxOffsetsPerTrigger", str(max_records_per_batch))
    for key, value in settings["kafka_properties"].items():
        reader = reader.option(f"kafka.{key}", value)
    raw = reader.load()
    magic = F.substring("value", 1, 1)
    framed = raw.select(
        "topic",
        "partition",
        "offset",
        "key",
        "value",
        "timestamp",
        (F.length("value") >= 5).alias("_framed"),
        (magic == F.lit(bytearray([0]))).alias("_magic"),
        F.conv(F.hex(F.substring("value", 2, 4)), 16, 10).cast("long").alias("_schema_id"),
        F.expr("substring(value, 6, length(value) - 5)").alias("_datum"),
    )
    decoded = []
    known = None
    for i, et in enumerate(job.EVENT_TYPES):
        branch = None
        for schema_id, writer in sorted(et["writers"].items()):
            hit = (F.col("topic") == et["topic"]) & F.col("_magic") & (F.col("_schema_id") == schema_id)
            known = hit if known is None else (known | hit)
            value = from_avro(F.col("_datum"), writer, {"mode": "PERMISSIVE", "avroSchema": et["reader"]})
            branch = F.when(hit, value) if branch is None else branch.when(hit, value)
        decoded.append((branch if branch is not None else F.lit(None)).alias(f"_d{i}"))
    stage = framed.select("*", *decoded)
    # Spark's PERMISSIVE mode gives a datum that does not decode as a row of
    # nulls: a null in a field the schema requires is how it shows
    ok = None
    for i, et in enumerate(job.EVENT_TYPES):
        c = F.col(f"_d{i}").isNotNull()
        for field in et["required"]:
            c = c & F.col(f"_d{i}.{field}").isNotNull()
        ok = c if ok is None else (ok | c)
    stage = stage.withColumn("_ok", F.coalesce(ok, F.lit(False)))
    columns = []
    for field, cast in job.FIELDS:
        options = [F.col(f"_d{i}.{field}") for i, et in enumerate(job.EVENT_TYPES) if field in et["fields"]]
        value = F.coalesce(*options) if len(options) > 1 else options[0]
        columns.append((value.cast(cast) if cast else value).alias(field))
    events = stage.where("_ok").select(*columns)
    reason = (
        F.when(~F.col("_framed"), F.lit("record shorter than the 5-byte wire header"))
        .when(~F.col("_magic"), F.lit("not Confluent wire format (magic byte is not 0)"))
        .when(known if known is not None else F.lit(False), F.lit("datum does not decode with its writer schema"))
        .otherwise(F.concat(F.lit("schema id "), F.col("_schema_id").cast("string"), F.lit(" is not a registered version of this topic's subject")))
    )
    event_type = None
    for et in job.EVENT_TYPES:
        hit = F.col("topic") == et["topic"]
        event_type = F.when(hit, F.lit(et["event_type"])) if event_type is None else event_type.when(hit, F.lit(et["event_type"]))
    records = stage.select(
        "topic", "partition", "offset", "key", "value", "timestamp", "_ok", reason.alias("reason"), event_type.alias("event_type")
    )
    return events, records


# ---------------------------------------------------------------- states


def hll_entry(column):
    """`register << 8 | rank` of a value, as the native engine's HyperLogLog
    stores non-zero registers (Spark's xxhash64 stands in for the engine's
    hash: the estimate differs by the sketch's error, not by design)."""
    h = F.xxhash64(column)
    register = F.shiftrightunsigned(h, 64 - HLL_PRECISION)
    w = F.shiftleft(h, HLL_PRECISION).bitwiseOR(F.lit(1 << (HLL_PRECISION - 1)))
    rank = F.when(w < 0, F.lit(1)).otherwise(F.lit(65) - F.length(F.bin(w)))
    return F.when(column.isNotNull(), F.shiftleft(register, 8).bitwiseOR(rank))


def sketch_key(column):
    """The DDSketch bucket of a value, as the native engine keys it."""
    x = column.cast("double")
    ln_gamma = F.log(F.lit(SKETCH_GAMMA).cast("double"))
    pos = F.ceil(F.log(x) / ln_gamma).cast("int") + F.lit(SKETCH_KEY_OFFSET)
    neg = -(F.ceil(F.log(-x) / ln_gamma).cast("int") + F.lit(SKETCH_KEY_OFFSET))
    finite = x.isNotNull() & ~F.isnan(x) & (F.abs(x) < F.lit(float("inf")))
    return F.when(finite & (x > SKETCH_MIN_MAGNITUDE), pos).when(finite & (x < -SKETCH_MIN_MAGNITUDE), neg).when(finite, F.lit(0))


def group_key(dims):
    """The canonical text of a group (cells joined by the unit separator,
    null as `∅`), as the native sink writes `group_key`."""
    if not dims:
        return F.lit("")
    return F.concat_ws("\u001f", *[F.coalesce(F.col(d).cast("string"), F.lit("\u2205")) for d in dims])


def aggregate(events, window, dims, delay, states):
    """A windowed aggregation in append mode, shaped as `<table>_parts` rows
    (state columns still to be finished by `finish_row`)."""
    grouped = (
        events.withWatermark("event_time", delay)
        .groupBy(window.alias("w"), *[F.col(d) for d in dims])
        .agg(F.count(F.lit(1)).alias("_events"), *states)
    )
    return grouped.select(
        F.unix_millis(F.col("w.start")).alias("window_start_ms"),
        F.unix_millis(F.col("w.end")).alias("window_end_ms"),
        group_key(dims).alias("group_key"),
        *[F.col(d) for d in dims],
        *[c for c in grouped.columns if c.startswith("st_") or c.startswith("_st_")],
        "_events",
    )


# ---------------------------------------------------------------- ClickHouse


class ClickHouse:
    def __init__(self, settings):
        self.url = settings["clickhouse_url"].rstrip("/")
        self.database = settings["clickhouse_database"]
        user, password = settings["clickhouse_user"], settings["clickhouse_password"]
        self.auth = (user or "default", password or "") if (user or password) else None
        version = self.query("SELECT version()").strip()
        self.legacy = int(version.split(".")[0] or 0) < 20

    def query(self, sql, body=None):
        params = urllib.parse.urlencode({"query": sql, "database": self.database})
        return http("POST", f"{self.url}/?{params}", body=body if body is not None else b"", auth=self.auth).decode()

    def time(self, ms):
        t = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
        if self.legacy:
            return t.strftime("%Y-%m-%d %H:%M:%S")
        return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"

    def insert(self, table, rows):
        if not rows:
            return
        body = "\n".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in rows).encode()
        self.query(f"INSERT INTO `{self.database}`.`{table}_parts` FORMAT JSONEachRow", body)


def finish_row(agg, row, clickhouse, emitted):
    """A result row of `agg` as a `<table>_parts` row."""
    r = row.asDict()
    out = {
        "window_start": clickhouse.time(r["window_start_ms"]),
        "window_end": clickhouse.time(r["window_end_ms"]),
        "window_start_ms": r["window_start_ms"],
        "window_end_ms": r["window_end_ms"],
        "group_key": r["group_key"],
    }
    for d in agg.dims:
        v = r[d]
        if isinstance(v, datetime.datetime):
            v = clickhouse.time(int(v.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))
        elif isinstance(v, bool):
            v = int(v)
        out[d] = v
    kind = agg.kind
    if kind == "count":
        out["st_count"] = r["st_count"]
    elif kind in ("sum", "min", "max"):
        out[f"st_{kind}"] = r[f"st_{kind}"]
    elif kind == "avg":
        out["st_isum"] = r["st_isum"] or 0
        out["st_fsum"] = r["st_fsum"] or 0.0
        out["st_n"] = r["st_n"]
    elif kind == "count_distinct":
        out["st_set"] = sorted(r["st_set"])
    elif kind == "approx_count_distinct":
        out["st_hll"] = sorted(r["st_hll"])
    elif kind == "percentile":
        counts = collections.Counter(r["_st_keys"])
        keys = sorted(counts)
        out["st_keys"] = keys
        out["st_counts"] = [counts[k] for k in keys]
    out.update({"rev": 0, "prov": 0, "emitted": emitted, "_shard": SHARD, "_version": r["_events"]})
    return out


def clickhouse_writer(job, agg, clickhouse, metrics):
    def write(batch, batch_id):
        emitted = clickhouse.time(int(time.time() * 1000))
        rows = [finish_row(agg, row, clickhouse, emitted) for row in batch.collect()]
        started = time.monotonic()
        clickhouse.insert(agg.table, rows)
        metrics.observe(job.METRICS["sink_write_seconds"], {"sink": "clickhouse"}, time.monotonic() - started)
        metrics.add(job.METRICS["results"], {"aggregation": agg.name}, len(rows))
        metrics.add(job.METRICS["rows_out"], {"sink": "clickhouse"}, len(rows))

    return write


def jsonl_writer(job, agg, directory, metrics):
    os.makedirs(directory, exist_ok=True)

    def write(batch, batch_id):
        # one file per micro-batch: a replayed batch rewrites its own file
        path = os.path.join(directory, f"{agg.table}.{batch_id:08d}.jsonl")
        rows = batch.collect()
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row.asDict(), default=str, ensure_ascii=False) + "\n")
        os.replace(path + ".tmp", path)
        metrics.add(job.METRICS["results"], {"aggregation": agg.name}, len(rows))
        metrics.add(job.METRICS["rows_out"], {"sink": "jsonl"}, len(rows))

    return write


# ---------------------------------------------------------------- dead letters


def dead_letter_writer(job, settings, metrics):
    """Undecodable records into the dead-letter topic as the native runner
    writes them (kind `malformed`): the original key, value and timestamp,
    the reason and the source position in the same headers, the same
    identity, so `sluice dlq inspect` and `sluice dlq replay` read them."""
    h = job.DEAD_LETTER_HEADERS

    def header(name, value):
        return F.struct(F.lit(h[name]).alias("key"), value.cast("string").cast("binary").alias("value"))

    def write(batch, batch_id):
        # one pass to count (decoded records by event type, rejects); a
        # second over the rejects only when there are any
        bad = 0
        for r in batch.groupBy("event_type", "_ok").count().collect():
            if r["_ok"]:
                metrics.add(job.METRICS["events_in"], {"source": "kafka", "event_type": r["event_type"] or "unknown"}, r["count"])
            else:
                bad += r["count"]
        if bad == 0:
            return
        metrics.add(job.METRICS["decode_errors"], {"source": "kafka"}, bad)
        metrics.add(job.METRICS["dead_letters"], {"kind": "malformed"}, bad)
        rejects = batch.where(~F.col("_ok"))
        identity = F.concat_ws("/", F.lit("malformed"), F.col("topic"), F.col("partition").cast("string"), F.col("offset").cast("string"), F.lit(""))
        out = rejects.select(
            F.col("key"),
            F.col("value"),
            F.array(
                header("kind", F.lit("malformed")),
                header("message", F.col("reason")),
                header("topic", F.col("topic")),
                header("partition", F.col("partition")),
                header("offset", F.col("offset")),
                header("timestamp", F.unix_millis(F.col("timestamp"))),
                header("event_type", F.col("event_type")),
                header("id", identity),
            ).alias("headers"),
        )
        writer = out.write.format("kafka").option("kafka.bootstrap.servers", settings["bootstrap"]).option("topic", job.DEAD_LETTER_TOPIC)
        for key, value in settings["kafka_properties"].items():
            writer = writer.option(f"kafka.{key}", value)
        writer.save()

    return write


# ---------------------------------------------------------------- progress


def summary(query):
    """Totals of one query from Spark's query progress reports (every
    micro-batch's: `spark.sql.streaming.numRecentProgressUpdates` is raised
    so none is forgotten)."""
    out = {"query": query.name, "batches": 0, "input_rows": 0, "dropped_by_watermark": 0, "watermark": None, "watermark_ms": None, "batch_ms": 0}
    for p in query.recentProgress:
        out["batches"] += 1
        out["input_rows"] += p.get("numInputRows", 0)
        out["batch_ms"] += int((p.get("durationMs") or {}).get("triggerExecution", 0))
        for s in p.get("stateOperators") or []:
            out["dropped_by_watermark"] += s.get("numRowsDroppedByWatermark", 0)
        watermark = (p.get("eventTime") or {}).get("watermark")
        if watermark:
            out["watermark"] = watermark
            parsed = datetime.datetime.fromisoformat(watermark.replace("Z", "+00:00"))
            out["watermark_ms"] = int(parsed.timestamp() * 1000)
    return out


# ---------------------------------------------------------------- metrics


class Metrics:
    """The job's metrics under the native runner's names (`sluice_core::metrics`,
    written into the job as `METRICS`), so the dashboards and alerts sluice
    generates show either runner; served as Prometheus text on `/metrics`."""

    def __init__(self, domain):
        self.domain = domain
        self.lock = threading.Lock()
        self.counters = {}
        self.gauges = {}
        self.histograms = {}

    @staticmethod
    def key(name, labels):
        return (name, tuple(sorted(labels.items())))

    def add(self, name, labels, value):
        with self.lock:
            k = self.key(name, labels)
            self.counters[k] = self.counters.get(k, 0) + value

    def set(self, name, labels, value):
        with self.lock:
            self.gauges[self.key(name, labels)] = value

    def observe(self, name, labels, seconds):
        with self.lock:
            k = self.key(name, labels)
            count, total = self.histograms.get(k, (0, 0.0))
            self.histograms[k] = (count + 1, total + seconds)

    def text(self):
        def render(name, labels, value, suffix=""):
            all_labels = dict(labels)
            all_labels["domain"] = self.domain
            inner = ",".join(f'{k}="{v}"' for k, v in sorted(all_labels.items()))
            return f"{name}{suffix}{{{inner}}} {value}"

        lines = []
        with self.lock:
            for kind, table in (("counter", self.counters), ("gauge", self.gauges)):
                for name in sorted({n for n, _ in table}):
                    lines.append(f"# TYPE {name} {kind}")
                    lines.extend(render(n, dict(l), v) for (n, l), v in sorted(table.items()) if n == name)
            for name in sorted({n for n, _ in self.histograms}):
                lines.append(f"# TYPE {name} summary")
                for (n, l), (count, total) in sorted(self.histograms.items()):
                    if n == name:
                        lines.append(render(n, dict(l), count, "_count"))
                        lines.append(render(n, dict(l), total, "_sum"))
        return "\n".join(lines) + "\n"

    def serve(self, address):
        """`/metrics` on `host:port` (a daemon thread)."""
        host, _, port = address.rpartition(":")
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = registry.text().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


class ProgressMetrics(StreamingQueryListener):
    """Spark's query progress as the native runner's metrics: rows dropped
    behind the watermark as late events of the aggregation, and how far the
    smallest watermark trails the wall clock."""

    def __init__(self, job, metrics):
        self.job = job
        self.metrics = metrics
        self.watermarks = {}

    def onQueryStarted(self, event):
        pass

    def onQueryProgress(self, event):
        p = event.progress
        if p.name == RECORDS_QUERY:
            return
        dropped = sum(s.numRowsDroppedByWatermark for s in (p.stateOperators or []))
        if dropped:
            self.metrics.add(self.job.METRICS["late_events"], {"aggregation": p.name}, dropped)
        watermark = (p.eventTime or {}).get("watermark")
        parsed = datetime.datetime.fromisoformat(watermark.replace("Z", "+00:00")) if watermark else None
        if parsed is not None and parsed.timestamp() > 0:  # 0: no event seen yet
            self.watermarks[p.name] = parsed.timestamp()
            lag = time.time() - min(self.watermarks.values())
            self.metrics.set(self.job.METRICS["watermark_lag"], {}, round(lag, 3))

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        pass


# ---------------------------------------------------------------- until the end


def offsets(text):
    """Kafka offsets of a progress report, `{(topic, partition): offset}`."""
    if not text:
        return {}
    parsed = json.loads(text) if isinstance(text, str) else text
    if not isinstance(parsed, dict):
        return {}
    return {(t, int(p)): int(o) for t, parts in parsed.items() for p, o in parts.items()}


def stop_at_end(queries, poll=0.25, idle=3.0, empty=10.0):
    """`--until-end`: stop each query once it has read what the topics held
    at its first batch and its watermark has been applied to that data.

    Spark's `availableNow` trigger stops as soon as the data is read, often
    before the no-data batch that moves the watermark past the last windows,
    so their results would never be written; here a query stops only after
    that batch (or once nothing has run for `idle` seconds after the end)."""
    targets = {}
    reached_at = {}
    started = time.monotonic()
    while any(q.isActive for q in queries):
        for q in queries:
            if not q.isActive:
                continue
            exception = q.exception()
            if exception is not None:
                raise exception
            p = q.lastProgress
            now = time.monotonic()
            if p is None:
                waiting = "Waiting for data" in (q.status or {}).get("message", "")
                if waiting and now - started > empty:
                    q.stop()  # the topics are empty
                continue
            source = (p.get("sources") or [{}])[0]
            if q.name not in targets:
                targets[q.name] = offsets(source.get("latestOffset") or source.get("endOffset"))
            end = offsets(source.get("endOffset"))
            if not all(end.get(k, -1) >= v for k, v in targets[q.name].items()):
                continue
            reached_at.setdefault(q.name, now)
            busy = (q.status or {}).get("isTriggerActive", False)
            if busy:
                continue
            if p.get("numInputRows", 0) == 0 or now - reached_at[q.name] > idle:
                q.stop()
        time.sleep(poll)


# ---------------------------------------------------------------- main


def main(job):
    parser = argparse.ArgumentParser(description=f"sluice Spark job for domain `{job.DOMAIN}`")
    parser.add_argument("--until-end", action="store_true", help="process what the topics hold now, then stop")
    parser.add_argument("--checkpoints", default=os.environ.get("SLUICE_SPARK_CHECKPOINTS", f"./spark-checkpoints/{job.DOMAIN}"))
    parser.add_argument("--sink", choices=["clickhouse", "jsonl"], default="clickhouse")
    parser.add_argument("--jsonl-dir", default=f"./spark-results/{job.DOMAIN}")
    parser.add_argument("--starting-offsets", default="earliest")
    parser.add_argument("--max-records-per-batch", type=int, default=None, help="at most this many Kafka records per micro-batch (Spark's maxOffsetsPerTrigger)")
    parser.add_argument("--metrics-address", default=os.environ.get("SLUICE_METRICS_ADDRESS"), help="serve /metrics here (host:port)")
    parser.add_argument("--runs", type=int, default=1, help="with --until-end: run this many times in one Spark session, each from the start with its own checkpoints (benchmarks: the first run is cold, the others warm)")
    args = parser.parse_args()

    settings = {
        "bootstrap": setting("SLUICE_KAFKA_BOOTSTRAP", job.DEFAULTS["bootstrap"]),
        "registry": setting("SLUICE_SCHEMA_REGISTRY_URL", job.DEFAULTS["registry"]),
        "kafka_properties": json.loads(os.environ.get("SLUICE_KAFKA_PROPERTIES") or "{}"),
    }
    if args.sink == "clickhouse":
        settings.update(
            {
                "clickhouse_url": setting("SLUICE_CLICKHOUSE_URL", job.DEFAULTS["clickhouse_url"]),
                "clickhouse_database": setting("SLUICE_CLICKHOUSE_DATABASE", job.DEFAULTS["clickhouse_database"]),
                "clickhouse_user": setting("SLUICE_CLICKHOUSE_USER", job.DEFAULTS["clickhouse_user"]),
                "clickhouse_password": os.environ.get("SLUICE_CLICKHOUSE_PASSWORD", ""),
            }
        )

    here = os.path.dirname(os.path.abspath(job.__file__))
    registry_user = os.environ.get("SLUICE_SCHEMA_REGISTRY_USER")
    registry_auth = (registry_user, os.environ.get("SLUICE_SCHEMA_REGISTRY_PASSWORD", "")) if registry_user else None
    for et in job.EVENT_TYPES:
        path = os.path.join(here, et["schema"])
        if not os.path.exists(path):  # cluster mode: `--files` puts it in the working directory
            path = os.path.basename(et["schema"])
        with open(path, encoding="utf-8") as f:
            et["reader"] = f.read()
        et["writers"] = writer_schemas(settings["registry"], et["subject"], registry_auth)

    spark = (
        SparkSession.builder.appName(job.APP_NAME)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(job.SHUFFLE_PARTITIONS))
        .config("spark.sql.streaming.noDataMicroBatches.enabled", "true")
        .config("spark.sql.streaming.numRecentProgressUpdates", "100000")
        .getOrCreate()
    )
    metrics = Metrics(job.DOMAIN)
    metrics.set(job.METRICS["build_info"], {"version": spark.version, "runner": "spark"}, 1)
    spark.streams.addListener(ProgressMetrics(job, metrics))
    if args.metrics_address:
        metrics.serve(args.metrics_address)

    clickhouse = ClickHouse(settings) if args.sink == "clickhouse" else None
    runs = max(1, args.runs) if args.until_end else 1
    failed = None
    for run in range(runs):
        checkpoints = args.checkpoints if runs == 1 else os.path.join(args.checkpoints, f"run{run}")
        started = time.monotonic()
        events, records = read_events(spark, job, settings, args.starting_offsets, args.max_records_per_batch)

        def start(df, name, write):
            w = df.writeStream.queryName(name).outputMode("append").option("checkpointLocation", os.path.join(checkpoints, name)).foreachBatch(write)
            return w.trigger(processingTime=job.TRIGGER).start()

        queries = [start(records, RECORDS_QUERY, dead_letter_writer(job, settings, metrics))]
        for agg in job.AGGREGATIONS:
            if clickhouse is not None:
                write = clickhouse_writer(job, agg, clickhouse, metrics)
            else:
                write = jsonl_writer(job, agg, args.jsonl_dir, metrics)
            queries.append(start(agg.build(events), agg.name, write))
        try:
            if args.until_end:
                stop_at_end(queries)
            for q in queries:
                q.awaitTermination()
        except Exception as e:  # one failed query stops the job: nothing is committed past it
            failed = e
            for q in queries:
                if q.isActive:
                    q.stop()
        print("SLUICE_SPARK_RUN " + json.dumps({"run": run, "seconds": round(time.monotonic() - started, 3)}), flush=True)
        if failed is not None:
            break
    for q in queries:
        print("SLUICE_SPARK_SUMMARY " + json.dumps(summary(q), sort_keys=True), flush=True)
    if failed is not None:
        print(f"sluice spark job failed: {failed}", file=sys.stderr, flush=True)
        sys.exit(1)
