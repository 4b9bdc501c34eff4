// Cadenza session page: fetches phrases from the session server, plays them with WebAudio,
// draws them as a scrolling piano roll, and sends ratings and A/B answers back.
"use strict";

const $ = (id) => document.getElementById(id);

// What the page knows; `window.cadenza` exposes it to tests and the curious.
const ui = {
  state: null,
  phrase: null,
  shown: "played", // which phrase the roll shows: played, a or b
  abChoice: null,
  busy: false,
  playing: false,
  scheduledNotes: 0,
  lastLatencyMs: null,
  error: null,
};
window.cadenza = ui;

// --------------------------------------------------------------------------------------
// The API
// --------------------------------------------------------------------------------------

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.error || `${method} ${path}: HTTP ${response.status}`);
  }
  return data;
}

function showStatus(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.style.color = isError ? "var(--bad)" : "";
  ui.error = isError ? text : null;
}

// --------------------------------------------------------------------------------------
// Audio: a lead voice, a pad and a bass, synthesised in the browser
// --------------------------------------------------------------------------------------

let audio = null;

function audioGraph() {
  if (audio) return audio;
  const Ctx = window.AudioContext || window.webkitAudioContext;
  const ctx = new Ctx();
  const master = ctx.createGain();
  master.gain.value = 0.8;
  const compressor = ctx.createDynamicsCompressor();
  master.connect(compressor).connect(ctx.destination);
  // A soft echo on the lead only: the chords stay dry and behind it.
  const leadBus = ctx.createGain();
  const delay = ctx.createDelay(1.0);
  const feedback = ctx.createGain();
  const wet = ctx.createGain();
  feedback.gain.value = 0.28;
  wet.gain.value = 0.22;
  leadBus.connect(master);
  leadBus.connect(delay);
  delay.connect(feedback).connect(delay);
  delay.connect(wet).connect(master);
  const backingBus = ctx.createGain();
  backingBus.connect(master);
  audio = { ctx, master, leadBus, backingBus, delay, nodes: [] };
  return audio;
}

const hz = (pitch) => 440 * Math.pow(2, (pitch - 69) / 12);

function track(node) {
  audio.nodes.push(node);
  return node;
}

function leadNote(pitch, start, seconds) {
  const { ctx, leadBus } = audio;
  const f = hz(pitch);
  const env = ctx.createGain();
  const filter = ctx.createBiquadFilter();
  filter.type = "lowpass";
  filter.Q.value = 2;
  filter.frequency.setValueAtTime(Math.min(5000, f * 7), start);
  filter.frequency.exponentialRampToValueAtTime(Math.min(3000, f * 3), start + 0.25);
  const end = start + Math.max(0.06, seconds);
  env.gain.setValueAtTime(0, start);
  env.gain.linearRampToValueAtTime(0.22, start + 0.012);
  env.gain.exponentialRampToValueAtTime(0.12, start + 0.2);
  env.gain.setValueAtTime(0.12, Math.max(start + 0.2, end - 0.05));
  env.gain.linearRampToValueAtTime(0, end + 0.06);
  const vibrato = track(ctx.createOscillator());
  const depth = ctx.createGain();
  vibrato.frequency.value = 5.2;
  depth.gain.setValueAtTime(0, start);
  depth.gain.linearRampToValueAtTime(6, start + 0.35); // cents, after the attack
  vibrato.connect(depth);
  for (const [type, detune, level] of [["sawtooth", -4, 0.5], ["triangle", 5, 0.8]]) {
    const osc = track(ctx.createOscillator());
    const g = ctx.createGain();
    osc.type = type;
    osc.frequency.value = f;
    osc.detune.value = detune;
    depth.connect(osc.detune);
    g.gain.value = level;
    osc.connect(g).connect(filter);
    osc.start(start);
    osc.stop(end + 0.1);
  }
  vibrato.start(start);
  vibrato.stop(end + 0.1);
  filter.connect(env).connect(leadBus);
}

function padChord(pitches, start, seconds) {
  const { ctx, backingBus } = audio;
  const env = ctx.createGain();
  const filter = ctx.createBiquadFilter();
  filter.type = "lowpass";
  filter.frequency.value = 1100;
  const end = start + seconds;
  env.gain.setValueAtTime(0, start);
  env.gain.linearRampToValueAtTime(0.05, start + 0.25);
  env.gain.setValueAtTime(0.05, Math.max(start + 0.25, end - 0.2));
  env.gain.linearRampToValueAtTime(0, end + 0.15);
  filter.connect(env).connect(backingBus);
  for (const p of pitches) {
    for (const detune of [-6, 6]) {
      const osc = track(ctx.createOscillator());
      osc.type = "triangle";
      osc.frequency.value = hz(p);
      osc.detune.value = detune;
      osc.connect(filter);
      osc.start(start);
      osc.stop(end + 0.2);
    }
  }
}

