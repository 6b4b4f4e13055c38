// sluice console: a small page application over the console's JSON API.
// Pages: Pipeline (live over server-sent events), Results (uPlot chart and
// table), Dead letters (filters and detail), Config (domains, schemas,
// windows, problems). Every page has an empty and an error state.
"use strict";

const $page = document.getElementById("page");
const state = { overview: null, config: null, stream: null, charts: [] };

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function fmtNum(n) {
  if (n === null || n === undefined || n === "") return "–";
  const x = Number(n);
  if (!Number.isFinite(x)) return esc(n);
  return Math.abs(x) >= 1000 ? x.toLocaleString("en-US", { maximumFractionDigits: 0 }) : String(Math.round(x * 100) / 100);
}
function fmtTime(ms) {
  if (ms === null || ms === undefined) return "–";
  return new Date(ms).toISOString().replace("T", " ").replace(".000Z", "Z");
}
function fmtDur(ms) {
  if (ms === null || ms === undefined) return "–";
  const s = Math.abs(ms) / 1000;
  const sign = ms < 0 ? "-" : "";
  if (s < 60) return sign + s.toFixed(1) + " s";
  if (s < 3600) return sign + (s / 60).toFixed(1) + " min";
  if (s < 86400) return sign + (s / 3600).toFixed(1) + " h";
  return sign + (s / 86400).toFixed(1) + " d";
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  let body = null;
  try { body = await r.json(); } catch (_) { body = null; }
  if (!r.ok) throw new Error((body && body.error) || r.status + " " + r.statusText);
  return body;
}

async function post(path, body) {
  const csrf = document.querySelector('meta[name="sluice-csrf"]').content;
  const r = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-Sluice-Csrf": csrf },
    body: JSON.stringify(body),
  });
  let out = null;
  try { out = await r.json(); } catch (_) { out = null; }
  if (!r.ok) throw new Error((out && out.error) || r.status + " " + r.statusText);
  return out;
}

function empty(title, text) {
  return `<section class="state empty"><h2>${esc(title)}</h2><p>${text}</p></section>`;
}
function failed(title, err) {
  return `<section class="state error" role="alert"><h2>${esc(title)}</h2><p>${esc(err.message || err)}</p></section>`;
}

function clearPage() {
  if (state.stream) { state.stream.close(); state.stream = null; }
  state.charts.forEach((c) => c.destroy());
  state.charts = [];
  $page.innerHTML = "";
}

function domainName() {
  return state.overview && state.overview.domain;
}

async function domainConfig() {
  if (!state.config) state.config = await api("/api/config");
  const name = domainName();
  return (state.config.domains || []).find((d) => d.domain === name) || (state.config.domains || [])[0];
}

// ---------------------------------------------------------------- pipeline

