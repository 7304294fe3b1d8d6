// Draws a Grafana dashboard (the JSON production imports) from Prometheus's HTTP API, so the same
// panels can be looked at on a machine without Grafana. Query string:
//   ?dashboard=<file name without .json>  (default: the first in dashboards/index.json)
//   &prometheus=<base URL>                (default: the local Prometheus)
//   &range=<seconds>                      (default: the last hour)
// Each panel element carries data-state = data | empty | error and data-series = <count>; the
// body gets data-ready="true" once every panel has its answer. The browser test reads those.
"use strict";

const params = new URLSearchParams(location.search);
const PROMETHEUS = (params.get("prometheus") || "http://127.0.0.1:9090").replace(/\/$/, "");
const RANGE_S = Number(params.get("range") || 3600);
const STEP_S = Math.max(15, Math.round(RANGE_S / 240));
// What Grafana substitutes before a query reaches Prometheus (as the query test does).
const VARIABLES = { "$__rate_interval": "1m", "$__interval": `${STEP_S}s`, "$__range": `${RANGE_S}s` };
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

function expand(expr) {
  let out = expr;
  for (const [name, value] of Object.entries(VARIABLES)) out = out.split(name).join(value);
  return out;
}

async function prometheus(path, query) {
  const url = `${PROMETHEUS}/api/v1/${path}?${new URLSearchParams(query)}`;
  const reply = await fetch(url);
  const body = await reply.json();
  if (body.status !== "success") throw new Error(`${body.errorType}: ${body.error}`);
  return body.data.result;
}

// Grafana's legendFormat: `{{label}}` replaced by the series' label value.
function legend(target, metric) {
  if (target.legendFormat) {
    return target.legendFormat.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k) => metric[k] ?? "");
  }
  const labels = Object.entries(metric).filter(([k]) => k !== "__name__");
  return labels.length ? labels.map(([k, v]) => `${k}=${v}`).join(", ") : expand(target.expr);
}

function format(value, unit) {
  if (!Number.isFinite(value)) return String(value);
  const compact = (v, suffixes, base) => {
    let i = 0;
    while (Math.abs(v) >= base && i < suffixes.length - 1) { v /= base; i += 1; }
    return `${Number(v.toPrecision(3))}${suffixes[i]}`;
  };
  switch (unit) {
    case "bytes": return compact(value, [" B", " KiB", " MiB", " GiB", " TiB"], 1024);
    case "Bps": return compact(value, [" B/s", " kB/s", " MB/s", " GB/s"], 1000);
    case "ms": return value >= 1000 ? `${Number((value / 1000).toPrecision(3))} s` : `${Number(value.toPrecision(3))} ms`;
    case "percentunit": return `${Number((value * 100).toPrecision(3))}%`;
    case "s": return value >= 3600 ? `${Number((value / 3600).toPrecision(3))} h` : `${Number(value.toPrecision(3))} s`;
    case "dateTimeFromNow": return new Date(value * 1000).toISOString().replace(".000Z", "Z");
    default: return compact(value, ["", "k", "M", "G"], 1000);
  }
}

function panelBox(panel) {
  const box = document.createElement("section");
  const pos = panel.gridPos || { x: 0, y: 0, w: 12, h: 8 };
  box.className = `panel ${panel.type}`;
  box.style.gridColumn = `${pos.x + 1} / span ${pos.w}`;
  box.style.gridRow = `${pos.y + 1} / span ${pos.h}`;
  box.dataset.panelTitle = panel.title || "";
  const title = document.createElement("h2");
  title.textContent = panel.title || "";
  box.append(title);
  return box;
}

function settle(box, series) {
  box.dataset.series = String(series);
  box.dataset.state = series > 0 ? "data" : "empty";
}

async function drawTimeseries(panel, box) {
  const end = Math.floor(Date.now() / 1000);
  const start = end - RANGE_S;
  const results = await Promise.all((panel.targets || []).map((t) =>
    prometheus("query_range", { query: expand(t.expr), start, end, step: STEP_S })
      .then((rows) => rows.map((r) => ({ name: legend(t, r.metric), values: r.values })))));
  const series = results.flat().filter((s) => s.values.some(([, v]) => Number.isFinite(Number(v))));
  settle(box, series.length);
  if (!series.length) return;
  // uPlot wants one x axis: the union of every series' timestamps, nulls where a series has none.
  const xs = [...new Set(series.flatMap((s) => s.values.map(([t]) => t)))].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const column = new Array(xs.length).fill(null);
    // NaN (a ratio over no traffic) is a gap, as in Grafana; uPlot cannot scale an axis over NaN.
    for (const [t, v] of s.values) column[index.get(t)] = Number.isFinite(Number(v)) ? Number(v) : null;
    return column;
  });
  const unit = panel.fieldConfig?.defaults?.unit;
  const width = Math.max(200, box.clientWidth - 16);
  const opts = {
    width, height: Math.max(80, box.clientHeight - 60),
    series: [{}, ...series.map((s, i) => ({ label: s.name, stroke: PALETTE[i % PALETTE.length], width: 1.5 }))],
    // The value axis as wide as its longest label ("250 kB/s"), so no label is cut at the left.
    axes: [{}, { values: (_, ticks) => ticks.map((v) => format(v, unit)),
                 size: (_, labels) => Math.max(40, 18 + 8 * Math.max(0, ...(labels || []).map((l) => l.length))) }],
  };
  await fitLegend(new uPlot(opts, [xs, ...ys], box), box, width);
}