function bassNote(pitch, start, seconds) {
  const { ctx, backingBus } = audio;
  const env = ctx.createGain();
  const end = start + seconds;
  env.gain.setValueAtTime(0, start);
  env.gain.linearRampToValueAtTime(0.28, start + 0.01);
  env.gain.exponentialRampToValueAtTime(0.08, start + Math.min(seconds, 0.4));
  env.gain.linearRampToValueAtTime(0, end);
  env.connect(backingBus);
  for (const [type, mult, level] of [["triangle", 1, 0.8], ["sine", 0.5, 0.5]]) {
    const osc = track(ctx.createOscillator());
    const g = ctx.createGain();
    osc.type = type;
    osc.frequency.value = hz(pitch) * mult;
    g.gain.value = level;
    osc.connect(g).connect(env);
    osc.start(start);
    osc.stop(end + 0.05);
  }
}

function bassPitch(chord) {
  let p = Math.min(...chord.pitches);
  while (p >= 48) p -= 12;
  while (p < 36) p += 12;
  return p;
}

let playStart = 0;
let playLength = 0;
let animation = null;

function stop() {
  if (audio) {
    for (const node of audio.nodes) {
      try { node.stop(); } catch (_) { /* not started or already stopped */ }
    }
    audio.nodes = [];
  }
  ui.playing = false;
  if (animation) cancelAnimationFrame(animation);
  animation = null;
  $("play").classList.remove("playing");
  $("play").innerHTML = "▶ Play <kbd>Space</kbd>";
  drawRoll(null);
}

function notesShown() {
  const p = ui.phrase;
  if (!p) return [];
  if (ui.shown === "a" && p.pair) return p.pair.a.notes;
  if (ui.shown === "b" && p.pair) return p.pair.b.notes;
  return p.notes;
}

function play(which) {
  if (!ui.phrase) return;
  stop();
  ui.shown = which || "played";
  const p = ui.phrase;
  const { ctx } = audioGraph();
  if (ctx.state === "suspended") ctx.resume();
  const step = 60 / p.tempo / p.steps_per_quarter;
  const t0 = ctx.currentTime + 0.08;
  audio.delay.delayTime.value = Math.min(0.9, step * 3);
  let count = 0;
  for (const chord of p.chords) {
    const start = t0 + chord.start * step;
    const seconds = chord.steps * step;
    padChord(chord.pitches, start, seconds);
    const beat = p.steps_per_quarter;
    const bass = bassPitch(chord);
    for (let s = 0; s < chord.steps; s += beat) {
      // Root on the beat, the fifth on every other beat: a light two-feel.
      const pitch = (s / beat) % 2 === 1 ? bass + 7 : bass;
      bassNote(pitch, start + s * step, Math.min(beat, chord.steps - s) * step * 0.9);
    }
    count += chord.pitches.length + 1;
  }
  for (const n of notesShown()) {
    leadNote(n.pitch, t0 + n.start * step, n.duration * step);
    count += 1;
  }
  ui.scheduledNotes = count;
  ui.playing = true;
  playStart = t0;
  playLength = p.length * step;
  $("play").classList.add("playing");
  $("play").innerHTML = "■ Stop <kbd>Space</kbd>";
  const frame = () => {
    const t = audio.ctx.currentTime - playStart;
    if (t >= playLength + 0.3) {
      if ($("loop").checked && ui.shown === "played") return play("played");
      return stop();
    }
    drawRoll(Math.max(0, t) / step);
    animation = requestAnimationFrame(frame);
  };
  animation = requestAnimationFrame(frame);
}

// --------------------------------------------------------------------------------------
// The piano roll
// --------------------------------------------------------------------------------------

const PX_PER_STEP = 16;
const HEADER = 24;

