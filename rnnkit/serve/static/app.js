// rnnkit serve: the page. Plain JS, no build, no CDN; it calls only the public /v1 API.
"use strict";

const $ = (id) => document.getElementById(id);
const GATE_NAMES = {
  i: "input gate i", f: "forget gate f", g: "candidate g", o: "output gate o", c: "cell state c",
  h: "hidden state h", r: "reset gate r", z: "update gate z", n: "candidate n",
};
const state = { models: [], key: sessionStorage.getItem("rnnkit-key") || "", view: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else if (name === "style") node.style.cssText = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function api(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (state.key) headers.Authorization = "Bearer " + state.key;
  const response = await fetch("v1/" + path, body === undefined ? { headers } : {
    method: "POST", headers, body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error((data.error && data.error.message) || response.statusText);
    error.status = response.status;
    throw error;
  }
  return data;
}

function showError(message) { $("error").textContent = message || ""; }

// ----- models -------------------------------------------------------------------------------------------
async function loadModels() {
  try {
    const data = await api("models");
    state.models = data.models;
    $("key-row").hidden = !state.key;
  } catch (error) {
    if (error.status === 401) {
      $("key-row").hidden = false;
      $("status").textContent = "this server needs an API key";
      return;
    }
    $("status").textContent = "cannot reach the server: " + error.message;
    return;
  }
  const select = $("model");
  select.replaceChildren(...state.models.map((m) => el("option", { value: m.name, text: `${m.name} (${m.task})` })));
  const ready = state.models.every((m) => m.ready);
  $("status").textContent = ready ? `${state.models.length} model(s) ready` : "models are loading…";
  if (!ready) setTimeout(loadModels, 1000);
  chooseModel();
}

function currentModel() { return state.models.find((m) => m.name === $("model").value); }

function chooseModel() {
  const model = currentModel();
  if (!model) return;
  const metrics = Object.entries(model.test_metrics || {}).slice(0, 3)
    .map(([k, v]) => `${k} ${Number(v).toFixed(3)}`).join(", ");
  const labels = model.labels ? `${model.labels.length} labels` : "";
  $("model-info").textContent = [model.task, labels, `${model.parameters} parameters`, metrics]
    .filter(Boolean).join(" · ");
  if (!$("input").value || $("input").dataset.example === "yes") {
    $("input").value = model.example_input || "";
    $("input").dataset.example = "yes";
  }
  $("prediction").replaceChildren();
  $("inside").hidden = true;
}

// ----- prediction -----------------------------------------------------------------------------------------
function colourOf(name, lightness = 88) {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 60% ${lightness}%)`;
}

function renderProbabilities(output) {
  const entries = output.probabilities ? Object.entries(output.probabilities) : [[output.label, output.probability]];
  const bars = el("div", { class: "bars" });
  for (const [label, p] of entries) {
    bars.append(el("span", { class: "bar-label", text: label }),
      el("div", { class: "bar", style: `width:${(100 * p).toFixed(1)}%` }),
      el("span", { class: "probability", text: Number(p).toFixed(3) }));
  }
  return [el("div", { class: "label", text: output.label }), bars];
}

function renderTags(output) {
  const row = el("div", { class: "tagged" });
  output.tokens.forEach((token, k) => {
    const tag = output.tags[k];
    row.append(el("span", { class: "word", style: `background:${colourOf(tag)}` },
      el("span", { class: "text", text: token }), el("span", { class: "tag", text: tag })));
  });
  return [row];
}

function renderForecast(output) {
  const series = output.forecast, quantiles = output.quantiles || {};
  const levels = Object.keys(quantiles).sort((a, b) => a - b);
  const all = [...series, ...levels.flatMap((q) => quantiles[q])];
  const lo = Math.min(...all), hi = Math.max(...all), w = 600, h = 220, pad = 30;
  const x = (k) => pad + (k * (w - 2 * pad)) / Math.max(1, series.length - 1);
  const y = (v) => h - pad - ((v - lo) * (h - 2 * pad)) / (hi - lo || 1);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("class", "chart");
  const path = (points, attrs) => {
    const node = document.createElementNS(ns, "path");
    node.setAttribute("d", points.map(([px, py], k) => `${k ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join(" "));
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    svg.append(node);
  };
  if (levels.length >= 2) {
    const low = quantiles[levels[0]], high = quantiles[levels[levels.length - 1]];
    const band = [...low.map((v, k) => [x(k), y(v)]), ...high.map((v, k) => [x(k), y(v)]).reverse()];
    path(band, { fill: "#c9dcf0", stroke: "none", class: "band" });
  }
  path(series.map((v, k) => [x(k), y(v)]), { fill: "none", stroke: "#2b6cb0", "stroke-width": 2, class: "line" });
  for (const [v, py] of [[hi, y(hi)], [lo, y(lo)]]) {
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", 2); label.setAttribute("y", py + 4); label.setAttribute("font-size", 11);
    label.textContent = Number(v).toFixed(2);
    svg.append(label);
  }
  const caption = levels.length >= 2 ? `forecast, band from quantile ${levels[0]} to ${levels[levels.length - 1]}` : "forecast";
  return [el("p", { class: "quiet", text: caption }), svg];
}

