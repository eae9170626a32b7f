// lathe web console: the page. No build step; talks the protocol of docs/live.md over
// one WebSocket. Every change goes to lathe as a console command; what is shown comes
// back from lathe (values, meters, messages), so several browsers stay in step.
"use strict";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token");
let ws = null;
let nextId = 1;
const pending = new Map();
let graph = null;          // the last `graph` message
let values = {};           // param path -> value
let meterIndex = {};       // meter path -> index in `meters.m`
let history = [];          // {t, m, s} every HISTORY_STEP_MS
let grHistory = [];        // {t, v: [..]} per dynamics meter
let tpHold = -Infinity;
let lastHistoryAt = 0;
const HISTORY_STEP_MS = 100;
const dragging = new Set(); // params whose slider the user holds

function connect() {
  const url = `ws://${location.host}/ws` + (token ? `?token=${encodeURIComponent(token)}` : "");
  ws = new WebSocket(url);
  ws.onopen = () => { $("conn").textContent = "live"; $("conn").className = "badge"; };
  ws.onclose = () => {
    $("conn").textContent = "offline"; $("conn").className = "badge off";
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    const handler = handlers[msg.type];
    if (handler) handler(msg);
  };
}

function send(cmd, fields) {
  return new Promise((resolve) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return resolve({ ok: false, error: "not connected" });
    const id = nextId++;
    pending.set(id, resolve);
    ws.send(JSON.stringify(Object.assign({ id, cmd }, fields)));
  });
}

function showStatus(text, error) {
  const s = $("status");
  s.textContent = text;
  s.className = error ? "status error" : "status";
  for (const el of document.querySelectorAll(".node")) {
    el.classList.toggle("error", !!error && mentionsNode(text, el.dataset.id));
  }
}

function mentionsNode(text, id) {
  return text.includes("`" + id + "`") || text.includes('"' + id + '"') || text.includes("node " + id);
}

const handlers = {
  graph(msg) {
    graph = msg;
    meterIndex = {};
    msg.meters.forEach((p, i) => { meterIndex[p] = i; });
    grHistory = [];
    $("file").textContent = msg.file + ` · ${msg.sample_rate_hz} Hz · latency ${msg.latency_frames} frames`;
    buildNodes();
    drawGraph();
    buildMonitor();
  },
  values(msg) {
    values = msg.params;
    for (const [path, v] of Object.entries(values)) updateControl(path, v);
    for (const [name, on] of Object.entries(msg.monitor)) {
      const b = document.querySelector(`button[data-switch="${name}"]`);
      if (b) b.classList.toggle("on", on);
    }
    $("solo").textContent = msg.solo || "off";
    const codec = document.querySelector("select[data-switch=codec]");
    if (codec) codec.value = msg.codec || "off";
    for (const b of document.querySelectorAll("button[data-solo], #graph circle.port")) {
      b.classList.toggle("on", b.dataset.solo === msg.solo);
    }
    for (const r of document.querySelectorAll("#graph rect.box")) {
      r.classList.toggle("soloed", !!msg.solo && msg.solo.split(".")[0] === r.dataset.id);
      r.classList.toggle("bypassed", values[r.dataset.id + ".bypass"] >= 0.5);
    }
    const st = $("state");
    st.textContent = msg.modified ? "modified" : "as in file";
    st.className = msg.modified ? "badge modified" : "badge";
  },
  meters(msg) { onMeters(msg); },
  message(msg) { showStatus(msg.text, msg.error); },
  reply(msg) {
    const done = pending.get(msg.id);
    pending.delete(msg.id);
    if (!msg.ok) showStatus("error: " + msg.error, true);
    if (done) done(msg);
  },
  error(msg) { showStatus("error: " + msg.error, true); },
  server(msg) { showServer(msg); },
};