function drawRoll(playhead) {
  const canvas = $("roll");
  const p = ui.phrase;
  if (!p) return;
  const notes = notesShown();
  let lo = p.low, hi = p.high;
  for (const n of notes) { lo = Math.min(lo, n.pitch); hi = Math.max(hi, n.pitch); }
  const rows = hi - lo + 1;
  const rowH = Math.max(5, Math.min(12, Math.floor(276 / rows)));
  const width = Math.max($("roll-scroll").clientWidth, p.length * PX_PER_STEP + 40);
  const height = HEADER + rows * rowH;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const g = canvas.getContext("2d");
  g.fillStyle = "#1a1d23";
  g.fillRect(0, 0, width, height);
  const x0 = 34;
  const y = (pitch) => HEADER + (hi - pitch) * rowH;
  // Rows: black keys darker, C labelled.
  for (let pitch = lo; pitch <= hi; pitch++) {
    const black = [1, 3, 6, 8, 10].includes(pitch % 12);
    g.fillStyle = black ? "#181a1f" : "#1f232a";
    g.fillRect(x0, y(pitch), width - x0, rowH);
    if (pitch % 12 === 0) {
      g.fillStyle = "#9aa0a6";
      g.font = "10px system-ui";
      g.fillText(`C${pitch / 12 - 1}`, 4, y(pitch) + rowH - 1);
    }
  }
  // Chords: shaded spans with their symbols above.
  p.chords.forEach((c, i) => {
    const x = x0 + c.start * PX_PER_STEP;
    const w = c.steps * PX_PER_STEP;
    g.fillStyle = i % 2 ? "rgba(59,66,82,0.35)" : "rgba(59,66,82,0.18)";
    g.fillRect(x, HEADER, w, height - HEADER);
    g.fillStyle = "#f0a04b";
    g.font = "bold 13px system-ui";
    g.fillText(c.symbol, x + 4, 16);
    g.fillStyle = "rgba(240,160,75,0.25)";
    for (const pitch of c.pitches) {
      for (let q = pitch; q <= hi; q += 12) {
        if (q >= lo) g.fillRect(x, y(q) + rowH / 2 - 1, w, 2);
      }
    }
  });
  // Bar and beat lines.
  for (let s = 0; s <= p.length; s += p.steps_per_quarter) {
    g.strokeStyle = s % p.steps_per_bar === 0 ? "#5b6270" : "#2c3038";
    g.beginPath();
    g.moveTo(x0 + s * PX_PER_STEP + 0.5, HEADER);
    g.lineTo(x0 + s * PX_PER_STEP + 0.5, height);
    g.stroke();
  }
  // Notes.
  g.fillStyle = ui.shown === "played" ? "#6cc5b0" : ui.shown === "a" ? "#c3a6ff" : "#ffb86c";
  for (const n of notes) {
    const x = x0 + n.start * PX_PER_STEP + 1;
    g.fillRect(x, y(n.pitch) + 1, n.duration * PX_PER_STEP - 2, rowH - 2);
  }
  if (playhead !== null) {
    const x = x0 + playhead * PX_PER_STEP;
    g.strokeStyle = "#e8e6e3";
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(x, 0);
    g.lineTo(x, height);
    g.stroke();
    g.lineWidth = 1;
    // Keep the playhead in view, a third of the way in.
    const scroller = $("roll-scroll");
    const target = x - scroller.clientWidth / 3;
    if (Math.abs(scroller.scrollLeft - target) > 4) scroller.scrollLeft = Math.max(0, target);
  }
}

// --------------------------------------------------------------------------------------
// The listener model chart (inline SVG)
// --------------------------------------------------------------------------------------

function drawModel() {
  const s = ui.state;
  if (!s) return;
  const features = s.model.features;
  const labelW = 200, barW = 520, rowH = 20, pad = 8;
  const extent = Math.max(1, ...features.map((f) => Math.abs(f.weight) + f.sd));
  const cx = labelW + barW / 2;
  const scale = (barW / 2 - pad) / extent;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const height = features.length * rowH + 24;
  svg.setAttribute("viewBox", `0 0 ${labelW + barW + 60} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "listener model weights");
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  features.forEach((f, i) => {
    const yMid = 10 + i * rowH + rowH / 2;
    el("text", { x: labelW - 8, y: yMid + 4, "text-anchor": "end" }, f.name.replaceAll("_", " "));
    const x1 = cx + Math.min(0, f.weight) * scale;
    const w = Math.abs(f.weight) * scale;
    el("rect", { x: x1, y: yMid - 6, width: Math.max(1, w), height: 12, rx: 2,
      fill: f.weight >= 0 ? "#7bc86c" : "#e06c75", "data-feature": f.name });
    const lo = cx + (f.weight - f.sd) * scale, hi = cx + (f.weight + f.sd) * scale;
    el("line", { x1: lo, x2: hi, y1: yMid, y2: yMid, stroke: "#e8e6e3", "stroke-width": 1.5 });
    el("line", { x1: lo, x2: lo, y1: yMid - 4, y2: yMid + 4, stroke: "#e8e6e3" });
    el("line", { x1: hi, x2: hi, y1: yMid - 4, y2: yMid + 4, stroke: "#e8e6e3" });
    el("text", { x: labelW + barW + 4, y: yMid + 4, fill: "#9aa0a6" },
      `${f.weight >= 0 ? "+" : ""}${f.weight.toFixed(2)}`);
  });
  el("line", { x1: cx, x2: cx, y1: 4, y2: height - 16, stroke: "#5b6270" });
  el("text", { x: cx, y: height - 2, "text-anchor": "middle", fill: "#9aa0a6" }, "0");
  el("text", { x: labelW + pad, y: height - 2, fill: "#9aa0a6" }, "dislikes");
  el("text", { x: labelW + barW - pad, y: height - 2, "text-anchor": "end", fill: "#9aa0a6" }, "likes");
  $("model-chart").replaceChildren(svg);
  $("model-meta").textContent = `— ${s.observations} observations`;
}

// The learnt taste in musical terms: preference ± sd as a bar, the steering as a marker.
const TASTE_WORDS = {
  register: ["lower", "higher"], density: ["fewer notes", "more notes"],
  space: ["less space", "more space"], chromatic: ["in key", "chromatic"],
  falling: ["rising", "falling"], skips: ["stepwise", "skips"], arc: ["peak early", "peak late"],
};

function drawTaste() {
  const s = ui.state;
  if (!s || !s.taste) return;
  const rows = s.taste;
  const labelW = 110, barW = 520, rowH = 22, pad = 8, rightW = 110;
  const extent = Math.max(0.5, ...rows.map((t) => Math.abs(t.preference) + t.sd));
  const cx = labelW + barW / 2;
  const scale = (barW / 2 - pad) / extent;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const height = rows.length * rowH + 8;
  svg.setAttribute("viewBox", `0 0 ${labelW + barW + rightW} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "learnt taste in musical terms");
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  rows.forEach((t, i) => {
    const yMid = 4 + i * rowH + rowH / 2;
    const [left, right] = TASTE_WORDS[t.name] || ["less", "more"];
    el("text", { x: labelW - 8, y: yMid + 4, "text-anchor": "end" }, left);
    el("text", { x: labelW + barW + 8, y: yMid + 4 }, right);
    const x1 = cx + Math.min(0, t.preference) * scale;
    el("rect", { x: x1, y: yMid - 6, width: Math.max(1, Math.abs(t.preference) * scale), height: 12,
      rx: 2, fill: t.preference >= 0 ? "#7bc86c" : "#e06c75", "data-taste": t.name,
      "data-preference": t.preference.toFixed(3), "data-steer": t.steer.toFixed(3) });
    const lo = cx + (t.preference - t.sd) * scale, hi = cx + (t.preference + t.sd) * scale;
    el("line", { x1: lo, x2: hi, y1: yMid, y2: yMid, stroke: "#e8e6e3", "stroke-width": 1.5 });
    // The steering, on its own scale: ±1.5 spans the chart.
    const sx = cx + (t.steer / 1.5) * (barW / 2 - pad);
    el("text", { x: sx, y: yMid + 10, "text-anchor": "middle", fill: "#f0a04b" }, "▲");
  });
  el("line", { x1: cx, x2: cx, y1: 2, y2: height - 2, stroke: "#5b6270" });
  $("taste-chart").replaceChildren(svg);
}