const HISTORY = 300; // seconds kept for the small charts
function pipelinePage() {
  $page.innerHTML = `<h1>Pipeline</h1><div id="pipe">${empty("Connecting…", "Waiting for the first snapshot.")}</div>`;
  const hist = { t: [], inRate: [], outRate: [], lag: [] };
  let prev = null;
  let charts = null;
  const render = (snap) => {
    const box = document.getElementById("pipe");
    if (!box) return;
    if (snap.mode === "none") {
      box.innerHTML = empty("Nothing running, no store yet",
        `No run in this process and the store cannot be read (${esc(snap.reason)}). Start one with <code>sluice run --domain ${esc(domainName() || "ecommerce")} --ui</code>.`);
      return;
    }
    if (snap.mode === "store") {
      const rows = snap.progress || [];
      box.innerHTML = (snap.watch_error ? `<p class="bad">${esc(snap.watch_error)}</p>` : "") +
        `<p class="muted">No run in this process: what the store says about the last run that wrote it. Start a run with <code>sluice run --ui</code> to watch it live, or watch one in another process with <code>sluice ui --watch</code> and its metrics address.</p>` +
        (rows.length ? table(["table_name", "flushes", "rows", "updated_at"], rows) : empty("No results yet", "The store has no progress rows."));
      return;
    }
    const r = snap.run;
    const now = r.elapsed_ms / 1000;
    if (prev) {
      const dt = Math.max(0.001, now - prev.t);
      hist.t.push(Date.now() / 1000);
      hist.inRate.push((r.records_in - prev.records_in) / dt);
      hist.outRate.push((r.rows_written - prev.rows_written) / dt);
      hist.lag.push(r.watermark_lag_ms === null ? null : r.watermark_lag_ms / 1000);
      for (const k of Object.keys(hist)) if (hist[k].length > HISTORY) hist[k].shift();
    }
    prev = { t: now, records_in: r.records_in, rows_written: r.rows_written };
    const last = (a) => (a.length ? a[a.length - 1] : null);
    const where = snap.mode === "remote" ? ` · <span class="muted">watching the run at ${esc(snap.url)}</span>` : "";
    const status = r.running ? (r.sink_down ? `<span class="bad">sink down, retrying (${fmtNum(r.sink_retries)})</span>` : `<span class="good">running</span>`) : `<span class="muted">finished</span>`;
    const counters = [
      ["events in", fmtNum(r.records_in) + (r.limit ? ` / ${fmtNum(r.limit)}` : ""), "records-in"],
      ["events/s in", fmtNum(last(hist.inRate)), "rate-in"],
      ["rows/s out", fmtNum(last(hist.outRate)), "rate-out"],
      ["results", fmtNum(r.results), "results"],
      ["rows written", fmtNum(r.rows_written), "rows-written"],
      ["open windows", fmtNum(r.open_windows), "open-windows"],
      ["watermark", r.watermark_at_end ? "end of input" : fmtTime(r.watermark_ms), "watermark"],
      ["watermark behind wall clock", fmtDur(r.watermark_lag_ms), "watermark-lag"],
      ["late (dead-lettered)", fmtNum(r.late), "late"],
      ["malformed", fmtNum(r.malformed), "malformed"],
      ["future outliers", fmtNum(r.outliers), "outliers"],
      ["dead letters written", fmtNum(r.dead_written), "dead-written"],
      ["engine state", fmtNum(r.state_bytes / 1024) + " KiB", "state"],
      ["batches in flight", fmtNum(r.in_flight), "in-flight"],
    ];
    if (!box.querySelector(".counters")) {
      box.innerHTML = `<p>${status} · ${esc(r.source)} → ${esc(r.sink)}${where}</p><div class="counters"></div>
        <div class="charts"><figure><figcaption>events/s in · rows/s out</figcaption><div id="c-rate"></div></figure>
        <figure><figcaption>watermark behind wall clock (s)</figcaption><div id="c-lag"></div></figure></div>
        <div id="wms"></div><div id="parts"></div>
        <h2>Aggregations</h2>${table(["name", "aggregation", "kind"], r.tables)}`;
    } else {
      box.querySelector("p").innerHTML = `${status} · ${esc(r.source)} → ${esc(r.sink)}${where}`;
    }
    const wms = (r.watermarks || []).map((w) => ({
      partition: w.partition,
      "largest event time": fmtTime(w.max_event_time_ms),
      "behind wall clock": fmtDur(w.behind_ms),
      state: w.state,
    }));
    box.querySelector("#wms").innerHTML = wms.length
      ? `<h2>Watermark per partition</h2><p class="muted">The watermark follows the slowest active partition; an idle one (silent for <code>engine.idle_timeout</code>) stops holding it back.</p>` +
        table(["partition", "largest event time", "behind wall clock", "state"], wms)
      : "";
    box.querySelectorAll("#wms tbody tr").forEach((tr, i) => { tr.dataset.state = r.watermarks[i].state; if (r.watermarks[i].state === "holds the watermark") tr.classList.add("holds"); });
    const parts = r.partitions || [];
    box.querySelector("#parts").innerHTML = parts.length
      ? `<h2>Kafka lag per partition</h2>` + table(["topic", "partition", "position", "high_watermark", "lag"], parts)
      : "";
    box.querySelector(".counters").innerHTML = counters.map(([k, v, id]) => `<div class="counter" data-counter="${id}"><span class="k">${esc(k)}</span><span class="v">${v}</span></div>`).join("");
    if (hist.t.length >= 2) {
      const w = Math.max(320, Math.min(560, box.clientWidth / 2 - 24));
      if (!charts) {
        charts = [
          new uPlot({ width: w, height: 160, series: [{}, { label: "in", stroke: "#2b6cb0" }, { label: "out", stroke: "#c05621" }], axes: [{}, { size: 60 }] }, [hist.t, hist.inRate, hist.outRate], document.getElementById("c-rate")),
          new uPlot({ width: w, height: 160, series: [{}, { label: "lag", stroke: "#6b46c1" }], axes: [{}, { size: 60 }] }, [hist.t, hist.lag], document.getElementById("c-lag")),
        ];
        state.charts.push(...charts);
      } else {
        charts[0].setData([hist.t, hist.inRate, hist.outRate]);
        charts[1].setData([hist.t, hist.lag]);
      }
    }
  };
  const es = new EventSource("/api/pipeline/stream");
  state.stream = es;
  es.addEventListener("snapshot", (e) => render(JSON.parse(e.data)));
  es.onerror = () => {
    const box = document.getElementById("pipe");
    if (box && !box.querySelector(".counters")) box.innerHTML = failed("The console is not answering", "The live stream broke; it reconnects by itself.");
  };
}