// The JACK server went away (lathe waits for it) or came back.
function showServer(msg) {
  const b = $("server");
  b.hidden = false;
  b.textContent = msg.running ? "JACK reconnected" : "JACK server gone, waiting";
  b.className = msg.running ? "badge" : "badge off";
  b.title = msg.text;
  showStatus(msg.text, !msg.running);
}

// ---- nodes and their controls ----

function isLog(p) { return p.unit === "Hz" && p.min > 0; }
function toSlider(p, v) {
  if (isLog(p)) return 1000 * Math.log(v / p.min) / Math.log(p.max / p.min);
  return 1000 * (v - p.min) / (p.max - p.min);
}
function fromSlider(p, x) {
  if (isLog(p)) return p.min * Math.pow(p.max / p.min, x / 1000);
  return p.min + (p.max - p.min) * x / 1000;
}
function fmt(v) {
  if (v === null || v === undefined) return "--";
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : v.toFixed(2);
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

function buildNodes() {
  const box = $("nodes");
  box.textContent = "";
  for (const n of graph.nodes) {
    const head = el("div", { class: "node-head" },
      el("span", { class: "id" }, n.id), el("span", { class: "kind" }, n.kind));
    const bypass = el("button", { "data-bypass": n.id, title: "bypass this node" }, "bypass");
    bypass.onclick = () => send("bypass", { node: n.id });
    head.append(bypass);
    for (const port of n.outputs) {
      const target = `${n.id}.${port}`;
      const b = el("button", { "data-solo": target, title: "hear this output alone" },
        n.outputs.length > 1 ? `solo ${port}` : "solo");
      b.onclick = () => send("solo", graphSoloIs(target) ? { on: false } : { target });
      head.append(b);
    }
    const meters = el("span", { class: "node-meters", "data-node-meters": n.id });
    head.append(meters);
    const node = el("div", { class: "node", "data-id": n.id, id: "node-" + n.id }, head);
    for (const p of n.params) {
      if (p.name === "bypass") continue;
      node.append(paramRow(n, p));
    }
    box.append(node);
  }
  for (const [path, v] of Object.entries(values)) updateControl(path, v);
}

function graphSoloIs(target) { return $("solo").textContent === target; }

function paramRow(n, p) {
  const path = `${n.id}.${p.name}`;
  const label = el("label", { title: p.doc }, p.name);
  if (p.kind === "choice") {
    const sel = el("select", { class: "entry", "data-path": path });
    p.choices.forEach((c, i) => sel.append(el("option", { value: String(i) }, c)));
    sel.onchange = () => send("set", { path, value: p.choices[Number(sel.value)] });
    return el("div", { class: "param" }, label, sel, el("span"), el("span"));
  }
  if (p.kind === "toggle") {
    const cb = el("input", { type: "checkbox", class: "entry", "data-path": path });
    cb.onchange = () => send("set", { path, value: cb.checked });
    return el("div", { class: "param" }, label, cb, el("span"), el("span"));
  }
  const slider = el("input", { type: "range", min: 0, max: 1000, step: 1, class: "slider", "data-path": path });
  const entry = el("input", { type: "number", step: "any", class: "entry", "data-path": path });
  let lastSent = 0;
  slider.oninput = () => {
    const v = fromSlider(p, Number(slider.value));
    entry.value = fmt(v);
    const now = performance.now();
    if (now - lastSent > 30) { lastSent = now; send("set", { path, value: v }); }
  };
  slider.onpointerdown = () => dragging.add(path);
  slider.onpointerup = () => dragging.delete(path);
  slider.onchange = () => { dragging.delete(path); send("set", { path, value: fromSlider(p, Number(slider.value)) }); };
  entry.onchange = () => {
    const v = Number(entry.value);
    if (entry.value.trim() !== "" && Number.isFinite(v)) send("set", { path, value: v });
  };
  entry.onkeydown = (e) => {
    // Fine adjust: arrow keys step by a thousandth of the range, a hundredth with Shift.
    if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
    e.preventDefault();
    const step = (p.max - p.min) / (e.shiftKey ? 100 : 1000) * (e.key === "ArrowUp" ? 1 : -1);
    const v = Math.min(p.max, Math.max(p.min, (values[path] ?? p.default) + step));
    entry.value = fmt(v);
    send("set", { path, value: v });
  };
  return el("div", { class: "param" }, label, slider, entry, el("span", { class: "unit" }, p.unit));
}

function updateControl(path, v) {
  const [node] = path.split(/\.(?=bypass$)/);
  if (path.endsWith(".bypass")) {
    const b = document.querySelector(`button[data-bypass="${CSS.escape(node)}"]`);
    if (b) b.classList.toggle("on", v >= 0.5);
    const box = document.getElementById("node-" + node);
    if (box) box.classList.toggle("bypassed", v >= 0.5);
    return;
  }
  for (const e of document.querySelectorAll(`[data-path="${CSS.escape(path)}"]`)) {
    if (e.classList.contains("slider")) {
      if (dragging.has(path)) continue;
      const p = paramSpec(path);
      if (p && v !== null) e.value = toSlider(p, v);
    } else if (e.type === "checkbox") {
      e.checked = v >= 0.5;
    } else if (e.tagName === "SELECT") {
      e.value = String(v);
    } else if (document.activeElement !== e) {
      e.value = fmt(v);
    }
  }
}

function paramSpec(path) {
  for (const n of graph.nodes) {
    if (!path.startsWith(n.id + ".")) continue;
    const p = n.params.find((q) => `${n.id}.${q.name}` === path);
    if (p) return p;
  }
  return null;
}

// ---- graph drawing: columns by longest path from the inputs ----

function nodeOf(end) {
  if (!graph) return null;
  let best = null;
  for (const n of graph.nodes) {
    if ((end === n.id || end.startsWith(n.id + ".")) && (!best || n.id.length > best.length)) best = n.id;
  }
  if (best) return best;
  return end.split(".")[0] === "in" ? "in" : end.split(".")[0] === "out" ? "out" : null;
}

function drawGraph() {
  const svg = $("graph");
  svg.textContent = "";
  const ids = ["in", ...graph.nodes.map((n) => n.id), "out"];
  const edges = graph.links.map((l) => [nodeOf(l.from), nodeOf(l.to)]).filter(([a, b]) => a && b);
  const rank = Object.fromEntries(ids.map((i) => [i, 0]));
  for (let pass = 0; pass < ids.length; pass++) {
    for (const [a, b] of edges) rank[b] = Math.max(rank[b], rank[a] + 1);
  }
  rank.out = Math.max(...Object.values(rank));
  const cols = {};
  for (const i of ids) (cols[rank[i]] = cols[rank[i]] || []).push(i);
  const W = 92, H = 26, GX = 26, GY = 12;
  const pos = {};
  let rows = 1;
  for (const [r, list] of Object.entries(cols)) {
    rows = Math.max(rows, list.length);
    list.forEach((id, k) => { pos[id] = { x: 6 + Number(r) * (W + GX), y: 6 + k * (H + GY) }; });
  }
  const ns = "http://www.w3.org/2000/svg";
  svg.setAttribute("height", 12 + rows * (H + GY));
  svg.setAttribute("viewBox", `0 0 ${12 + (rank.out + 1) * (W + GX)} ${12 + rows * (H + GY)}`);
  for (const [a, b] of edges) {
    const l = document.createElementNS(ns, "line");
    l.setAttribute("class", "link");
    l.setAttribute("x1", pos[a].x + W); l.setAttribute("y1", pos[a].y + H / 2);
    l.setAttribute("x2", pos[b].x); l.setAttribute("y2", pos[b].y + H / 2);
    svg.append(l);
  }
  for (const id of ids) {
    const g = document.createElementNS(ns, "g");
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("class", "box");
    r.dataset.id = id;
    r.setAttribute("x", pos[id].x); r.setAttribute("y", pos[id].y);
    r.setAttribute("width", W); r.setAttribute("height", H); r.setAttribute("rx", 4);
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", pos[id].x + 6); t.setAttribute("y", pos[id].y + 17);
    t.textContent = id;
    g.append(r, t);
    g.style.cursor = "pointer";
    g.onclick = () => { const box = document.getElementById("node-" + id); if (box) box.scrollIntoView({ behavior: "smooth" }); };
    soloInDrawing(g, id, pos[id], W, H);
    svg.append(g);
  }
}

// Solo from the drawing: a click on a node with one output solos it, a click on one of
// the output dots of a node with several (a crossover's bands) solos that output; a
// second click, or a click on `out`, goes back to the whole output.
function soloInDrawing(g, id, at, W, H) {
  const ns = "http://www.w3.org/2000/svg";
  const toggle = (target) => (ev) => {
    ev.stopPropagation();
    send("solo", graphSoloIs(target) ? { on: false } : { target });
  };
  if (id === "out") { g.onclick = () => send("solo", { on: false }); return; }
  const node = graph.nodes.find((n) => n.id === id);
  if (!node || !node.outputs.length) return;
  if (node.outputs.length === 1) {
    g.onclick = toggle(`${id}.${node.outputs[0]}`);
    g.querySelector("rect").dataset.solo = `${id}.${node.outputs[0]}`;
    return;
  }
  node.outputs.forEach((port, k) => {
    const c = document.createElementNS(ns, "circle");
    c.setAttribute("class", "port");
    c.setAttribute("cx", at.x + W - 5);
    c.setAttribute("cy", at.y + H * (k + 1) / (node.outputs.length + 1));
    c.setAttribute("r", 3.5);
    c.dataset.solo = `${id}.${port}`;
    const title = document.createElementNS(ns, "title");
    title.textContent = `solo ${id}.${port}`;
    c.append(title);
    c.onclick = toggle(`${id}.${port}`);
    g.append(c);
  });
}

// ---- monitor ----

function buildMonitor() {
  const box = $("monitor");
  if (box.childElementCount) return;
  const names = { ab: "A/B (input)", match: "loudness match", mono: "mono", side: "side", dim: "dim", ref: "reference" };
  for (const [s, label] of Object.entries(names)) {
    const b = el("button", { "data-switch": s }, label);
    b.onclick = () => send("monitor", { switch: s });
    box.append(b, " ");
  }
  const codec = el("select", { "data-switch": "codec", title: "hear the output through a codec" });
  for (const c of ["off", "opus:128", "opus:96", "mp3:320", "mp3:128"]) codec.append(el("option", { value: c }, c === "off" ? "codec off" : c));
  codec.onchange = () => send("monitor", { switch: "codec", codec: codec.value });
  box.append(codec);
}
$("solo-off").onclick = () => send("solo", { on: false });

// ---- meters ----

function meterValue(msg, suffix) {
  if (!graph) return null;
  for (const [path, i] of Object.entries(meterIndex)) if (path.endsWith("." + suffix)) return msg.m[i];
  return null;
}

function onMeters(msg) {
  const m = meterValue(msg, "momentary_lufs");
  const s = meterValue(msg, "short_term_lufs");
  $("lufs-m").textContent = fmt1(m);
  $("lufs-s").textContent = fmt1(s);
  $("lufs-i").textContent = fmt1(meterValue(msg, "integrated_lufs"));
  $("lra").textContent = fmt1(meterValue(msg, "loudness_range_lu"));
  const tp = meterValue(msg, "true_peak_dbtp");
  $("tp").textContent = fmt1(tp);
  if (tp !== null && tp > tpHold) tpHold = tp;
  $("tp-hold").textContent = fmt1(Number.isFinite(tpHold) ? tpHold : null);
  $("tp-hold").classList.toggle("over", tpHold > -1);
  const corr = meterValue(msg, "correlation");
  $("corr-bar").style.left = corr === null ? "50%" : `${(corr + 1) * 50}%`;
  $("dsp").textContent = fmt1(msg.dsp);
  $("xruns").textContent = msg.xruns;
  for (const n of graph.nodes) {
    const span = document.querySelector(`[data-node-meters="${CSS.escape(n.id)}"]`);
    if (span) span.textContent = n.meters.map((x) => `${x.name} ${fmt1(msg.m[x.index])}`).join("  ");
  }
  drawSpectrum(msg);
  drawGonio(msg.scope || []);
  const now = performance.now();
  if (now - lastHistoryAt >= HISTORY_STEP_MS) {
    lastHistoryAt = now;
    history.push({ t: now, m, s });
    grHistory.push({ t: now, v: grMeters().map((g) => msg.m[g.index]) });
    const keep = 600 * 1000 / HISTORY_STEP_MS;
    if (history.length > keep) history.splice(0, history.length - keep);
    if (grHistory.length > keep) grHistory.splice(0, grHistory.length - keep);
    drawHistory(now);
    drawGr(now);
  }
}

function fmt1(v) { return v === null || v === undefined ? "--" : v.toFixed(1); }

function grMeters() {
  const out = [];
  for (const n of graph.nodes) for (const x of n.meters) if (x.name === "gain_reduction_db") out.push({ id: n.id, index: x.index });
  return out;
}

const COLOURS = ["#f80", "#4cf", "#9e4", "#e5e", "#fd4", "#f55"];

function drawHistory(now) {
  const c = $("history"), g = c.getContext("2d");
  const span = Number($("span").value) * 1000;
  const scale = Number($("scale").value);
  const target = Number($("target").value);
  const lo = target - 2 * scale, hi = target + scale; // EBU +9: -18..+9 LU, +18: -36..+18
  const y = (v) => c.height * (hi - v) / (hi - lo);
  g.clearRect(0, 0, c.width, c.height);
  g.fillStyle = "#8a8f99"; g.font = "10px sans-serif";
  for (let lu = -2 * scale; lu <= scale; lu += scale / 3) {
    g.fillRect(0, y(target + lu), 4, 1);
    g.fillText((lu > 0 ? "+" : "") + lu.toFixed(0), 6, y(target + lu) + 3);
  }
  g.strokeStyle = "#2a5"; g.setLineDash([4, 3]);
  g.beginPath(); g.moveTo(0, y(target)); g.lineTo(c.width, y(target)); g.stroke();
  g.setLineDash([]);
  for (const [key, colour] of [["m", "#4cf8"], ["s", "#fd4"]]) {
    g.strokeStyle = colour; g.beginPath();
    let started = false;
    for (const h of history) {
      if (now - h.t > span || h[key] === null) { started = false; continue; }
      const x = c.width * (1 - (now - h.t) / span);
      const v = Math.max(lo, Math.min(hi, h[key]));
      if (started) g.lineTo(x, y(v)); else { g.moveTo(x, y(v)); started = true; }
    }
    g.stroke();
  }
}

function drawGr(now) {
  const c = $("gr"), g = c.getContext("2d");
  const span = Number($("span").value) * 1000;
  const meters = grMeters();
  const legend = $("gr-legend");
  if (legend.childElementCount !== meters.length) {
    legend.textContent = "";
    meters.forEach((m, i) => legend.append(el("span", { style: `color:${COLOURS[i % COLOURS.length]}` }, m.id)));
  }
  const maxDb = 12;
  g.clearRect(0, 0, c.width, c.height);
  meters.forEach((_, i) => {
    g.strokeStyle = COLOURS[i % COLOURS.length]; g.beginPath();
    let started = false;
    for (const h of grHistory) {
      const v = h.v[i];
      if (now - h.t > span || v === null || v === undefined) { started = false; continue; }
      const x = c.width * (1 - (now - h.t) / span);
      const yy = c.height * Math.min(v, maxDb) / maxDb;
      if (started) g.lineTo(x, yy); else { g.moveTo(x, yy); started = true; }
    }
    g.stroke();
  });
}

// Goniometer: mid (L+R) up, side (L-R) across, full scale at the edge; old points fade.
function drawGonio(pairs) {
  const c = $("gonio"), g = c.getContext("2d");
  const r = c.width / 2;
  g.fillStyle = "rgba(13, 14, 17, 0.35)";
  g.fillRect(0, 0, c.width, c.height);
  g.strokeStyle = "#333";
  g.beginPath(); g.moveTo(r, 0); g.lineTo(r, c.height); g.moveTo(0, r); g.lineTo(c.width, r); g.stroke();
  g.fillStyle = "#9e4";
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const [l, rt] = [pairs[i], pairs[i + 1]];
    const x = r + r * (l - rt) * Math.SQRT1_2;
    const y = r - r * (l + rt) * Math.SQRT1_2;
    g.fillRect(x, y, 1.5, 1.5);
  }
}