function renderControls() {
  const c = ui.state && ui.state.controls;
  if (!c) return;
  for (const field of ["low", "high", "density", "space", "chromatic"]) {
    const input = $(`ctl-${field}`);
    if (document.activeElement !== input) input.value = c[field];
  }
}

function applyControls() {
  const body = {
    low: Number($("ctl-low").value), high: Number($("ctl-high").value),
    density: Number($("ctl-density").value), space: Number($("ctl-space").value),
    chromatic: Number($("ctl-chromatic").value),
  };
  showStatus("playing what you asked for…");
  send("/api/controls", body);
}

function resetControls() {
  showStatus("asking for nothing…");
  send("/api/controls", { low: null, high: null, density: 0, space: 0, chromatic: 0 });
}

// --------------------------------------------------------------------------------------
// State, phrase, feedback
// --------------------------------------------------------------------------------------

function renderState() {
  const s = ui.state;
  if (!s) return;
  drawModel();
  drawTaste();
  renderControls();
  const history = $("history");
  history.replaceChildren(...s.ratings.map((r) => {
    const bar = document.createElement("div");
    bar.className = "r";
    bar.style.height = `${r.rating * 8}px`;
    bar.title = `round ${r.round + 1}: ${r.rating}`;
    return bar;
  }));
  const list = $("progressions");
  if (!list.children.length) {
    for (const name of s.progressions) {
      const o = document.createElement("option");
      o.value = name;
      list.appendChild(o);
    }
  }
  for (const field of ["key", "progression", "tempo"]) {
    if (document.activeElement !== $(field)) $(field).value = s.settings[field];
  }
  $("key").disabled = s.task_locked;
  $("progression").disabled = s.task_locked;
  if (s.task_locked) $("settings-note").textContent = "the agent was trained for this key and progression: only the tempo can change";
}

function renderPhrase() {
  const p = ui.phrase;
  if (!p) return;
  ui.abChoice = null;
  ui.shown = "played";
  for (const id of ["prefer-a", "prefer-b"]) $(id).classList.remove("selected");
  const hasPair = !!p.pair;
  for (const id of ["listen-a", "listen-b", "prefer-a", "prefer-b", "send-ab"]) $(id).disabled = !hasPair;
  $("ab-hint").textContent = hasPair
    ? "two other phrases the agent could play: which one do you like better?"
    : "no A/B question this round";
  $("phrase-info").textContent =
    `phrase ${p.round + 1} · ${p.key} · ${p.tempo} qpm · ${p.chords.map((c) => c.symbol).join(" | ")}`;
  const m = p.measures;
  if (m) {
    $("measures").textContent = `this phrase: ${m.lowest}–${m.highest} (mean ${m.mean_pitch.toFixed(1)}) · ` +
      `${m.notes_per_beat.toFixed(2)} notes a beat · ${(100 * m.rest_share).toFixed(0)}% rests · ` +
      `${(100 * m.chromatic_share).toFixed(0)}% outside the key`;
    $("measures").dataset.notesPerBeat = m.notes_per_beat;
    $("measures").dataset.restShare = m.rest_share;
    $("measures").dataset.highest = m.highest;
    $("measures").dataset.lowest = m.lowest;
  }
  showStatus(`round ${p.round + 1} · ${ui.state ? ui.state.ratings.length : 0} ratings` +
    (ui.lastLatencyMs !== null ? ` · next phrase in ${ui.lastLatencyMs.toFixed(0)} ms` : ""));
  drawRoll(null);
}