// ---------------------------------------------------------------- results

function table(columns, rows, opts = {}) {
  if (!rows || !rows.length) return `<p class="muted">No rows.</p>`;
  const head = (opts.select ? `<th class="pick"><input type="checkbox" aria-label="select all" id="pick-all"></th>` : "") +
    columns.map((c) => `<th>${esc(c)}</th>`).join("");
  const body = rows.map((r, i) => {
    const cells = columns.map((c) => {
      let v = r[c];
      if (c === "event_time" && typeof v === "number") v = fmtTime(v);
      if (c === "provisional" && v && v !== "0") return `<td><span class="badge">provisional</span></td>`;
      if (c === "revision" && Number(v) > 0) return `<td><span class="badge rev">rev ${esc(v)}</span></td>`;
      return `<td>${esc(v === null ? "∅" : v)}</td>`;
    }).join("");
    const pick = opts.select ? `<td class="pick"><input type="checkbox" aria-label="select" data-row="${i}"></td>` : "";
    return `<tr${opts.clickable ? ` data-row="${i}" tabindex="0" class="click"` : ""}>${pick}${cells}</tr>`;
  }).join("");
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

const PALETTE = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b", "#975a16", "#4a5568", "#e53e3e", "#3182ce"];

function windowPicture(w) {
  // a small SVG of the window kind: boxes on a time line
  const W = 220, H = 46;
  const box = (x, y, wd, cls) => `<rect x="${x}" y="${y}" width="${wd}" height="10" rx="2" class="${cls}"/>`;
  let shapes = "";
  if (w.type === "tumbling") for (let i = 0; i < 5; i++) shapes += box(4 + i * 43, 18, 40, "w");
  else if (w.type === "sliding") for (let i = 0; i < 4; i++) shapes += box(4 + i * 28, 4 + i * 10, 110, "w");
  else if (w.type === "session") shapes += box(4, 18, 60, "w") + box(96, 18, 30, "w") + box(160, 18, 52, "w");
  else if (w.type === "cumulative") for (let i = 0; i < 4; i++) shapes += box(4, 4 + i * 10, 52 * (i + 1), "w");
  return `<svg class="window" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(w.type)} window">${shapes}<line x1="0" y1="${H - 1}" x2="${W}" y2="${H - 1}" class="axis"/></svg>`;
}
function windowText(w) {
  if (w.type === "tumbling") return `tumbling ${esc(w.duration)}`;
  if (w.type === "sliding") return `sliding ${esc(w.duration)} every ${esc(w.slide)}`;
  if (w.type === "session") return `session, gap ${esc(w.gap)}`;
  if (w.type === "cumulative") return `cumulative up to ${esc(w.max_size)}, step ${esc(w.step)}`;
  return esc(w.type);
}

async function resultsPage(params) {
  let d;
  try { d = await domainConfig(); } catch (e) { $page.innerHTML = failed("Cannot read the configuration", e); return; }
  if (!d) { $page.innerHTML = `<h1>Results</h1>` + empty("No domain", "The configuration has no domain (see Config)."); return; }
  const aggs = d.aggregations || [];
  const current = params.get("aggregation") || (aggs[0] && aggs[0].name);
  $page.innerHTML = `<h1>Results</h1>
    <form id="rf" class="filters">
      <label>Aggregation <select name="aggregation">${aggs.map((a) => `<option ${a.name === current ? "selected" : ""}>${esc(a.name)}</option>`).join("")}</select></label>
      <label>Top groups <input name="top" type="number" min="1" max="50" value="${esc(params.get("top") || 8)}"></label>
      <label>Group contains <input name="group" value="${esc(params.get("group") || "")}" placeholder="e.g. mobile"></label>
      <label>From <input name="from" value="${esc(params.get("from") || "")}" placeholder="2024-01-01T00:00:00Z"></label>
      <label>To <input name="to" value="${esc(params.get("to") || "")}" placeholder="2024-01-02T00:00:00Z"></label>
      <label>Value <select name="value"></select></label>
      <button type="submit">Show</button>
      <a id="csv" class="button" href="#">Export CSV</a>
    </form>
    <div id="res">${empty("Loading…", "Reading the store.")}</div>`;
  const form = document.getElementById("rf");
  form.addEventListener("change", (e) => { if (e.target.name === "aggregation") form.requestSubmit(); });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams(new FormData(form));
    location.hash = "#/results?" + p.toString();
  });
  if (!current) { document.getElementById("res").innerHTML = empty("No aggregations", "This domain declares no aggregations."); return; }
  const a = aggs.find((x) => x.name === current);
  const q = new URLSearchParams(params);
  q.set("domain", d.domain);
  q.delete("aggregation");
  document.getElementById("csv").href = `/api/results/${encodeURIComponent(current)}/csv?domain=${encodeURIComponent(d.domain)}`;
  let data;
  try { data = await api(`/api/results/${encodeURIComponent(current)}?${q}`); }
  catch (e) { document.getElementById("res").innerHTML = failed("Cannot read the results", e); return; }
  const c = data.chart;
  form.value.innerHTML = c.value_columns.map((v) => `<option ${v === c.value ? "selected" : ""}>${esc(v)}</option>`).join("");
  const res = document.getElementById("res");
  if (!c.series.length) {
    res.innerHTML = `<p>${windowPicture(a.window)} ${windowText(a.window)} · ${esc(data.kind)}${a.field ? "(" + esc(a.field) + ")" : ""}</p>` +
      empty("No results yet", `The table <code>${esc(data.table)}</code> has no closed window${params.get("group") ? " for this group filter" : ""} yet.`);
    return;
  }
  res.innerHTML = `<p>${windowPicture(a.window)} ${windowText(a.window)} · ${esc(data.kind)}${a.field ? "(" + esc(a.field) + ")" : ""} by ${esc((data.dims || []).join(", ") || "nothing")}
     · showing ${c.series.length} of ${c.groups_total} groups · ${data.window === "session" ? "sessions drawn as spans" : "x = window " + esc(c.x)}
     · <span class="badge">${c.provisional} provisional</span> <span class="badge rev">${c.revised} revised</span></p>
     <div id="chart" data-series="${c.series.length}" data-points="${c.series.reduce((n, s) => n + s.points.length, 0)}"></div>
     <h2>Rows <span class="muted">(newest ${data.rows.length})</span></h2>${table(data.columns, data.rows)}`;
  drawResults(c, data.window);
}