// Every series is named in the legend under the plot. The plot gives up height to the legend, down
// to half of the panel; a longer legend scrolls inside the panel rather than being cut off by it.
async function fitLegend(plot, box, width) {
  // uPlot sizes its elements in a microtask: measure the legend once it wraps at the plot's width.
  await new Promise((resolve) => setTimeout(resolve));
  const legendBox = plot.root.querySelector(".u-legend");
  const style = getComputedStyle(box);
  const title = box.querySelector("h2");
  const inside = box.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)
    - title.offsetHeight - parseFloat(getComputedStyle(title).marginBottom);
  const legendHeight = Math.min(legendBox.scrollHeight, Math.floor(inside / 2));
  legendBox.style.maxHeight = `${legendHeight}px`;
  plot.setSize({ width, height: Math.max(80, Math.floor(inside - legendHeight - 2)) });
}

async function instant(panel) {
  const results = await Promise.all((panel.targets || []).map((t) =>
    prometheus("query", { query: expand(t.expr) })
      .then((rows) => rows.map((r) => ({ name: legend(t, r.metric), metric: r.metric, value: Number(r.value[1]) })))));
  return results.flat();
}

async function drawStat(panel, box) {
  const rows = await instant(panel);
  settle(box, rows.length);
  const unit = panel.fieldConfig?.defaults?.unit;
  const stat = document.createElement("div");
  stat.className = "stat";
  for (const row of rows) {
    const cell = document.createElement("div");
    cell.innerHTML = `<div class="value"></div><div class="label"></div>`;
    cell.querySelector(".value").textContent = format(row.value, unit);
    cell.querySelector(".label").textContent = rows.length > 1 ? row.name : "";
    stat.append(cell);
  }
  box.append(stat);
}

async function drawTable(panel, box) {
  const rows = await instant(panel);
  settle(box, rows.length);
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.metric)))].filter((k) => k !== "__name__");
  const table = document.createElement("table");
  const head = table.insertRow();
  for (const k of [...keys, "value"]) head.insertCell().outerHTML = `<th>${k}</th>`;
  for (const r of rows) {
    const tr = table.insertRow();
    for (const k of keys) tr.insertCell().textContent = r.metric[k] ?? "";
    tr.insertCell().textContent = format(r.value, panel.fieldConfig?.defaults?.unit);
  }
  box.append(table);
}

const DRAW = { timeseries: drawTimeseries, graph: drawTimeseries, stat: drawStat, gauge: drawStat, table: drawTable };

async function drawPanel(panel, grid) {
  const box = panelBox(panel);
  grid.append(box);
  if (panel.type === "row") return;
  const draw = DRAW[panel.type];
  try {
    if (!draw) throw new Error(`panel type ${panel.type} is not drawn here`);
    await draw(panel, box);
  } catch (error) {
    box.dataset.state = "error";
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = String(error.message || error);
    box.append(p);
  }
}

async function main() {
  const index = await (await fetch("dashboards/index.json")).json();
  const current = params.get("dashboard") || index[0].file;
  const nav = document.getElementById("dashboards");
  for (const d of index) {
    const a = document.createElement("a");
    a.href = `?dashboard=${encodeURIComponent(d.file)}`;
    a.textContent = d.title;
    if (d.file === current) a.className = "current";
    nav.append(a);
  }
  const dashboard = await (await fetch(`dashboards/${encodeURIComponent(current)}.json`)).json();
  document.title = `${dashboard.title} · vygoda`;
  document.getElementById("title").textContent = dashboard.title;
  document.getElementById("range").textContent = `last ${RANGE_S / 60} min · ${PROMETHEUS}`;
  const grid = document.getElementById("grid");
  await Promise.all(dashboard.panels.map((p) => drawPanel(p, grid)));
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  document.getElementById("title").textContent = `cannot draw: ${error.message || error}`;
  document.body.dataset.ready = "error";
});