async function send(path, body) {
  if (ui.busy || !ui.phrase) return;
  ui.busy = true;
  setButtons(false);
  const t = performance.now();
  try {
    const data = await api("POST", path, body);
    ui.lastLatencyMs = performance.now() - t;
    stop();
    ui.state = data.state;
    ui.phrase = data.phrase;
    renderState();
    renderPhrase();
    if ($("autoplay").checked && path !== "/api/settings") play("played");
    document.body.dataset.round = String(ui.phrase.round);
  } catch (e) {
    showStatus(e.message, true);
  } finally {
    ui.busy = false;
    setButtons(true);
  }
}

function setButtons(enabled) {
  for (const b of document.querySelectorAll("#ratings button, #apply, #ctl-apply, #ctl-reset")) b.disabled = !enabled;
  if (enabled) renderPhraseButtons();
}

function renderPhraseButtons() {
  const hasPair = !!(ui.phrase && ui.phrase.pair);
  for (const id of ["listen-a", "listen-b", "prefer-a", "prefer-b", "send-ab"]) $(id).disabled = !hasPair;
}

function rate(rating) {
  const body = { round: ui.phrase.round, rating };
  if (ui.abChoice) body.preference = ui.abChoice;
  send("/api/rate", body);
}

function choose(choice) {
  if (!ui.phrase || !ui.phrase.pair) return;
  ui.abChoice = ui.abChoice === choice ? null : choice;
  $("prefer-a").classList.toggle("selected", ui.abChoice === "a");
  $("prefer-b").classList.toggle("selected", ui.abChoice === "b");
}

function sendChoice() {
  if (!ui.abChoice) {
    showStatus("pick A or B first", true);
    return;
  }
  send("/api/prefer", { round: ui.phrase.round, choice: ui.abChoice });
}

function applySettings() {
  const s = ui.state.settings;
  const body = {};
  const key = $("key").value.trim(), progression = $("progression").value.trim();
  const tempo = Number($("tempo").value);
  if (key && key !== s.key) body.key = key;
  if (progression && progression !== s.progression) body.progression = progression;
  if (tempo && tempo !== s.tempo) body.tempo = tempo;
  if (Object.keys(body).length === 0) return;
  showStatus("changing the backing…");
  send("/api/settings", body);
}

// --------------------------------------------------------------------------------------
// Duet mode: the listener plays a call on the keyboard (or a MIDI keyboard), the agent answers
// --------------------------------------------------------------------------------------

// Two rows of the keyboard, low to high, mapped to the key's scale from the bottom of the range.
const DUET_ROWS = [
  ["a", "s", "d", "f", "g", "h", "j", "k", "l", ";"],
  ["q", "w", "e", "r", "t", "y", "u", "i", "o", "p"],
];
const NOTE_NAMES = ["C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B"];

ui.duet = {
  on: false,
  frame: null,
  phase: "off", // off, idle, count-in, call, waiting, answer, done
  keymap: {},
  held: null, // the note sounding: {id (the key, or midi:PITCH), pitch, t}
  notes: [], // the call so far: {pitch, t0, t1} in audio seconds
  callStart: 0,
  callStartPerf: 0,
  answerStart: 0,
  exchange: null, // the server's answer to the last call
  late: false,
  sent: null, // the notes sent with the last call
  timer: null,
  midi: null, // the browser's MIDIAccess, when it gave one
  midiAsked: false,
  midiInput: null, // the MIDI input played on
  rejected: 0, // MIDI notes outside the range, not played into a call
};

function duetKeys() {
  const d = ui.duet;
  d.keymap = {};
  const box = $("duet-keys");
  box.replaceChildren();
  let i = 0;
  for (const row of DUET_ROWS) {
    const div = document.createElement("div");
    div.className = "row";
    for (const key of row) {
      const pitch = d.frame.scale[i++];
      if (pitch === undefined) break;
      d.keymap[key] = pitch;
      const k = document.createElement("span");
      k.className = "k";
      k.id = `duet-key-${pitch}`;
      k.innerHTML = `${key.toUpperCase()}<small>${NOTE_NAMES[pitch % 12]}${Math.floor(pitch / 12) - 1}</small>`;
      div.appendChild(k);
    }
    box.insertBefore(div, box.firstChild); // the higher row above
  }
}

function duetPhase(phase, text) {
  ui.duet.phase = phase;
  document.body.dataset.duetPhase = phase;
  $("duet-phase").textContent = text || phase;
}