function drawResults(c, windowType) {
  // one x axis: the union of the series' x values; sessions are drawn as
  // spans (a flat line from each session's start to its end, a gap after)
  const session = windowType === "session";
  const key = c.x === "end" ? "end" : "start";
  const raw = session
    ? c.series.flatMap((s) => s.points.flatMap((p) => [p.start, p.end, p.end + 1]))
    : c.series.flatMap((s) => s.points.map((p) => p[key]));
  const xs = [...new Set(raw)].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const data = [xs.map((x) => x / 1000)];
  const series = [{}];
  c.series.forEach((s, i) => {
    const ys = new Array(xs.length).fill(null);
    s.points.forEach((p) => {
      if (!session) { ys[index.get(p[key])] = p.value; return; }
      for (let j = index.get(p.start); j <= index.get(p.end); j++) ys[j] = p.value;
    });
    data.push(ys);
    const color = PALETTE[i % PALETTE.length];
    const opts = { label: s.group, stroke: color, width: session ? 3 : 1, spanGaps: !session, points: { show: !session && xs.length < 60 } };
    if (windowType === "tumbling" && uPlot.paths && uPlot.paths.stepped) opts.paths = uPlot.paths.stepped({ align: 1 });
    series.push(opts);
  });
  const el = document.getElementById("chart");
  const chart = new uPlot({ width: Math.max(480, el.clientWidth || 900), height: 320, series, axes: [{}, { size: 70 }], scales: { x: { time: true } } }, data, el);
  state.charts.push(chart);
}