// The 1/3-octave band meters of the graph's first `spectrum` node, else the console's
// own analysis of the main output, with a peak hold that falls back after PEAK_HOLD_MS
// at PEAK_FALL_DB_PER_S.
const PEAK_HOLD_MS = 2000, PEAK_FALL_DB_PER_S = 12;
let peaks = [];
function spectrumBands() {
  const out = [];
  for (const [path, i] of Object.entries(meterIndex)) {
    const m = path.match(/^(.*)\.band_([0-9_k]+)hz_db$/);
    if (m && (!out.length || out[0].node === m[1])) out.push({ node: m[1], label: m[2].replace("_", "."), index: i });
  }
  return out;
}
function spectrumSource(msg) {
  const own = spectrumBands();
  if (own.length) return { name: `node ${own[0].node}`, bands: own.map((b) => ({ label: b.label, db: msg.m[b.index] })) };
  const labels = graph.spectrum_bands || [], levels = msg.spectrum || [];
  if (!labels.length) return null;
  return { name: "main output", bands: labels.map((l, k) => ({ label: l.replace("_", "."), db: levels[k] ?? null })) };
}
function drawSpectrum(msg) {
  const src = spectrumSource(msg);
  $("spectrum-box").hidden = !src;
  if (!src) return;
  const bands = src.bands;
  $("spectrum-source").textContent = src.name;
  const c = $("spectrum"), g = c.getContext("2d");
  c.dataset.levels = JSON.stringify(bands.map((b) => b.db));
  c.dataset.labels = JSON.stringify(bands.map((b) => b.label));
  const lo = -90, hi = 0, now = performance.now();
  const y = (db) => c.height * (hi - Math.max(lo, Math.min(hi, db))) / (hi - lo);
  const w = c.width / bands.length;
  if (peaks.length !== bands.length) peaks = bands.map(() => ({ db: lo, at: now }));
  g.clearRect(0, 0, c.width, c.height);
  g.font = "9px sans-serif";
  bands.forEach((b, k) => {
    const db = b.db === null ? lo : b.db;
    const p = peaks[k];
    if (db >= p.db) { p.db = db; p.at = now; }
    else if (now - p.at > PEAK_HOLD_MS) p.db = Math.max(db, p.db - PEAK_FALL_DB_PER_S / 30);
    g.fillStyle = "#4cf";
    g.fillRect(k * w + 1, y(db), w - 2, c.height - y(db));
    g.fillStyle = "#fd4";
    g.fillRect(k * w + 1, y(p.db), w - 2, 2);
    if (k % 3 === 0) { g.fillStyle = "#8a8f99"; g.fillText(b.label, k * w + 1, c.height - 2); }
  });
}

$("tp-hold").onclick = () => { tpHold = -Infinity; };
$("save").onclick = async () => {
  const path = $("save-path").value.trim();
  const r = await send("save", path ? { path } : {});
  if (r.ok) showStatus(r.text, false);
};

connect();