async function toggleDuet() {
  const d = ui.duet;
  d.on = !d.on;
  $("duet").hidden = !d.on;
  $("duet-toggle").classList.toggle("selected", d.on);
  if (!d.on) {
    duetStop();
    duetPhase("off");
    return;
  }
  stop();
  duetPhase("preparing", "preparing the answerer…");
  try {
    const data = await api("GET", "/api/duet");
    d.frame = data.duet;
    ui.state = data.state;
    renderState();
    const f = d.frame;
    $("duet-bars").textContent = f.call_bars;
    $("duet-info").textContent = `${f.key} · ${f.tempo} qpm · ${f.chords.map((c) => c.symbol).join(" | ")}`;
    duetKeys();
    duetPhase("idle", "ready: press start");
    if (!d.midiAsked) duetMidi();
  } catch (e) {
    showStatus(e.message, true);
    duetPhase("idle", "not ready");
  }
}

function duetStop() {
  const d = ui.duet;
  if (d.timer) clearTimeout(d.timer);
  d.timer = null;
  d.held = null;
  stop();
}

function click(start, accent) {
  const { ctx, master } = audio;
  const osc = track(ctx.createOscillator());
  const env = ctx.createGain();
  osc.frequency.value = accent ? 1760 : 1320;
  env.gain.setValueAtTime(0.3, start);
  env.gain.exponentialRampToValueAtTime(0.001, start + 0.05);
  osc.connect(env).connect(master);
  osc.start(start);
  osc.stop(start + 0.06);
}

function backing(chords, from, step, offset) {
  // Chords of the frame starting at `from` steps, played from `offset` seconds.
  for (const chord of chords) {
    const start = offset + (chord.start - from) * step;
    padChord(chord.pitches, start, chord.steps * step);
    const beat = ui.duet.frame.steps_per_quarter;
    const bass = bassPitch(chord);
    for (let s = 0; s < chord.steps; s += beat) {
      const pitch = (s / beat) % 2 === 1 ? bass + 7 : bass;
      bassNote(pitch, start + s * step, Math.min(beat, chord.steps - s) * step * 0.9);
    }
  }
}

function duetStart() {
  const d = ui.duet;
  if (!d.frame || !["idle", "done", "answer"].includes(d.phase)) return;
  duetStop();
  const f = d.frame;
  const { ctx } = audioGraph();
  if (ctx.state === "suspended") ctx.resume();
  const step = 60 / f.tempo / f.steps_per_quarter;
  const bar = f.steps_per_bar * step;
  const t0 = ctx.currentTime + 0.1;
  const beats = f.steps_per_bar / f.steps_per_quarter;
  for (let b = 0; b < beats; b++) click(t0 + b * f.steps_per_quarter * step, b === 0);
  d.callStart = t0 + bar;
  // The call's first downbeat on the performance clock (the one MIDI messages are stamped on).
  d.callStartPerf = performance.now() + (d.callStart - ctx.currentTime) * 1000;
  const callEnd = d.callStart + f.call_steps * step;
  // The call's bars, then a bar holding the call's last chord while the answer comes back,
  // then the answer's bars.
  const callChords = f.chords.filter((c) => c.start < f.call_steps);
  backing(callChords, 0, step, d.callStart);
  const last = callChords[callChords.length - 1];
  backing([{ ...last, start: 0, steps: f.steps_per_bar }], 0, step, callEnd);
  d.answerStart = callEnd + bar;
  backing(f.chords.filter((c) => c.start >= f.call_steps), f.call_steps, step, d.answerStart);
  d.notes = [];
  d.exchange = null;
  d.late = false;
  duetPhase("count-in");
  const at = (t, fn) => setTimeout(fn, Math.max(0, (t - audio.ctx.currentTime) * 1000));
  d.timer = at(d.callStart, () => {
    duetPhase("call", "play your call");
    d.timer = at(callEnd, () => duetSendCall(step));
  });
}

// The call's notes in steps: starts rounded to the nearest step, one note at a time, each
// ending within the call's bars.
function quantiseCall(step) {
  const d = ui.duet;
  const steps = d.frame.call_steps;
  const notes = [];
  for (const n of d.notes) {
    const start = Math.max(0, Math.round((n.t0 - d.callStart) / step));
    if (start >= steps) continue;
    let end = Math.round((n.t1 - d.callStart) / step);
    end = Math.min(steps, Math.max(start + 1, end));
    const prev = notes[notes.length - 1];
    if (prev && start <= prev.start) continue;
    if (prev && prev.start + prev.duration > start) prev.duration = start - prev.start;
    notes.push({ pitch: n.pitch, start, duration: end - start });
  }
  return notes;
}