// ---------------------------------------------------------------- dead letters

async function deadLettersPage(params) {
  $page.innerHTML = `<h1>Dead letters</h1>
    <form id="df" class="filters">
      <label>Kind <select name="kind"><option value="">any</option></select></label>
      <label>Reason contains <input name="reason" value="${esc(params.get("reason") || "")}"></label>
      <label>Source <input name="source" value="${esc(params.get("source") || "")}" placeholder="topic or file"></label>
      <label>Aggregation <input name="aggregation" value="${esc(params.get("aggregation") || "")}"></label>
      <label>Partition <input name="partition" size="5" inputmode="numeric" value="${esc(params.get("partition") || "")}"></label>
      <label>Recorded from <input name="from" size="16" placeholder="2026-12-04 10:00" value="${esc(params.get("from") || "")}"></label>
      <label>to <input name="to" size="16" placeholder="UTC" value="${esc(params.get("to") || "")}"></label>
      <button type="submit">Filter</button>
    </form>
    <div class="split"><div id="dl">${empty("Loading…", "Reading the dead-letter table.")}</div><aside id="detail"></aside></div>`;
  const form = document.getElementById("df");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams([...new FormData(form)].filter(([, v]) => v));
    location.hash = "#/dead-letters?" + p.toString();
  });
  let data;
  try { data = await api(`/api/dead-letters?${params}`); }
  catch (e) { document.getElementById("dl").innerHTML = failed("Cannot read the dead letters", e); return; }
  const counts = new Map((data.kinds || []).map((k) => [k.kind, k.n]));
  form.kind.innerHTML = `<option value="">any</option>` + data.all_kinds.map((k) => `<option value="${esc(k)}" ${params.get("kind") === k ? "selected" : ""}>${esc(k)} (${counts.get(k) || 0})</option>`).join("");
  const box = document.getElementById("dl");
  if (!data.rows.length) {
    box.innerHTML = empty("No dead letters", [...params.keys()].length ? "None match these filters." : "Nothing was dead-lettered: no malformed, late or outlying record so far.");
    return;
  }
  const replay = state.overview && state.overview.replay;
  box.innerHTML = `<p class="muted">${data.rows.length}${data.rows.length >= data.limit ? "+" : ""} shown, newest first. Select one for its bytes.</p>` +
    (replay ? `<div class="actions"><button id="replay" type="button" disabled>Replay selected</button>
      <span class="muted">re-injects the original bytes into their source topic, once (as <code>sluice dlq replay</code>)</span></div>
      <div id="replay-outcome" aria-live="polite"></div>` : "") +
    table(["kind", "reason", "source", "partition", "offset", "event_type", "aggregation", "event_time", "bytes"], data.rows, { clickable: true, select: replay });
  box.querySelectorAll("tr.click").forEach((tr) => {
    const open = () => showDeadLetter(data.rows[Number(tr.dataset.row)]);
    tr.addEventListener("click", (e) => { if (!e.target.closest("td.pick")) open(); });
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
  });
  if (replay) wireReplay(box, data.rows);
}

