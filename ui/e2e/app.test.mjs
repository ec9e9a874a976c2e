// End-to-end test of the real desktop app (debug build with the custom-protocol feature),
// driven through tauri-driver + WebKitWebDriver. Run by scripts/e2e.sh, which provides:
//   ZERONS_APP        the built binary
//   E2E_WORK          a temp dir (project file, export dir); XDG_DATA_HOME points inside it
//   SCREENSHOT_DIR    where screenshots and redraw timings go
// The app's file dialogs are bypassed with ZERONS_TEST_PICK_* (src-tauri/src/dialogs.rs).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { By, Key, until } from "selenium-webdriver";
import { appSession } from "./session.mjs";

const WORK = process.env.E2E_WORK;
const SHOTS = process.env.SCREENSHOT_DIR;
const PROJECT = path.join(WORK, "e2e.zerons");
const EXPORT_DIR = path.join(WORK, "export");
const SONG_STEM = "time_to_strike_excerpt";

const session = appSession();
let driver;
const { shot, js, dragBeat } = session;
/** Clicks a button in the page (a toast sliding over a dialog's button cannot intercept it). */
const clickJs = (id) => js(`document.getElementById(arguments[0]).click()`, id);
const idle = () => driver.executeAsyncScript("const done = arguments[0]; window.__zerons.idle().then(done);");

/**
 * The head revision of a track (default 1), read from a project file itself (not through the
 * app): times, the source of each beat (0 model, 1 user, 2 confirmed, 3 continued, 4
 * imported), the number of revisions.
 */
function storeHead(track = 1, file = PROJECT) {
  const py = `
import json, sqlite3, struct, sys
c = sqlite3.connect(sys.argv[1])
t = int(sys.argv[2])
row = c.execute("SELECT r.id, r.author, r.n_beats, r.times, r.note, r.sources FROM track_heads h "
                "JOIN beat_revisions r ON r.id = h.revision_id WHERE h.track_id = ?", (t,)).fetchone()
n_revs = c.execute("SELECT COUNT(*) FROM beat_revisions WHERE track_id = ?", (t,)).fetchone()[0]
print(json.dumps({"id": row[0], "author": row[1], "n": row[2],
                  "times": list(struct.unpack("<%dd" % row[2], row[3])), "note": row[4],
                  "sources": list(row[5] or b""), "revisions": n_revs}))
`;
  return JSON.parse(execFileSync("python3", ["-c", py, file, String(track)], { encoding: "utf8" }));
}

/** One value of the project file (python sqlite3 expression on cursor `c`). */
function storeQuery(sql, file = PROJECT) {
  const py = `
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(json.dumps([list(r) for r in c.execute(sys.argv[2])]))`;
  return JSON.parse(execFileSync("python3", ["-c", py, file, sql], { encoding: "utf8" }));
}