function renderOutput(output) {
  if (typeof output.label === "string") return renderProbabilities(output);
  if (Array.isArray(output.tags) && Array.isArray(output.tokens)) return renderTags(output);
  if (typeof output.translation === "string") return [el("p", { class: "translation", text: output.translation })];
  if (typeof output.continuation === "string") {
    return [el("p", { class: "generation" }, el("span", { text: output.prompt || "" }),
      el("span", { class: "new", text: output.continuation }))];
  }
  if (Array.isArray(output.forecast)) return renderForecast(output);
  return [];
}

function renderPrediction(output) {
  const raw = el("details", {}, el("summary", { text: "JSON" }), el("pre", { text: JSON.stringify(output, null, 2) }));
  $("prediction").replaceChildren(el("h2", { text: "Prediction" }), ...renderOutput(output), raw);
}

// ----- inside the network ---------------------------------------------------------------------------------
function diverging(v, scale) {  // blue (negative) - white - red (positive)
  const t = Math.max(-1, Math.min(1, v / (scale || 1)));
  const a = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
}

function sequential(v) {  // 0 white - 1 dark blue: a gate's opening
  const t = Math.max(0, Math.min(1, v));
  return `rgb(${Math.round(255 - 215 * t)},${Math.round(255 - 160 * t)},${Math.round(255 - 80 * t)})`;
}

function unitOrder(layer) {
  const rows = layer.units.map((unit, k) => k);
  if ($("order").value !== "activity") return rows;
  const matrix = layer.values.c || layer.values.h;
  const spread = matrix.map((row) => {
    const mean = row.reduce((s, v) => s + v, 0) / row.length;
    return row.reduce((s, v) => s + (v - mean) ** 2, 0) / row.length + mean * mean;
  });
  return rows.sort((a, b) => spread[b] - spread[a]);
}

function heatmap(name, matrix, steps, units, order) {
  const flat = matrix.flat();
  const lo = Math.min(...flat), hi = Math.max(...flat);
  const gate = lo >= 0 && hi <= 1;  // sigmoid gates: 0..1; states and candidates: signed
  const scale = Math.max(Math.abs(lo), Math.abs(hi));
  const cell = Math.max(16, Math.min(44, Math.floor(900 / Math.max(1, steps.length))));
  const rowHeight = Math.max(4, Math.min(12, Math.floor(240 / Math.max(1, order.length))));
  const canvas = el("canvas", { width: cell * steps.length, height: rowHeight * order.length });
  const ctx = canvas.getContext("2d");
  order.forEach((row, y) => matrix[row].forEach((v, x) => {
    ctx.fillStyle = gate ? sequential(v) : diverging(v, scale);
    ctx.fillRect(x * cell, y * rowHeight, cell, rowHeight);
  }));
  canvas.addEventListener("mousemove", (event) => {
    const x = Math.floor(event.offsetX / cell), y = Math.floor(event.offsetY / rowHeight);
    if (x < steps.length && y < order.length) {
      canvas.title = `unit ${units[order[y]]}, step ${x} (${steps[x]}): ${matrix[order[y]][x].toFixed(4)}`;
    }
  });
  const columns = el("div", { class: "columns" },
    ...steps.map((s) => el("span", { class: "col-label", style: `width:${cell}px`, title: s, text: s })));
  const rows = el("div", { class: "rows", style: `height:${rowHeight * order.length}px` },
    el("span", { text: `${order.length} units` }));
  const range = gate ? "0 (white) to 1 (blue)" : `−${scale.toFixed(2)} (blue) to +${scale.toFixed(2)} (red)`;
  return el("section", { class: "heatmap", "data-gate": name, "data-columns": steps.length, "data-rows": order.length },
    el("h3", { text: GATE_NAMES[name] || name }), columns, el("div", { class: "body" }, rows, canvas),
    el("div", { class: "scale", text: range }));
}