function wireReplay(box, rows) {
  const button = document.getElementById("replay");
  const picks = [...box.querySelectorAll("td.pick input")];
  const chosen = () => picks.filter((c) => c.checked).map((c) => rows[Number(c.dataset.row)]);
  const update = () => {
    const n = chosen().length;
    button.disabled = n === 0;
    button.textContent = n ? `Replay ${n} selected` : "Replay selected";
  };
  picks.forEach((c) => c.addEventListener("change", update));
  const all = document.getElementById("pick-all");
  all.addEventListener("change", () => { picks.forEach((c) => { c.checked = all.checked; }); update(); });
  button.addEventListener("click", () => replaySelected(chosen(), button));
}

async function replaySelected(chosen, button) {
  const out = document.getElementById("replay-outcome");
  button.disabled = true;
  out.innerHTML = `<p class="muted">Replaying ${chosen.length}…</p>`;
  let r;
  try { r = await post("/api/dead-letters/replay", { domain: domainName(), ids: chosen.map((c) => c.id) }); }
  catch (e) { out.innerHTML = failed("The replay failed", e); button.disabled = false; return; }
  const topics = Object.entries(r.by_topic || {}).map(([t, n]) => `${fmtNum(n)} into <code>${esc(t)}</code>`).join(", ");
  const lines = chosen.map((c) => {
    const o = (r.outcomes || {})[c.id] || "not found";
    const cls = o === "replayed" ? "good" : "muted";
    return `<li data-outcome="${esc(o)}"><code>${esc(c.source)}[${esc(c.partition)}]@${esc(c.offset)}</code> ${esc(c.kind)}: <span class="${cls}">${esc(o)}</span></li>`;
  }).join("");
  const list = chosen.length > 12
    ? `<details><summary>each of the ${fmtNum(chosen.length)}</summary><ul>${lines}</ul></details>`
    : `<ul>${lines}</ul>`;
  out.innerHTML = `<section class="outcome" id="replay-result"><p><b>${fmtNum(r.replayed)} replayed</b>${topics ? " (" + topics + ")" : ""}${r.already ? `, ${fmtNum(r.already)} already replayed before` : ""}${r.refused ? `, ${fmtNum(r.refused)} refused (counted by another aggregation the first time)` : ""}${r.truncated ? `, ${fmtNum(r.truncated)} truncated (the original is still in its topic)` : ""}.</p>${list}</section>`;
  button.disabled = false;
}