async function duetSendCall(step) {
  const d = ui.duet;
  if (d.held) duetNoteOff(d.held.id, audio.ctx.currentTime);
  const notes = quantiseCall(step);
  d.sent = notes;
  if (!notes.length) {
    duetStop();
    duetPhase("idle", "no call heard: press start and play a few notes");
    return;
  }
  duetPhase("waiting", "listening…");
  try {
    const data = await api("POST", "/api/duet/call", { notes });
    d.exchange = data.exchange;
    ui.state = data.state;
    renderState();
    const { ctx } = audio;
    // The answer starts on the next downbeat: the one planned, or a bar later if it is late.
    let start = d.answerStart;
    const bar = d.frame.steps_per_bar * step;
    while (start < ctx.currentTime + 0.02) {
      start += bar;
      d.late = true;
    }
    for (const n of d.exchange.answer) leadNote(n.pitch, start + n.start * step, n.duration * step);
    duetPhase("answer", `the answer (ready in ${d.exchange.answer_ms.toFixed(1)} ms)` + (d.late ? ", a bar late" : ""));
    d.timer = setTimeout(() => {
      if (d.phase === "answer") duetPhase("done", "rate the answer, or start another call");
    }, Math.max(0, (start + d.frame.call_steps * step - ctx.currentTime) * 1000));
  } catch (e) {
    duetStop();
    showStatus(e.message, true);
    duetPhase("idle", "the call was refused");
  }
}

// A note starts (`id` names what holds it: a computer key, or `midi:PITCH`), at audio time
// `t`: it ends the note sounding (one note at a time) and is heard through the lead voice.
function duetNoteOn(id, pitch, t) {
  const d = ui.duet;
  if (d.held) duetNoteOff(d.held.id, t);
  d.held = { id, pitch, t };
  leadNote(pitch, t, 0.25);
  const el = $(`duet-key-${pitch}`);
  if (el) el.classList.add("down");
}

// The note held by `id` ends at audio time `t`; during the call it joins the call.
function duetNoteOff(id, t) {
  const d = ui.duet;
  if (!d.held || d.held.id !== id) return;
  const { pitch, t: t0 } = d.held;
  d.held = null;
  const el = $(`duet-key-${pitch}`);
  if (el) el.classList.remove("down");
  if (d.phase === "call") d.notes.push({ pitch, t0, t1: Math.max(t0, t) });
}

function duetKeyDown(key) {
  const d = ui.duet;
  const pitch = d.keymap[key];
  if (pitch === undefined) return false;
  const { ctx } = audioGraph();
  if (ctx.state === "suspended") ctx.resume();
  duetNoteOn(key, pitch, ctx.currentTime);
  return true;
}

function duetKeyUp(key) {
  if (audio.ctx) duetNoteOff(key, audio.ctx.currentTime);
}

// Web MIDI: where the browser offers it, the inputs are listed and the one chosen plays
// into the call like the computer keys; without it (or without permission) the page says
// so in one line and the computer keys play on.
async function duetMidi() {
  const d = ui.duet;
  d.midiAsked = true;
  const line = (state, text) => {
    document.body.dataset.midi = state;
    $("duet-midi").textContent = text;
  };
  if (typeof navigator.requestMIDIAccess !== "function") {
    line("unavailable", "MIDI input: this browser has no Web MIDI; play on the computer keys");
    return;
  }
  line("asking", "MIDI input: asking the browser…");
  try {
    d.midi = await navigator.requestMIDIAccess();
  } catch (e) {
    line("denied", `MIDI input: not allowed (${e.name || e.message || e}); play on the computer keys`);
    return;
  }
  d.midi.onstatechange = () => duetMidiInputs();
  $("duet-midi-input").addEventListener("change", (e) => {
    e.currentTarget.blur();
    duetMidiUse(e.currentTarget.value);
  });
  duetMidiInputs();
}

// Lists the MIDI inputs; keeps playing on the one chosen while it is there, else the first.
function duetMidiInputs() {
  const d = ui.duet;
  const inputs = [...d.midi.inputs.values()];
  const select = $("duet-midi-input");
  select.replaceChildren(...inputs.map((input) => {
    const o = document.createElement("option");
    o.value = input.id;
    o.textContent = input.name || input.id;
    return o;
  }));
  select.hidden = inputs.length === 0;
  const keep = d.midiInput && inputs.some((i) => i.id === d.midiInput.id);
  duetMidiUse(keep ? d.midiInput.id : inputs[0] && inputs[0].id);
}

function duetMidiUse(id) {
  const d = ui.duet;
  const inputs = [...d.midi.inputs.values()];
  for (const input of inputs) input.onmidimessage = null;
  d.midiInput = inputs.find((i) => i.id === id) || null;
  if (!d.midiInput) {
    document.body.dataset.midi = "no-inputs";
    $("duet-midi").textContent = "MIDI input: no MIDI keyboard connected; play on the computer keys";
    return;
  }
  d.midiInput.onmidimessage = duetMidiMessage;
  $("duet-midi-input").value = d.midiInput.id;
  document.body.dataset.midi = "ready";
  $("duet-midi").textContent = `MIDI input (${inputs.length}):`;
}