test("create a project, analyse the demo song, edit, undo, export", { timeout: 1_500_000 }, async (t) => {
  driver = await session.open();
  await t.test("welcome screen", async () => {
    const welcome = await driver.wait(until.elementLocated(By.id("welcome")), 30_000);
    await driver.wait(until.elementIsVisible(welcome), 10_000);
    await shot("01-welcome");
  });

  await t.test("new project", async () => {
    await driver.findElement(By.id("btn-new")).click();
    await driver.wait(async () => (await js("return window.__zerons.state.project?.path ?? ''")).endsWith("e2e.zerons"), 30_000);
    assert.match(await js("return document.getElementById('project-name').textContent"), /e2e/);
    assert.ok(fs.existsSync(PROJECT), "project file created");
  });

  await t.test("add the demo song, a second song and a non-audio file; wait for the analyses", async () => {
    await driver.findElement(By.id("btn-add")).click();
    // Lists re-render while the analysis reports progress: query them in the page (one
    // script call) rather than holding element handles that can go stale.
    const count = (sel) => js(`return document.querySelectorAll(arguments[0]).length`, sel);
    await driver.wait(async () => (await count("#jobs li")) > 0, 20_000);
    await shot("02-analysing");
    await driver.wait(async () => (await count("#tracks li")) > 0, 300_000);
    await driver.wait(async () => (await js("return window.__zerons.beatTimes().length")) > 10, 60_000);
    // The text file fails with a readable message and a stable code; the song is unaffected.
    await driver.wait(async () => (await count("#jobs li.failed")) > 0, 60_000);
    const failed = await js(`const li = document.querySelector("#jobs li.failed");
      return { code: li.dataset.code, text: li.textContent };`);
    assert.match(failed.code, /^(unsupported_audio|decode)$/);
    assert.match(failed.text, /notes\.txt/);
    await driver.wait(async () => (await count("#jobs li:not(.failed)")) === 0, 300_000);
    await shot("02b-bad-file");
    await driver.findElement(By.css("#jobs li.failed button")).click();
    assert.equal((await driver.findElements(By.css("#jobs li"))).length, 0);
    assert.equal((await driver.findElements(By.css("#tracks li"))).length, 2);
    const head = storeHead();
    assert.equal(head.author, "model");
    // Issue 21: the revision says how the bars were found (the status line shows its note).
    assert.equal(head.note, "analysis · bars by the bar classifier");
    const shown = await js("return window.__zerons.beatTimes()");
    assert.equal(shown.length, head.n);
    await shot("03-timeline");
  });

  await t.test("the shipped network tracked: its combined curve first, then both branches; the bar classifier numbered the bars", async () => {
    const kinds = await js("return window.__zerons.state.timeline.curves.map((c) => c.kind)");
    // "downbeat": the bar classifier's probability at each beat (issue 21).
    assert.deepEqual(kinds, ["max", "anchor", "postve", "downbeat"]);
    const positions = await js("const p = window.__zerons.timeline.beats.positions; return p ? Array.from(p) : null");
    assert.ok(positions, "the analysis numbers the beats in the bar");
    assert.equal(positions.length, storeHead().n);
    assert.ok(positions.every((p) => p >= 1 && p <= 4), positions.join(","));
    assert.ok(positions.filter((p) => p === 1).length >= 10);
  });

  await t.test("playback on ALSA's null device: space plays and pauses", async () => {
    await driver.wait(async () => (await js("return window.__zerons.transport.trackId")) === 1, 30_000);
    const output = await js("return document.getElementById('output-info').textContent");
    assert.match(output, /alsa:null/);
    await js("document.getElementById('timeline').focus()");
    await driver.actions().sendKeys(Key.SPACE).perform();
    // ALSA's null device is unpaced (it takes audio ~1000× faster than real time): the 30 s
    // song may have played to its end before the first poll, so "playing" can be missed.
    await driver.wait(
      () => js("const s = window.__zerons.transport.state; return !!s && (s.playing || s.ended) && s.position_s > 0"),
      10_000,
    );
    await driver.wait(async () => (await js("return window.__zerons.timeline.playheadS ?? 0")) > 0, 10_000);
    await shot("03b-playing");
    if (await js("return window.__zerons.transport.state.playing")) await driver.actions().sendKeys(Key.SPACE).perform();
    await driver.wait(async () => (await js("return window.__zerons.transport.state?.playing")) === false, 10_000);
    // Rewind so the remaining steps see the usual view.
    await js("return window.__zerons.transport.seek(0)");
  });

  let k;
  let before;
  await t.test("drag a beat: the store gets a user revision", async () => {
    // Snap off, so the beat lands exactly where it is dropped.
    await driver.findElement(By.id("snap")).click();
    before = storeHead();
    k = Math.floor(before.n / 3);
    const dx = 30;
    const pxPerS = await dragBeat(k, dx);
    const shown = await js("return window.__zerons.beatTimes()");
    const expected = before.times[k] + dx / pxPerS;
    assert.ok(Math.abs(shown[k] - expected) < 1.5 / pxPerS, `beat ${k} shown at ${shown[k]}, expected ~${expected}`);
    const after = storeHead();
    assert.equal(after.author, "user");
    assert.equal(after.n, before.n);
    assert.ok(Math.abs(after.times[k] - shown[k]) < 1e-9, "store holds the dragged time");
    assert.ok(after.revisions > before.revisions);
    await shot("04-dragged");
  });

  await t.test("undo with Ctrl+Z restores the analysis", async () => {
    await driver.actions().keyDown(Key.CONTROL).sendKeys("z").keyUp(Key.CONTROL).perform();
    await driver.wait(async () => storeHead().author === "model", 10_000);
    await driver.wait(async () => {
      const shown = await js("return window.__zerons.beatTimes()");
      return Math.abs(shown[k] - before.times[k]) < 1e-9;
    }, 10_000);
    assert.deepEqual(storeHead().times, before.times);
  });

  await t.test("redo and undo again with the toolbar", async () => {
    await driver.findElement(By.id("btn-redo")).click();
    await driver.wait(async () => storeHead().author === "user", 10_000);
    await driver.findElement(By.id("btn-undo")).click();
    await driver.wait(async () => storeHead().author === "model", 10_000);
  });

  await t.test("continue my beats: the dragged beat is the last correction; the rest is re-tracked from it", async () => {
    await driver.findElement(By.id("btn-redo")).click();
    await driver.wait(async () => storeHead().author === "user", 10_000);
    const corrected = storeHead();
    await js("document.querySelectorAll('#toasts .toast').forEach((t) => t.remove())");
    await driver.findElement(By.id("btn-continue")).click();
    await driver.wait(async () => (await js("return document.querySelectorAll('#toasts .toast').length")) > 0, 30_000);
    const toast = await js("const t = document.querySelector('#toasts .toast'); return { cls: t.className, text: t.textContent };");
    assert.match(toast.cls, /info/, `no error: ${toast.text}`);
    assert.match(toast.text, /already follow your corrections|tempo and phase of yours/);
    assert.equal(await idle(), true);
    const head = storeHead();
    // The beats up to the correction are the user's, exactly.
    for (let i = 0; i <= k; i++) assert.ok(Math.abs(head.times[i] - corrected.times[i]) < 1e-9, `beat ${i} kept`);
    if (/tempo and phase of yours/.test(toast.text)) {
      assert.match(head.note, /continued the beats checked up to/);
      await driver.findElement(By.id("btn-undo")).click();
      await driver.wait(async () => storeHead().id === corrected.id, 10_000);
    }
    await shot("04b-continued");
    await driver.findElement(By.id("btn-undo")).click();
    await driver.wait(async () => storeHead().author === "model", 10_000);
  });

  await t.test("G straightens the demo onto one 120 BPM grid as one undo step; its beats stay unchecked", async () => {
    const model = storeHead();
    await js("document.querySelectorAll('#toasts .toast').forEach((t) => t.remove())");
    await driver.actions().sendKeys("g").perform();
    await driver.wait(async () => storeHead().id !== model.id, 20_000);
    assert.equal(await idle(), true);
    const head = storeHead();
    assert.match(head.note, /^straightened .* \(1 tempo section\)$/);
    assert.deepEqual(head.sources, model.sources, "straightening checks nothing");
    assert.equal(head.n, model.n);
    const ibi = head.times.slice(1).map((t, i) => t - head.times[i]);
    assert.ok(Math.max(...ibi) - Math.min(...ibi) < 1e-9, "one constant interval");
    assert.ok(Math.abs(60 / ibi[0] - 120) < 0.5, `${60 / ibi[0]} BPM`);
    const toast = await js("const t = document.querySelector('#toasts .toast'); return t ? t.textContent : '';");
    assert.match(toast, /^Straightened \d+ beats .* onto one tempo: 12\d\.\d BPM/);
    await driver.wait(async () => {
      const shown = await js("return window.__zerons.beatTimes()");
      return Math.abs(shown[10] - head.times[10]) < 1e-9;
    }, 10_000);
    await shot("04c-straightened");
    await driver.findElement(By.id("btn-undo")).click();
    await driver.wait(async () => storeHead().id === model.id, 10_000);
  });

  await t.test("this is beat 1: D re-phases the bars from the selected beat; the store keeps the positions; undo takes it back", async () => {
    const model = storeHead();
    const positionsOf = (id) => {
      const [[blob]] = storeQuery(`SELECT hex(positions) FROM beat_revisions WHERE id = ${id}`);
      const buf = Buffer.from(blob ?? "", "hex");
      return Array.from({ length: buf.length / 4 }, (_, i) => buf.readUInt32LE(4 * i));
    };
    const shownBefore = await js("return window.__zerons.beatPositions()");
    // The bar classifier numbered the demo; make the beat after a downbeat beat 1.
    const k = shownBefore.indexOf(1, 20) + 1;
    await js("window.__zerons.timeline.selected = new Set([arguments[0]]); window.__zerons.timeline.invalidate();", k);
    await driver.actions().sendKeys("d").perform();
    await driver.wait(async () => storeHead().id !== model.id, 10_000);
    assert.equal(await idle(), true);
    const head = storeHead();
    assert.equal(head.note, `downbeat at beat ${k + 1}`);
    assert.deepEqual(head.times, model.times, "re-phasing moves no beat");
    const stored = positionsOf(head.id);
    assert.deepEqual(stored, await js("return window.__zerons.beatPositions()"), "the store holds what the view shows");
    assert.deepEqual(stored.slice(0, k), shownBefore.slice(0, k), "the bars before it are kept");
    for (let i = k; i < stored.length; i++) assert.equal(stored[i], ((i - k) % 4) + 1, `beat ${i}`);
    await shot("04d-rephased");
    await driver.actions().keyDown(Key.CONTROL).sendKeys("z").keyUp(Key.CONTROL).perform();
    await driver.wait(async () => storeHead().id === model.id, 10_000);
    await driver.wait(async () => JSON.stringify(await js("return window.__zerons.beatPositions()")) === JSON.stringify(shownBefore), 10_000);
  });

  await t.test("export CSV and JAMS", async () => {
    await js("window.__zerons.timeline.fit()");
    await driver.findElement(By.id("btn-export")).click();
    await driver.wait(until.elementIsVisible(driver.findElement(By.id("export-modal"))), 5_000);
    await shot("05-export-dialog");
    await driver.findElement(By.id("export-go")).click();
    await driver.wait(until.elementTextContains(driver.findElement(By.id("export-result")), "Wrote 2"), 20_000);
    const n = storeHead().n;
    const csv = fs.readFileSync(path.join(EXPORT_DIR, `${SONG_STEM}.csv`), "utf8").trim().split("\n");
    assert.match(csv[0], /time/);
    assert.equal(csv.length, n + 1, "CSV: header + one line per beat");
    const jams = JSON.parse(fs.readFileSync(path.join(EXPORT_DIR, `${SONG_STEM}.jams`), "utf8"));
    const beat = jams.annotations.find((a) => a.namespace === "beat");
    assert.ok(beat, "JAMS has a beat annotation");
    assert.equal(beat.data.length, n);
    await driver.findElement(By.id("export-cancel")).click();
  });

  await t.test("help overlay", async () => {
    await driver.actions().sendKeys("?").perform();
    await driver.wait(until.elementIsVisible(driver.findElement(By.id("help-modal"))), 5_000);
    await shot("06-help");
    await driver.actions().sendKeys(Key.ESCAPE).perform();
  });

  await t.test("zoomed views and redraw timings", async () => {
    await js(
      `const tl = window.__zerons.timeline; const t = tl.beats.times[8];
       tl.setView({ startS: t - 0.15, pxPerS: tl.view.widthPx / 0.3, widthPx: tl.view.widthPx });`,
    );
    await driver.sleep(300);
    await shot("07-frames-zoom");
    const timings = await js("return window.__zerons.benchRedraw(600, 10)");
    fs.writeFileSync(path.join(SHOTS, "redraw-10min.json"), JSON.stringify(timings, null, 2));
    for (const r of timings) console.log(`redraw 10-min song, ${r.zoom}: median ${r.medianMs.toFixed(2)} ms (script ${r.scriptMedianMs.toFixed(2)} ms), p95 ${r.p95Ms.toFixed(2)} ms, max ${r.maxMs.toFixed(2)} ms`);
    const errors = await driver.findElements(By.css("#toasts .toast:not(.info):not([data-code=unsupported_audio]):not([data-code=decode])"));
    const texts = await Promise.all(errors.map((e) => e.getText()));
    assert.deepEqual(texts, [], "no error was shown");
  });

  // Issue 19's loop: check the first half of song 1, learn from exactly those beats, adopt
  // the model for song 1 only (song 2 keeps its beats), roll back, adopt again song by song.
  let modelId;
  await t.test("correct one beat and check beats with K: the only beats fine-tuning learns from", async () => {
    const song2 = storeHead(2);
    assert.ok(song2.sources.every((s) => s === 0), "song 2 is untouched: all model beats");
    // One correction (a beat near 8 s moved by 45 px, 0.1–0.2 s): without it the shipped model already
    // places every checked beat and there is nothing to learn (DEVSET rule 31).
    const model = storeHead();
    const j = model.times.findIndex((t) => t > 8);
    const pxPerS = await dragBeat(j, 45);
    assert.ok(45 / pxPerS > 0.07, `moved by ${45 / pxPerS} s`);
    await driver.wait(async () => storeHead().author === "user", 10_000);
    // The dragged beat stays selected, and K on a selection checks only it: deselect.
    await js("window.__zerons.timeline.selected = new Set(); window.__zerons.timeline.invalidate();");
    await js("window.__zerons.timeline.fit()");
    await js("return window.__zerons.transport.seek(15)");
    await js("document.getElementById('timeline').focus()");
    await driver.actions().sendKeys("k").perform();
    await driver.wait(async () => storeHead().note.startsWith("checked"), 10_000);
    const head = storeHead();
    const checked = head.times.filter((t, i) => head.sources[i] === 1 || head.sources[i] === 2);
    assert.ok(checked.length >= 8, `${checked.length} beats checked`);
    assert.ok(Math.max(...checked) <= 15, "only beats up to the playhead are checked");
    head.times.forEach((t, i) => {
      if (t > 15.001) assert.notEqual(head.sources[i], 2, `beat at ${t} s was not checked`);
    });
    await shot("08a-checked");
  });

  await t.test("learn: only the checked song is offered, only its checked beats are used", async () => {
    await clickJs("btn-learn");
    await driver.wait(until.elementIsVisible(driver.findElement(By.id("learn-modal"))), 5_000);
    await driver.wait(until.elementLocated(By.css("#learn-songs li[data-track='2'] input")), 20_000);
    const box = (id) => js(`const i = document.querySelector("#learn-songs li[data-track='${id}'] input"); return { checked: i.checked, disabled: i.disabled };`);
    assert.deepEqual(await box(1), { checked: true, disabled: false }, "song 1 was checked: ticked");
    assert.equal((await box(2)).checked, false, "song 2: nothing checked, not ticked");
    const text2 = await driver.findElement(By.css("#learn-songs li[data-track='2']")).getText();
    assert.doesNotMatch(text2, /corrected up to/);
    await shot("08b-learn-songs");
    await clickJs("learn-start");
    await driver.wait(async () => (await js("return window.__zerons.learn.points.length")) >= 2, 300_000);
    await shot("08-learning");
    await driver.wait(until.elementLocated(By.css("#learn-report .verdict")), 600_000);
    await shot("09-learn-report");
    const runs = storeQuery("SELECT status, result_model_id, config_json FROM training_runs");
    assert.equal(runs.length, 1);
    assert.equal(runs[0][0], "succeeded");
    modelId = runs[0][1];
    assert.ok(modelId > 0, "the run registered its model");
    assert.deepEqual(JSON.parse(runs[0][2]).tracks, [1], "trained on song 1 only");
    const report = await js("return window.__zerons.learn.report");
    const head = storeHead();
    const checked = head.sources.filter((s) => s === 1 || s === 2).length;
    assert.equal(report.songs.length, 1);
    assert.ok(report.songs[0].beats <= checked, `${report.songs[0].beats} beats learned, ${checked} checked`);
    assert.ok(report.songs[0].region_end_s <= 16, `learned up to ${report.songs[0].region_end_s} s, checked to 15 s`);
  });

  await t.test("adopt per song: song 2 keeps its beats until accepted; roll back is one action", async () => {
    const song1 = storeHead(1);
    const song2 = storeHead(2);
    await clickJs("learn-use");
    await driver.wait(until.elementIsVisible(driver.findElement(By.id("adopt-modal"))), 5_000);
    await driver.wait(async () => (await js("return !document.getElementById('adopt-go').disabled")), 300_000);
    await driver.wait(until.elementLocated(By.css("#adopt-songs tr[data-track='2'] input")), 10_000);
    await shot("10a-adopt-preview");
    // Song 2 not ticked: the model must not touch it.
    await js(`for (const id of [1, 2]) {
      const i = document.querySelector("#adopt-songs tr[data-track='" + id + "'] input");
      if (i.checked !== (id === 1)) i.click();
    }`);
    await clickJs("adopt-go");
    await driver.wait(async () => storeQuery("SELECT settings_json FROM project").map((r) => JSON.parse(r[0]).active_model_id)[0] === modelId, 60_000);
    await driver.wait(async () => storeQuery("SELECT COUNT(*) FROM adoption_tracks")[0][0] === 1, 30_000);
    const after2 = storeHead(2);
    assert.equal(after2.id, song2.id, "song 2 not accepted: same revision");
    assert.deepEqual(after2.times, song2.times);
    const after1 = storeHead(1);
    // Every beat the user checked is still there, with its source.
    song1.times.forEach((t, i) => {
      if (song1.sources[i] === 1 || song1.sources[i] === 2) {
        const j = after1.times.findIndex((x) => Math.abs(x - t) < 1e-9);
        assert.ok(j >= 0, `checked beat at ${t} s kept`);
        assert.equal(after1.sources[j], song1.sources[i]);
      }
    });
    await shot("10-learn-adopted");
    // One action rolls back the model and song 1.
    await driver.wait(until.elementIsVisible(driver.findElement(By.id("learn-rollback"))), 10_000);
    await clickJs("learn-rollback");
    await driver.wait(async () => storeQuery("SELECT settings_json FROM project").map((r) => JSON.parse(r[0]).active_model_id ?? null)[0] === null, 30_000);
    await driver.wait(async () => storeHead(1).id === song1.id, 10_000);
    assert.equal(storeHead(2).id, song2.id);
    // Adopt again, song 1 now and song 2 afterwards: each accepted on its own.
    for (const id of [1, 2]) {
      // The fine-tuned model in the models list: "Use…", then "Update songs…" once in use.
      await driver.wait(async () => (await js(`return [...document.querySelectorAll("#learn-models li button")]
        .some((b) => b.parentElement.textContent.includes("fine-tuned") && !b.disabled)`)), 10_000);
      await js(`[...document.querySelectorAll("#learn-models li button")]
        .find((b) => b.parentElement.textContent.includes("fine-tuned")).click();`);
      await driver.wait(until.elementIsVisible(driver.findElement(By.id("adopt-modal"))), 5_000);
      await driver.wait(async () => (await js("return !document.getElementById('adopt-go').disabled")), 300_000);
      await js(`for (const i of document.querySelectorAll("#adopt-songs tr input")) {
        if (i.checked !== (i.value === "${id}")) i.click();
      }`);
      await clickJs("adopt-go");
      await driver.wait(async () => storeQuery(`SELECT COUNT(*) FROM adoption_tracks t JOIN adoptions a ON a.id = t.adoption_id WHERE a.rolled_back_at IS NULL AND t.track_id = ${id}`)[0][0] === 1, 60_000);
      if (id === 1) assert.equal(storeHead(2).id, song2.id, "song 2 still untouched after song 1 was accepted");
    }
    await clickJs("learn-close");
    // The song is tracked by the fine-tuned network now.
    await driver.wait(async () => (await js("return window.__zerons.state.timeline?.curves?.[0]?.kind")) === "max", 30_000);
    const errors = await driver.findElements(By.css("#toasts .toast:not(.info):not([data-code=unsupported_audio]):not([data-code=decode])"));
    assert.deepEqual(await Promise.all(errors.map((e) => e.getText())), [], "no error was shown");
  });

  await t.test("tempo range: save 100–140 BPM and re-track; the project file holds it", async () => {
    await driver.findElement(By.id("btn-tempo")).click();
    await driver.wait(until.elementIsVisible(driver.findElement(By.id("tempo-modal"))), 5_000);
    await js(`document.getElementById("tempo-min").value = "100"; document.getElementById("tempo-max").value = "140";`);
    const revsBefore = storeHead().revisions;
    await driver.findElement(By.id("tempo-all")).click();
    await driver.wait(async () => (await js("return document.getElementById('tempo-result').textContent")).includes("Done."), 300_000);
    await shot("11-tempo");
    const settings = JSON.parse(
      execFileSync("python3", ["-c", `
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT settings_json FROM project").fetchone()[0])`, PROJECT], { encoding: "utf8" }),
    );
    assert.equal(settings.min_bpm, 100);
    assert.equal(settings.max_bpm, 140);
    assert.ok(settings.active_model_id > 0, "the fine-tuned model stays active");
    assert.ok(storeHead().revisions > revsBefore, "re-tracking added a model revision");
    await driver.findElement(By.id("tempo-cancel")).click();
  });

  await t.test("closing the app leaves the whole project in the .zerons file alone", async () => {
    const heads = [1, 2].map((id) => storeHead(id));
    // Quit as a user does (Ctrl+Q): the app checkpoints the project file and exits. (A
    // WebDriver "close window" ends the process without the app's own close events.)
    await driver.actions().keyDown(Key.CONTROL).sendKeys("q").keyUp(Key.CONTROL).perform().catch(() => {});
    await new Promise((r) => setTimeout(r, 3_000));
    await session.driver.quit().catch(() => {});
    session.driver = null;
    const copyDir = fs.mkdtempSync(path.join(WORK, "copy-"));
    const copy = path.join(copyDir, "moved.zerons");
    fs.copyFileSync(PROJECT, copy);
    for (const [i, id] of [1, 2].entries()) {
      const h = storeHead(id, copy);
      assert.equal(h.id, heads[i].id, `song ${id}: the copy holds the last revision`);
      assert.deepEqual(h.sources, heads[i].sources, `song ${id}: and every beat's source`);
    }
    const adoptions = storeQuery("SELECT COUNT(*) FROM adoptions", copy)[0][0];
    assert.ok(adoptions >= 2, "the adoptions and the roll-back are in the copy");
  });
});