async function showDeadLetter(r) {
  const aside = document.getElementById("detail");
  aside.innerHTML = `<p class="muted">Loading…</p>`;
  const q = new URLSearchParams({ source: r.source, partition: r.partition, offset: r.offset, kind: r.kind, aggregation: r.aggregation || "" });
  let d;
  try { d = await api(`/api/dead-letters/detail?${q}`); }
  catch (e) { aside.innerHTML = failed("Cannot read this dead letter", e); return; }
  aside.innerHTML = `<h2>${esc(d.kind)} · ${esc(d.source)}[${esc(d.partition)}]@${esc(d.offset)}</h2>
    <p class="reason">${esc(d.reason)}</p>
    <dl><dt>event type</dt><dd>${esc(d.event_type ?? "–")}</dd><dt>aggregation</dt><dd>${esc(d.aggregation || "–")}</dd>
    <dt>event time</dt><dd>${esc(typeof d.event_time === "number" ? fmtTime(d.event_time) : (d.event_time ?? "–"))}</dd><dt>recorded</dt><dd>${esc(d.recorded_at)}</dd><dt>bytes</dt><dd>${esc(d.bytes)}</dd></dl>
    ${d.decoded ? `<h3>Decoded (${esc(d.decoded_as === "avro" ? "Avro, with the event type's schema" : "JSON")})</h3><pre class="json">${esc(JSON.stringify(d.decoded, null, 2))}</pre>` : `<p class="muted">Neither JSON nor a whole Avro record of its event type (a malformed record); shown as bytes only.</p>`}
    <h3>Original bytes</h3><pre class="hex">${esc(d.hex)}</pre>`;
}

// ---------------------------------------------------------------- config

async function configPage() {
  let c;
  try { c = state.config = await api("/api/config"); } catch (e) { $page.innerHTML = failed("Cannot read the configuration", e); return; }
  const problems = c.problems || [];
  let html = `<h1>Config</h1>`;
  html += problems.length
    ? `<section class="problems"><h2>${problems.length} problem${problems.length === 1 ? "" : "s"}</h2><ul>${problems.map((p) =>
      `<li><code>${esc(p.file)}:${p.line}:${p.col}</code> ${p.path ? `<code>${esc(p.path)}</code> ` : ""}${esc(p.message)}${p.expected ? ` <span class="muted">(expected ${esc(p.expected)})</span>` : ""}${p.suggestion ? `<br><span class="hint">${esc(p.suggestion)}</span>` : ""}</li>`).join("")}</ul></section>`
    : `<p class="good">The configuration validates: no problems.</p>`;
  if (c.sink) html += `<p>Results are stored in <b>${esc(c.sink.type)}</b>${c.sink.path ? ` (<code>${esc(c.sink.path)}</code>)` : ""}${c.sink.database ? ` (database <code>${esc(c.sink.database)}</code>)` : ""}.</p>`;
  if (!(c.domains || []).length && !problems.length) html += empty("No domain", "Add one under <code>config/domains/</code>.");
  for (const d of c.domains || []) {
    html += `<section class="domain"><h2>${esc(d.domain)}</h2>${d.description ? `<p>${esc(d.description)}</p>` : ""}
      <h3>Event types</h3>`;
    if (state.overview && state.overview.registry) {
      html += `<div class="actions"><button type="button" class="compat-check" data-domain="${esc(d.domain)}">Check against the schema registry</button>
        <span class="muted">each event type's schema as configured, against the latest version registered for its topic</span></div>
        <div class="compat" data-domain="${esc(d.domain)}"></div>`;
    }
    for (const et of d.event_types || []) {
      const fields = [...(et.attributes || []).map((f) => ({ ...f, role: "attribute" })), ...(et.dimensions || []).map((f) => ({ ...f, role: "dimension" }))];
      html += `<details class="et"><summary><b>${esc(et.name)}</b> <span class="muted">${fields.length} fields</span></summary>
        ${table(["name", "type", "role", "optional"], fields.map((f) => ({ name: f.name, type: typeof f.type === "string" ? f.type : JSON.stringify(f.type), role: f.role, optional: f.optional ? "yes" : "" })))}
        <h4>Avro schema</h4><pre class="json">${esc(JSON.stringify((d.schemas || {})[et.name], null, 2))}</pre></details>`;
    }
    html += `<h3>Aggregations</h3><div class="aggs">` + (d.aggregations || []).map((a) =>
      `<div class="agg"><div><b>${esc(a.name)}</b> · ${esc(a.type)}${a.field ? "(" + esc(a.field) + ")" : ""}${(a.group_by || []).length ? " by " + esc(a.group_by.join(", ")) : ""}</div>
       ${windowPicture(a.window)}<div class="muted">${windowText(a.window)} · table <code>${esc(a.sink_table)}</code></div>
       <a href="#/results?aggregation=${encodeURIComponent(a.name)}">see results</a></div>`).join("") + `</div></section>`;
  }
  $page.innerHTML = html;
  $page.querySelectorAll("button.compat-check").forEach((b) => b.addEventListener("click", () => checkCompat(b)));
}

