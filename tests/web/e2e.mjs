// End-to-end test of `cadenza session --web` in headless Chromium: the page loads, plays a
// phrase with WebAudio, takes five ratings (by click and by keyboard), changes the tempo, and
// the server's API and its session log show five ratings and a listener model that moved;
// then in duet mode it plays a call with key presses, hears the answer and rates it, and plays
// a call on a MIDI keyboard (a fake Web MIDI input the test drives); pages without Web MIDI or
// without permission say so and keep the computer keys.
//
// Run by scripts/web-test.sh, which builds the binary and installs Chromium and
// playwright-core. Environment: CADENZA_BIN (the binary), CHROMIUM (default /usr/bin/chromium).

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const bin = process.env.CADENZA_BIN;
if (!bin) throw new Error("set CADENZA_BIN to the cadenza binary");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

let passed = 0;
let failed = 0;
function check(name, ok, detail = "") {
  if (ok) {
    passed += 1;
    console.log(`ok - ${name}`);
  } else {
    failed += 1;
    console.log(`FAILED - ${name} ${detail}`);
  }
}

const work = mkdtempSync(join(tmpdir(), "cadenza-web-e2e-"));
const log = join(work, "session.jsonl");

function startServer() {
  const child = spawn(
    bin,
    ["session", "--web", "--port", "0", "--log", log, "--pretrain-steps", "1000000", "--candidates", "8", "--seed", "3"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no URL from the server in 120 s")), 120_000);
    child.on("exit", (code) => reject(new Error(`the server exited with ${code}`)));
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const m = line.match(/^listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

let server = null;
let context = null;
try {
  server = await startServer();
  const { url } = server;
  console.log(`server at ${url}`);
  const api = async (path) => (await fetch(new URL(path, url))).json();
  const initial = await api("/api/state");

  context = await chromium.launchPersistentContext(join(work, "profile"), {
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  // A fake Web MIDI before the page's script runs: `?midi=none` takes Web MIDI away,
  // `?midi=denied` refuses permission, else one input that `window.__fakeMidi.send` drives.
  await context.addInitScript(() => {
    const mode = new URLSearchParams(location.search).get("midi");
    const define = (value) =>
      Object.defineProperty(Navigator.prototype, "requestMIDIAccess", { value, configurable: true, writable: true });
    if (mode === "none") return define(undefined);
    if (mode === "denied") {
      return define(() => Promise.reject(new DOMException("Permission denied", "NotAllowedError")));
    }
    const input = { id: "fake-in-1", name: "Test keyboard", type: "input", state: "connected", onmidimessage: null };
    const access = { inputs: new Map([[input.id, input]]), outputs: new Map(), sysexEnabled: false, onstatechange: null };
    window.__fakeMidi = {
      input,
      sent: 0,
      send(bytes, timeStamp) {
        this.sent += 1;
        if (input.onmidimessage) {
          input.onmidimessage({ data: new Uint8Array(bytes), timeStamp: timeStamp ?? performance.now(), target: input });
        }
      },
    };
    define(() => Promise.resolve(access));
  });
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  const foreign = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(url) && !r.url().startsWith("data:")) foreign.push(r.url());
  });

  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 90_000 });
  check("the page loads and fetches its first phrase", true);
  const firstRound = await page.evaluate(() => window.cadenza.phrase.round);
  check("the first phrase is round 0", firstRound === 0, `got ${firstRound}`);

  // Play: WebAudio schedules the lead, the pad and the bass; the button turns into Stop.
  await page.click("#play");
  await page.waitForFunction(() => window.cadenza.playing === true, null, { timeout: 10_000 });
  const played = await page.evaluate(() => ({
    notes: window.cadenza.scheduledNotes,
    phraseNotes: window.cadenza.phrase.notes.length,
    label: document.getElementById("play").textContent,
  }));
  check("play schedules every note and chord", played.notes > played.phraseNotes && played.phraseNotes > 0,
    JSON.stringify(played));
  check("the play button becomes stop", played.label.includes("Stop"), played.label);
  await page.waitForTimeout(400);
  const rollInk = await page.evaluate(() => {
    const c = document.getElementById("roll");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 300) lit += 1;
    return lit;
  });
  check("the piano roll is drawn", rollInk > 100, `${rollInk} bright pixels`);
  await page.keyboard.press("Space");
  check("Space stops playback", (await page.evaluate(() => window.cadenza.playing)) === false);

  // Five ratings: clicks and keyboard shortcuts, two of them with an A/B answer.
  const actions = [
    { rating: 5, how: "click" },
    { rating: 2, how: "key" },
    { rating: 4, how: "click", ab: "a" },
    { rating: 1, how: "key" },
    { rating: 3, how: "key", ab: "b" },
  ];
  const latencies = [];
  const serverMs = [];
  let expectedPrefs = 0;
  const phrasesHeard = [];
  for (const [i, a] of actions.entries()) {
    const round = await page.evaluate(() => window.cadenza.phrase.round);
    phrasesHeard.push(await page.evaluate(() => window.cadenza.phrase.musicianship));
    const hasPair = await page.evaluate(() => !!window.cadenza.phrase.pair);
    if (a.ab && hasPair) {
      await page.keyboard.press(a.ab === "a" ? "KeyA" : "KeyB");
      const selected = await page.getAttribute(`#prefer-${a.ab}`, "class");
      check(`round ${round}: key ${a.ab} marks the A/B choice`, selected.includes("selected"), selected);
      expectedPrefs += 1;
    }
    if (a.how === "click") await page.click(`#ratings button[data-rating="${a.rating}"]`);
    else await page.keyboard.press(`Digit${a.rating}`);
    await page.waitForFunction((r) => window.cadenza.phrase.round === r + 1 && !window.cadenza.busy, round,
      { timeout: 30_000 });
    const m = await page.evaluate(() => [window.cadenza.lastLatencyMs, window.cadenza.phrase.propose_ms]);
    latencies.push(m[0]);
    serverMs.push(m[1]);
    check(`rating ${i + 1} (${a.how}) brings the next phrase`, true);
  }
  // What a person hears first is music: the first phrases' musicianship, as the API reports
  // it, passes the floors of docs/musicianship.md on average (a fresh session, default
  // agent, shorter pre-training than the 2 M steps of a real session).
  const phrases = phrasesHeard.concat([await page.evaluate(() => window.cadenza.phrase.musicianship)]);
  const meanOf = (k) => phrases.reduce((a, m) => a + m[k], 0) / phrases.length;
  const floors = { harmony: 0.65, line: 0.55, rhythm: 0.4, variety: 0.55 };
  const means = Object.fromEntries(Object.keys(floors).map((k) => [k, meanOf(k)]));
  check(`the first ${phrases.length} phrases are music by the musicianship report`,
    Object.entries(floors).every(([k, f]) => means[k] >= f), JSON.stringify(means));
  const bars = await page.$$eval("#model-chart rect[data-feature]", (rs) => rs.length);
  check("the model chart draws one bar per feature", bars === initial.model.features.length,
    `${bars} of ${initial.model.features.length}`);
  const history = await page.$$eval("#history .r", (rs) => rs.length);
  check("the rating history shows five ratings", history === 5, `${history}`);

  // The server got exactly these ratings, and the listener model moved.
  const state = await api("/api/state");
  const ratings = state.ratings.map((r) => r.rating);
  check("the API reports five ratings", JSON.stringify(ratings) === JSON.stringify(actions.map((a) => a.rating)),
    JSON.stringify(ratings));
  check("the model learnt from every answer", state.observations === 5 + expectedPrefs,
    `${state.observations} observations, expected ${5 + expectedPrefs}`);
  const moved = state.model.features.some((f, k) => Math.abs(f.weight - initial.model.features[k].weight) > 1e-6);
  const narrowed = state.model.features.some((f, k) => f.sd < initial.model.features[k].sd - 1e-6);
  check("the listener model's weights changed", moved);
  check("the listener model grew more certain", narrowed);
  const records = readFileSync(log, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
  const feedback = records.filter((r) => r.type === "feedback");
  check("the session log holds the five ratings, fsynced",
    JSON.stringify(feedback.map((r) => r.rating)) === JSON.stringify(actions.map((a) => a.rating)),
    JSON.stringify(feedback));
  check("the session log holds the A/B answers", feedback.filter((r) => r.preference).length === expectedPrefs);
  check("the session log has a model record per answer", records.filter((r) => r.type === "model").length === 5);

  // Musical controls: a narrow range high up and more space; the very next phrase follows
  // (within the range, more rests than the phrase before), and the page shows the learnt
  // taste in the same terms.
  const beforeControls = await page.evaluate(() => window.cadenza.phrase.measures);
  await page.fill("#ctl-low", "67");
  await page.fill("#ctl-high", "79");
  await page.$eval("#ctl-space", (e) => { e.value = "1"; });
  await page.click("#ctl-apply");
  await page.waitForFunction(() => window.cadenza.state.controls.space === 1 && !window.cadenza.busy, null,
    { timeout: 30_000 });
  const steered = await page.evaluate(() => window.cadenza.phrase);
  check("the controls reach the session", JSON.stringify((await api("/api/state")).controls) ===
    JSON.stringify({ low: 67, high: 79, density: 0, space: 1, chromatic: 0 }));
  check("the next phrase keeps to the range asked for",
    steered.notes.length > 0 && steered.notes.every((n) => n.pitch >= 67 && n.pitch <= 79),
    JSON.stringify(steered.notes.map((n) => n.pitch)));
  check("the next phrase has more space", steered.measures.rest_share > beforeControls.rest_share,
    `${beforeControls.rest_share} -> ${steered.measures.rest_share}`);
  check("the next phrase is still music", steered.musicianship.failures.length === 0,
    JSON.stringify(steered.musicianship));
  const shown = await page.$eval("#measures", (e) => e.textContent);
  check("the page shows the phrase in the controls' terms", shown.includes("rests"), shown);
  const tasteRows = await page.$$eval("#taste-chart rect[data-taste]", (rs) => rs.map((r) => r.dataset.taste));
  check("the page shows the learnt taste in musical terms",
    ["register", "density", "space", "chromatic"].every((n) => tasteRows.includes(n)), tasteRows.join(","));
  const controlRecords = readFileSync(log, "utf8").split("\n").filter((l) => l.includes('"type":"controls"'));
  check("the controls are logged", controlRecords.length === 1, `${controlRecords.length}`);

  // Settings: the tempo control changes the session (logged), the page follows.
  await page.fill("#tempo", "96");
  await page.click("#apply");
  await page.waitForFunction(() => window.cadenza.phrase.tempo === 96, null, { timeout: 120_000 });
  const after = await api("/api/state");
  check("the tempo control changes the session", after.settings.tempo === 96, JSON.stringify(after.settings));
  await page.fill("#key", "G major");
  await page.click("#apply");
  await page.waitForFunction(() => window.cadenza.phrase.key === "G major", null, { timeout: 120_000 });
  const symbol = await page.evaluate(() => window.cadenza.phrase.chords[0].symbol);
  check("the key control moves the progression", symbol === "Am7", symbol);
  const settingsRecords = readFileSync(log, "utf8").split("\n").filter((l) => l.includes('"type":"settings"'));
  check("changes of settings are logged", settingsRecords.length === 2, `${settingsRecords.length}`);

  // Duet mode: a call played on the keyboard after the count-in, the agent's answer on the
  // next downbeat, a rating of the answer; the call, the answer and the rating in the log.
  await page.click("#duet-toggle");
  await page.waitForSelector("body[data-duet-phase=idle]", { timeout: 300_000 });
  const keys = await page.$$eval("#duet-keys .k", (ks) => ks.map((k) => k.textContent));
  check("duet mode shows the keyboard mapped to the key's scale", keys.length >= 10 && keys.some((k) => k.startsWith("A")),
    keys.join(" "));
  await page.keyboard.press("Space");
  await page.waitForSelector("body[data-duet-phase=call]", { timeout: 20_000 });
  for (const [key, ms] of [["a", 400], ["d", 300], ["g", 600], ["f", 300], ["s", 500]]) {
    await page.keyboard.down(key);
    await page.waitForTimeout(ms);
    await page.keyboard.up(key);
    await page.waitForTimeout(120);
  }
  await page.waitForSelector("body[data-duet-phase=answer]", { timeout: 30_000 });
  const duet = await page.evaluate(() => ({
    sent: window.cadenza.duet.sent,
    exchange: window.cadenza.duet.exchange,
    late: window.cadenza.duet.late,
    scale: window.cadenza.duet.frame.scale,
  }));
  const pitches = (ns) => ns.map((n) => n.pitch).join(",");
  const pressed = [0, 2, 4, 3, 1].map((i) => duet.scale[i]).join(",");
  check("the call heard is the keys pressed", pitches(duet.sent) === pressed, `${pitches(duet.sent)} vs ${pressed}`);
  check("the server heard the call as sent",
    JSON.stringify(duet.exchange.call) === JSON.stringify(duet.sent), JSON.stringify(duet.exchange.call));
  check("the agent answers with notes", duet.exchange.answer.length > 0, JSON.stringify(duet.exchange));
  check("the answer starts on the planned downbeat", duet.late === false);
  await page.keyboard.press("Digit4");
  await page.waitForSelector("body[data-duet-rated='1']", { timeout: 20_000 });
  const duetState = (await api("/api/state")).duet;
  check("the API reports the answer's rating", JSON.stringify(duetState.ratings) === JSON.stringify([{ exchange: 0, rating: 4 }]),
    JSON.stringify(duetState));
  const duetRecords = readFileSync(log, "utf8").split("\n").filter((l) => l.includes('"type":"duet_'))
    .map((l) => JSON.parse(l));
  check("the log holds the call, the answer and the rating",
    duetRecords.length === 2 && duetRecords[0].type === "duet_call" && duetRecords[0].call.length === 32 &&
      duetRecords[0].answer.length === 32 && duetRecords[1].type === "duet_rating" && duetRecords[1].rating === 4,
    JSON.stringify(duetRecords));
  // A call on a MIDI keyboard: note-on/note-off messages, each stamped with the time of the
  // step it belongs to; a note-on at velocity 0 ends a note, a new note ends the one
  // sounding, notes outside the range are shown as rejected and neither end nor join the call.
  const midi = await page.evaluate(() => ({
    state: document.body.dataset.midi,
    line: document.getElementById("duet-midi").textContent,
    inputs: [...document.querySelectorAll("#duet-midi-input option")].map((o) => o.textContent),
  }));
  check("duet mode lists the MIDI inputs", midi.state === "ready" && JSON.stringify(midi.inputs) === '["Test keyboard"]',
    JSON.stringify(midi));
  await page.keyboard.press("Space");
  await page.waitForSelector("body[data-duet-phase=call]", { timeout: 20_000 });
  const midiPlan = await page.evaluate(async () => {
    const d = window.cadenza.duet;
    const f = d.frame;
    const s = f.scale;
    const chromatic = [...Array(f.high - f.low + 1).keys()].map((k) => f.low + k).find((p) => !s.includes(p));
    const below = f.low - 3;
    const above = f.high + 2;
    const plan = [
      [0, [0x90, s[0], 90]],
      [3, [0x80, s[0], 0]],
      [4, [0x90, s[2], 100]],
      [6, [0x90, s[4], 80]], // ends s[2]
      [9, [0x90, s[4], 0]], // velocity 0: a note-off
      [10, [0x90, below, 100]], // rejected
      [11, [0x80, below, 0]],
      [12, [0x91, chromatic, 70]], // another channel, off the scale but in range
      [16, [0x81, chromatic, 64]],
      [20, [0x90, s[3], 100]],
      [22, [0x90, above, 100]], // rejected while s[3] sounds: s[3] keeps sounding
      [23, [0x80, above, 0]],
      [24, [0x80, s[3], 0]],
    ];
    const stepMs = (60 / f.tempo / f.steps_per_quarter) * 1000;
    for (const [step, bytes] of plan) {
      const at = d.callStartPerf + step * stepMs;
      await new Promise((r) => setTimeout(r, Math.max(0, at - performance.now())));
      window.__fakeMidi.send(bytes, at);
    }
    return {
      expected: [
        { pitch: s[0], start: 0, duration: 3 },
        { pitch: s[2], start: 4, duration: 2 },
        { pitch: s[4], start: 6, duration: 3 },
        { pitch: chromatic, start: 12, duration: 4 },
        { pitch: s[3], start: 20, duration: 4 },
      ],
      rejected: document.body.dataset.midiRejected,
      note: document.getElementById("duet-midi-note").textContent,
      noteClass: document.getElementById("duet-midi-note").className,
      low: f.low,
    };
  });
  check("a MIDI note outside the range is shown as rejected",
    midiPlan.rejected === "2" && midiPlan.note.includes("rejected") && midiPlan.noteClass.includes("rejected"),
    JSON.stringify(midiPlan));
  await page.waitForSelector("body[data-duet-phase=answer]", { timeout: 30_000 });
  const midiDuet = await page.evaluate(() => ({ sent: window.cadenza.duet.sent, exchange: window.cadenza.duet.exchange }));
  check("the MIDI call is sent with its pitches and steps",
    JSON.stringify(midiDuet.sent) === JSON.stringify(midiPlan.expected),
    `${JSON.stringify(midiDuet.sent)} vs ${JSON.stringify(midiPlan.expected)}`);
  check("the MIDI call's answer comes back", midiDuet.exchange.exchange === 1 && midiDuet.exchange.answer.length > 0,
    JSON.stringify(midiDuet.exchange));
  const midiState = (await api("/api/state")).duet;
  check("the API counts the MIDI call", midiState.exchanges === 2 && midiState.pending === 1, JSON.stringify(midiState));
  const lastCall = readFileSync(log, "utf8").split("\n").filter((l) => l.includes('"type":"duet_call"'))
    .map((l) => JSON.parse(l)).pop();
  // Events: 0 rests, 1 holds what sounds (a note, or the rest), 2 and up strike low, low + 1, ...
  const logged = [];
  let sounding = false;
  lastCall.call.forEach((e, step) => {
    if (e >= 2) logged.push({ pitch: midiPlan.low + e - 2, start: step, duration: 1 });
    else if (e === 1 && sounding) logged[logged.length - 1].duration += 1;
    sounding = e >= 2 || (e === 1 && sounding);
  });
  check("the log holds the MIDI call at its pitches and steps, and its answer",
    lastCall.exchange === 1 && JSON.stringify(logged) === JSON.stringify(midiPlan.expected) && lastCall.answer.length === 32,
    JSON.stringify(lastCall));

  // Without Web MIDI, or without permission, the page says so in one line and the computer
  // keys still play.
  for (const mode of ["denied", "none"]) {
    const other = await context.newPage();
    const errors = [];
    other.on("pageerror", (e) => errors.push(e.message));
    await other.goto(`${url}?midi=${mode}`);
    await other.waitForSelector("body[data-ready=true]", { timeout: 90_000 });
    await other.click("#duet-toggle");
    await other.waitForSelector("body[data-duet-phase=idle]", { timeout: 60_000 });
    const expectedState = mode === "denied" ? "denied" : "unavailable";
    await other.waitForSelector(`body[data-midi=${expectedState}]`, { timeout: 10_000 });
    const line = await other.$eval("#duet-midi", (e) => e.textContent);
    const hidden = await other.$eval("#duet-midi-input", (e) => e.hidden);
    check(`MIDI ${mode}: the page says so in one line`,
      line.includes(mode === "denied" ? "not allowed" : "no Web MIDI") && line.includes("computer keys") && hidden, line);
    await other.keyboard.down("d");
    const lit = await other.evaluate(() => ({
      held: window.cadenza.duet.held && window.cadenza.duet.held.pitch,
      pitch: window.cadenza.duet.frame.scale[2],
      down: document.querySelectorAll("#duet-keys .k.down").length,
    }));
    await other.keyboard.up("d");
    check(`MIDI ${mode}: the computer keys still play`, lit.held === lit.pitch && lit.down === 1, JSON.stringify(lit));
    check(`MIDI ${mode}: no errors in the page`, errors.length === 0, errors.join("; "));
    await other.close();
  }

  // The server's time from a call received to its answer ready, over more calls.
  const answerMs = [duet.exchange.answer_ms];
  for (let i = 0; i < 19; i++) {
    const r = await fetch(new URL("/api/duet/call", url), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ notes: duet.sent }),
    });
    answerMs.push((await r.json()).exchange.answer_ms);
  }
  console.log(`duet answer_ms (server, call received -> answer ready): median ${median(answerMs).toFixed(2)} ms ` +
    `(max ${Math.max(...answerMs).toFixed(2)}, ${answerMs.length} calls)`);

  check("nothing was fetched from elsewhere", foreign.length === 0, foreign.join(" "));
  check("no errors in the page", problems.length === 0, problems.join("; "));
  console.log(
    `latency rating -> next phrase in the page: median ${median(latencies).toFixed(1)} ms ` +
      `(max ${Math.max(...latencies).toFixed(1)}); server feedback + propose: median ${median(serverMs).toFixed(1)} ms`,
  );
} catch (e) {
  failed += 1;
  console.log(`FAILED - ${e.stack || e}`);
} finally {
  if (context) await context.close().catch(() => {});
  if (server) server.child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
}
console.log(`web-e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