function renderLayer() {
  const view = state.view;
  const layer = view && view.layers[Number($("layer").value)];
  if (!layer) { $("heatmaps").replaceChildren(); return; }
  $("summary").textContent = `${layer.call}, ${layer.label}: ${layer.summary}; rows are units, columns are steps`;
  const order = unitOrder(layer);
  $("heatmaps").replaceChildren(...Object.entries(layer.values)
    .map(([name, matrix]) => heatmap(name, matrix, layer.steps, layer.units, order)));
}

function renderSaliency(saliency) {
  if (!saliency) return [];
  const scale = Math.max(...saliency.scores.map(Math.abs)) || 1;
  const tokens = el("div", { class: "tokens" }, ...saliency.tokens.map((token, k) => el("span", {
    class: "token", title: saliency.scores[k].toFixed(4),
    style: `background:${diverging(saliency.scores[k], scale)};color:${Math.abs(saliency.scores[k]) > 0.6 * scale ? "white" : "inherit"}`,
    text: token,
  })));
  return [el("h3", { text: "Saliency (gradient × input): red pushes towards the prediction, blue away" }), tokens];
}

function renderAttention(attention) {
  if (!attention) return [];
  const table = el("table", { class: "attention" });
  const columns = attention.columns || attention.weights[0].map((_, k) => String(k));
  const rows = attention.rows || attention.weights.map((_, k) => String(k));
  table.append(el("tr", {}, el("th"), ...columns.map((c) => el("th", { text: c }))));
  attention.weights.forEach((row, r) => table.append(el("tr", {}, el("th", { text: rows[r] }),
    ...row.map((w) => el("td", { title: w.toFixed(3), style: `background:${sequential(w)}` })))));
  return [el("h3", { text: attention.caption }), table];
}

function renderInside(view) {
  state.view = view;
  $("inside").hidden = false;
  $("note").textContent = view.note;
  $("layer").replaceChildren(...view.layers.map((layer, k) => el("option", { value: k, text: `${layer.call} · ${layer.label}` })));
  $("saliency").replaceChildren(...renderSaliency(view.saliency));
  $("attention").replaceChildren(...renderAttention(view.attention));
  renderLayer();
}

// ----- the button ---------------------------------------------------------------------------------------
async function run() {
  const model = currentModel(), text = $("input").value;
  if (!model) return;
  if (!text.trim()) { showError("type an input first"); return; }
  showError("");
  $("run").disabled = true;
  $("busy").hidden = false;
  try {
    const predicted = await api(`models/${encodeURIComponent(model.name)}/predict`, { inputs: [text] });
    renderPrediction(predicted.outputs[0]);
    if (model.inspectable) renderInside(await api(`models/${encodeURIComponent(model.name)}/inspect`, { input: text }));
    else $("inside").hidden = true;
  } catch (error) {
    showError(error.message);
  } finally {
    $("run").disabled = false;
    $("busy").hidden = true;
  }
}

$("model").addEventListener("change", chooseModel);
$("input").addEventListener("input", () => { $("input").dataset.example = "no"; });
$("input").addEventListener("keydown", (event) => { if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) run(); });
$("run").addEventListener("click", run);
$("layer").addEventListener("change", renderLayer);
$("order").addEventListener("change", renderLayer);
$("key-save").addEventListener("click", () => {
  state.key = $("key").value;
  sessionStorage.setItem("rnnkit-key", state.key);
  loadModels();
});
loadModels();