const COMPAT_TEXT = {
  registered: "identical to the registered version",
  full: "full: each reads the other's data",
  backward: "backward: reads old data; old readers cannot read new data",
  forward: "forward: old readers read new data; cannot read old data",
  none: "none: neither reads the other's data",
  "not registered": "not registered yet",
};

async function checkCompat(button) {
  const box = $page.querySelector(`div.compat[data-domain="${CSS.escape(button.dataset.domain)}"]`);
  button.disabled = true;
  box.innerHTML = `<p class="muted">Asking the registry…</p>`;
  let r;
  try { r = await api(`/api/config/compat?domain=${encodeURIComponent(button.dataset.domain)}`); }
  catch (e) { box.innerHTML = failed("Cannot check against the schema registry", e); button.disabled = false; return; }
  box.innerHTML = `<table class="compat-table"><thead><tr><th>event type</th><th>subject</th><th>version</th><th>compatibility</th><th>registry</th></tr></thead><tbody>` +
    r.event_types.map((e) => {
      const why = [...(e.backward || []).map((m) => "reads old data? " + m), ...(e.forward || []).map((m) => "old readers? " + m)];
      const reg = e.status === "not registered" ? "–" : (e.registry_accepts ? `<span class="good">accepts</span>` : `<span class="bad">refuses</span>`);
      return `<tr data-event-type="${esc(e.event_type)}" data-status="${esc(e.status)}"><td><b>${esc(e.event_type)}</b></td><td><code>${esc(e.subject)}</code></td><td>${esc(e.version ?? "–")}</td>
        <td><span class="badge compat-${esc(e.status.replace(" ", "-"))}">${esc(e.status)}</span> <span class="muted">${esc(COMPAT_TEXT[e.status] || "")}</span>${why.length ? `<ul class="why">${why.map((w) => `<li>${esc(w)}</li>`).join("")}</ul>` : ""}</td>
        <td>${reg}${(e.registry_messages || []).length && !e.registry_accepts ? `<ul class="why">${e.registry_messages.map((m) => `<li>${esc(m)}</li>`).join("")}</ul>` : ""}</td></tr>`;
    }).join("") + `</tbody></table>`;
  button.disabled = false;
}

// ---------------------------------------------------------------- router

async function route() {
  clearPage();
  const [path, query] = (location.hash.replace(/^#/, "") || "/pipeline").split("?");
  const params = new URLSearchParams(query || "");
  const page = path.replace(/^\//, "") || "pipeline";
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
  if (!state.overview) {
    try { state.overview = await api("/api/overview"); }
    catch (e) { $page.innerHTML = failed("The console is not answering", e); return; }
    document.getElementById("domain").textContent = state.overview.domain ? "domain " + state.overview.domain : "";
  }
  if (page === "results") return resultsPage(params);
  if (page === "dead-letters") return deadLettersPage(params);
  if (page === "config") return configPage();
  return pipelinePage();
}

window.addEventListener("hashchange", route);
route();