// A MIDI message: note-on starts a note, note-off (or note-on at velocity 0) ends it, at the
// time the message arrived. A note outside the session's range is shown as rejected and
// neither sounds nor joins the call.
function duetMidiMessage(e) {
  const d = ui.duet;
  if (!d.on || !d.frame || !e.data || e.data.length < 3) return;
  const [status, pitch, velocity] = e.data;
  const kind = status & 0xf0;
  const on = kind === 0x90 && velocity > 0;
  const off = kind === 0x80 || (kind === 0x90 && velocity === 0);
  if (!on && !off) return;
  const { ctx } = audioGraph();
  if (ctx.state === "suspended") ctx.resume();
  // The message's own time stamp (performance clock) on the audio clock, when it is recent.
  const lag = (performance.now() - e.timeStamp) / 1000;
  const t = ctx.currentTime - (lag >= 0 && lag < 1 ? lag : 0);
  const id = `midi:${pitch}`;
  if (off) {
    duetNoteOff(id, t);
    return;
  }
  const note = $("duet-midi-note");
  const name = (p) => `${NOTE_NAMES[p % 12]}${Math.floor(p / 12) - 1}`;
  if (pitch < d.frame.low || pitch > d.frame.high) {
    d.rejected += 1;
    document.body.dataset.midiRejected = String(d.rejected);
    note.className = "meta rejected";
    note.textContent = `${name(pitch)} (${pitch}) rejected: outside the range ` +
      `${name(d.frame.low)}–${name(d.frame.high)}, not played into the call`;
    return;
  }
  note.className = "meta";
  note.textContent = `${name(pitch)}`;
  duetNoteOn(id, pitch, t);
}

async function duetRate(rating) {
  const d = ui.duet;
  if (!d.exchange || ui.busy) return;
  ui.busy = true;
  try {
    const data = await api("POST", "/api/duet/rate", { exchange: d.exchange.exchange, rating });
    ui.state = data.state;
    renderState();
    $("duet-history").textContent = ui.state.duet.ratings
      .map((r) => `answer ${r.exchange + 1}: ${r.rating}`).join(" · ");
    d.exchange = null;
    document.body.dataset.duetRated = String(ui.state.duet.ratings.length);
  } catch (e) {
    showStatus(e.message, true);
  } finally {
    ui.busy = false;
  }
}

// Keys in duet mode: the note rows, Space to start, 1-5 to rate the answer.
function duetKey(e, down) {
  const k = e.key.toLowerCase();
  if (e.repeat) { e.preventDefault(); return; }
  if (!down) { duetKeyUp(k); return; }
  if (k === " ") { e.preventDefault(); duetStart(); }
  else if ("12345".includes(k) && k.length === 1) duetRate(Number(k));
  else if (duetKeyDown(k)) e.preventDefault();
}

// --------------------------------------------------------------------------------------
// Wiring
// --------------------------------------------------------------------------------------

$("play").addEventListener("click", () => (ui.playing ? stop() : play("played")));
$("listen-a").addEventListener("click", () => play("a"));
$("listen-b").addEventListener("click", () => play("b"));
$("prefer-a").addEventListener("click", () => choose("a"));
$("prefer-b").addEventListener("click", () => choose("b"));
$("send-ab").addEventListener("click", sendChoice);
$("apply").addEventListener("click", applySettings);
$("ctl-apply").addEventListener("click", applyControls);
$("ctl-reset").addEventListener("click", resetControls);
for (const b of document.querySelectorAll("#ratings button")) {
  b.addEventListener("click", () => rate(Number(b.dataset.rating)));
}

document.addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLInputElement) {
    if (e.key === "Enter") (e.target.id.startsWith("ctl-") ? applyControls : applySettings)();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (ui.duet.on) return duetKey(e, true);
  const k = e.key.toLowerCase();
  if (k === " ") { e.preventDefault(); ui.playing ? stop() : play("played"); }
  else if ("12345".includes(k) && k.length === 1) rate(Number(k));
  else if (k === "a" || k === "b") choose(k);
  else if (k === "j") play("a");
  else if (k === "k") play("b");
  else if (k === "enter") sendChoice();
});
document.addEventListener("keyup", (e) => {
  if (ui.duet.on && !(e.target instanceof HTMLInputElement)) duetKey(e, false);
});
$("duet-toggle").addEventListener("click", (e) => { e.currentTarget.blur(); toggleDuet(); });
$("duet-start").addEventListener("click", (e) => { e.currentTarget.blur(); duetStart(); });
for (const b of document.querySelectorAll("#duet-ratings button")) {
  b.addEventListener("click", () => duetRate(Number(b.dataset.rating)));
}
window.addEventListener("resize", () => drawRoll(null));

(async function start() {
  try {
    ui.state = await api("GET", "/api/state");
    ui.phrase = await api("GET", "/api/phrase");
    renderState();
    renderPhrase();
    document.body.dataset.ready = "true";
  } catch (e) {
    showStatus(`cannot reach the session: ${e.message}`, true);
  }
})();
