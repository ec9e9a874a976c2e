// Browser tests of what is done to a song as a whole (mocked IPC, headless Chromium): removing
// it from the project, importing a beat file as its beats, relinking its file, and a file that
// goes away while the app runs. Run with the others: npm run build && npm run test:browser
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { layoutProblems, openPage, shots, useBrowser, waitForSong } from "./harness.mjs";

useBrowser();

const calls = (page, cmd) => page.evaluate((c) => window.__MOCK_CALLS__.filter((x) => x === c).length, cmd);

/** The question dialog is open, whole, inside the window. */
async function askShown(page) {
  await page.waitForSelector("#ask-modal:not(.hidden)");
  const fit = await page.evaluate(() => {
    const d = document.querySelector("#ask-modal .dialog").getBoundingClientRect();
    const buttons = [...document.querySelectorAll("#ask-modal button")].map((b) => b.getBoundingClientRect());
    return { d: [d.left, d.top, d.right, d.bottom], W: window.innerWidth, H: window.innerHeight, inside: buttons.every((b) => b.left >= d.left && b.right <= d.right && b.bottom <= d.bottom) };
  });
  assert.ok(fit.d[0] >= 0 && fit.d[1] >= 0 && fit.d[2] <= fit.W && fit.d[3] <= fit.H && fit.inside, JSON.stringify(fit));
}

test("removing a song asks in the app's dialog: Cancel and Escape keep it, Remove removes it and opens another", async () => {
  const { page, errors } = await openPage("window.__MOCK_TWO_SONGS__ = true;", { width: 1280, height: 800 });
  await waitForSong(page, errors);
  await page.waitForFunction(() => window.__zerons.transport.trackId === 1);
  await page.locator("#timeline").focus();
  await page.keyboard.press(" ");
  await page.waitForFunction(() => window.__zerons.transport.state?.playing === true);
  // The × is hidden until the song is hovered or focused; the keyboard reaches it.
  const x1 = page.locator("#tracks li[data-track='2'] button.remove");
  assert.equal(await x1.evaluate((b) => getComputedStyle(b).opacity), "0");
  await page.locator("#tracks li[data-track='2']").hover();
  assert.equal(await x1.evaluate((b) => getComputedStyle(b).opacity), "1");
  assert.equal(await x1.getAttribute("aria-label"), "Remove second_song.flac from the project");
  const remove1 = page.locator("#tracks li[data-track='1'] button.remove");
  await remove1.focus();
  await page.keyboard.press("Enter");
  await askShown(page);
  assert.equal(await page.locator("#ask-title").textContent(), "Remove the song?");
  assert.equal(
    await page.locator("#ask-message").textContent(),
    "Remove «demo_groove.flac» from the project? Its beats and their history go with it; the audio file stays where it is.",
  );
  assert.equal(await page.locator("#ask-yes").textContent(), "Remove");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "ask-no", "the keyboard starts on Cancel");
  await page.screenshot({ path: path.join(shots, "mock-30-remove-ask-1280x800.png") });
  // While it asks, the editor's keys do nothing: Delete does not delete the selected beat.
  const n = await page.evaluate(() => window.__zerons.beatTimes().length);
  await page.evaluate(() => { window.__zerons.timeline.selected = new Set([0]); });
  await page.keyboard.press("Delete");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "ask-yes");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "ask-no", "Tab stays in the dialog");
  await page.keyboard.press("Escape");
  await page.waitForSelector("#ask-modal.hidden", { state: "attached" });
  assert.equal(await page.evaluate(() => window.__zerons.beatTimes().length), n);
  assert.equal(await calls(page, "remove_track"), 0);
  // Cancel keeps it too.
  await page.locator("#tracks li[data-track='1']").hover();
  await remove1.click();
  await askShown(page);
  await page.locator("#ask-no").click();
  await page.waitForSelector("#ask-modal.hidden", { state: "attached" });
  assert.equal(await calls(page, "remove_track"), 0);
  assert.equal(await page.locator("#tracks li").count(), 2);
  // Remove: the open (playing) song goes, the first one left opens, nothing plays.
  await page.locator("#tracks li[data-track='1']").hover();
  await remove1.click();
  await askShown(page);
  await page.locator("#ask-yes").click();
  await page.waitForFunction(() => document.querySelectorAll("#tracks li").length === 1);
  assert.deepEqual(await page.evaluate(() => window.__MOCK_REMOVED__), [1]);
  await page.waitForFunction(() => window.__zerons.state.trackId === 2 && window.__zerons.transport.trackId === 2);
  assert.equal(await page.locator("#tracks li.active").getAttribute("data-track"), "2");
  assert.equal(await page.locator("#track-name").textContent(), "second_song.flac");
  assert.equal(await page.evaluate(() => window.__zerons.transport.state?.playing), false);
  assert.equal(await page.evaluate(() => window.__zerons.state.baseRev.has(1)), false);
  assert.match(await page.locator("#toasts .toast.info").last().textContent(), /Removed demo_groove\.flac from the project\. The audio file is still at \/music\/demo_groove\.flac/);
  assert.equal(await page.locator("#track-count").textContent(), "1");
  // The last song, in the smallest window: the dialog fits; afterwards the empty state.
  await page.setViewportSize({ width: 800, height: 500 });
  await page.locator("#tracks li[data-track='2'] button.remove").focus();
  await page.keyboard.press("Enter");
  await askShown(page);
  await page.screenshot({ path: path.join(shots, "mock-31-remove-ask-800x500.png") });
  await page.locator("#ask-yes").click();
  await page.waitForFunction(() => document.querySelectorAll("#tracks li").length === 0);
  await page.waitForSelector("#no-track:not(.hidden)");
  await page.waitForSelector("#side-empty:not(.hidden)");
  assert.equal(await page.evaluate(() => window.__zerons.state.trackId), null);
  assert.equal(await page.evaluate(() => window.__zerons.transport.trackId), null);
  assert.equal(await page.locator("#btn-import").isDisabled(), true);
  assert.equal(await page.locator("#btn-play").isDisabled(), true);
  assert.equal(await page.evaluate(() => document.body.classList.contains("has-track")), false);
  await page.screenshot({ path: path.join(shots, "mock-32-no-songs-800x500.png") });
  const errorToasts = await page.locator("#toasts .toast:not(.info)").count();
  assert.equal(errorToasts, 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test("Import beats…: the shown beats become the file's, unchecked; undo brings the old ones back; a bad file is toasted", async () => {
  const { page, errors } = await openPage("", { width: 1280, height: 800 });
  await waitForSong(page, errors);
  await page.waitForFunction(() => window.__zerons.transport.trackId === 1);
  assert.equal(await page.locator("#btn-import").isDisabled(), false);
  // An edit just before the import: the import waits for its commit (no conflict), then the
  // next edit is based on the imported revision.
  await page.evaluate(() => { window.__zerons.timeline.selected = new Set([5]); });
  await page.locator("#timeline").focus();
  await page.keyboard.press("ArrowRight");
  const edited = await page.evaluate(() => window.__zerons.beatTimes());
  await page.locator("#btn-import").click();
  await page.evaluate(() => window.__zerons.idle());
  assert.ok((await page.evaluate(() => window.__MOCK_PICKS__)).includes("beat_file"));
  assert.equal(await page.evaluate(() => window.__MOCK_IMPORTS__), 1);
  assert.equal(await page.evaluate(() => window.__MOCK_CONFLICTS__ ?? 0), 0);
  const shown = await page.evaluate(() => window.__zerons.beatTimes());
  assert.equal(shown.length, 200);
  assert.ok(Math.abs(shown[0] - 0.625) < 1e-9, `first beat at ${shown[0]}`);
  const head = await page.evaluate(() => window.__MOCK_HEAD__(1));
  assert.ok(head.sources.every((s) => s === "imported"));
  assert.equal(await page.evaluate(() => window.__zerons.state.baseRev.get(1)), head.id);
  assert.equal(await page.evaluate(() => window.__zerons.timeline.selected.size), 0, "the selection was of the old beats");
  assert.match(await page.locator("#status-rev").textContent(), /import · imported demo_groove\.csv/);
  assert.equal(await page.locator("#status-checked").textContent(), "", "imported beats are not checked");
  assert.equal(await page.locator("#tracks li[data-track='1'] .badge").textContent(), "import");
  assert.match(
    await page.locator("#toasts .toast.info").last().textContent(),
    /Imported 200 beats from demo_groove\.csv — check them \(K\) before learning from them/,
  );
  await page.screenshot({ path: path.join(shots, "mock-33-imported-1280x800.png") });
  // An edit on the imported beats commits on top of them.
  await page.evaluate(() => { window.__zerons.timeline.selected = new Set([3]); });
  await page.locator("#timeline").focus();
  await page.keyboard.press("ArrowLeft");
  await page.evaluate(() => window.__zerons.idle());
  assert.equal(await page.evaluate(() => window.__MOCK_CONFLICTS__ ?? 0), 0);
  assert.equal((await page.evaluate(() => window.__MOCK_HEAD__(1))).sources.filter((s) => s === "user").length, 1);
  // Undo the edit, then the import: the beats from before it are back.
  await page.keyboard.press("Control+z");
  await page.waitForFunction(() => window.__zerons.state.tracks[0].head.author === "import");
  await page.keyboard.press("Control+z");
  await page.waitForFunction(() => window.__zerons.beatTimes().length !== 200);
  assert.deepEqual(await page.evaluate(() => window.__zerons.beatTimes()), edited);
  // A file the importers cannot read: its error (file and line) is toasted, nothing changes.
  await page.evaluate(() => { window.__MOCK_PICK_BEATS__ = ["/music/beats/bad.csv"]; });
  await page.locator("#btn-import").click();
  await page.waitForSelector("#toasts .toast[data-code=parse]");
  const toast = await page.locator("#toasts .toast[data-code=parse]").textContent();
  assert.match(toast, /bad\.csv:3/);
  assert.match(toast, /Fix the file at the line shown/);
  assert.equal(await page.evaluate(() => window.__MOCK_IMPORTS__), 1);
  assert.deepEqual(await page.evaluate(() => window.__zerons.beatTimes()), edited);
  // A dismissed dialog does nothing.
  await page.evaluate(() => { window.__MOCK_PICK_BEATS__ = null; });
  const importCalls = await calls(page, "import_beat_file");
  await page.locator("#btn-import").click();
  await page.evaluate(() => window.__zerons.idle());
  assert.equal(await calls(page, "import_beat_file"), importCalls);
  await page.setViewportSize({ width: 800, height: 500 });
  await page.waitForTimeout(100);
  assert.deepEqual(await layoutProblems(page), []);
  assert.equal(await page.locator("#btn-import").textContent(), "Import beats…");
  assert.equal(await page.locator("#btn-import").innerText(), "Import…");
  assert.deepEqual(errors, []);
  await page.close();
});

test("relink: a file of another length asks first and is relinked only when confirmed; a file that is not audio is refused", async () => {
  const { page, errors } = await openPage("window.__MOCK_MISSING__ = true;", { width: 1280, height: 800 });
  await waitForSong(page, errors);
  const badge = page.locator("#tracks li[data-track='1'] .badge.relink");
  const relinks = () => page.evaluate(() => window.__MOCK_RELINKS__ ?? []);
  // Not audio: the decoder's refusal is toasted, the song still needs its file.
  await page.evaluate(() => { window.__MOCK_PICK_RELINK__ = ["/music/notes.txt"]; });
  await badge.click();
  await page.waitForSelector("#toasts .toast[data-code=unsupported_audio]");
  assert.deepEqual(await page.evaluate(() => window.__MOCK_PICKS__), ["relink"], "the relink dialog, not Add songs");
  assert.equal(await page.locator("#ask-modal").isHidden(), true);
  assert.equal(await badge.count(), 1);
  assert.equal(await page.evaluate(() => window.__zerons.state.tracks[0].path), "/music/demo_groove.flac");
  // Another length: asked, with the durations and the hint.
  await page.evaluate(() => { window.__MOCK_PICK_RELINK__ = ["/music/demo_groove_radio_edit.flac"]; });
  await badge.click();
  await askShown(page);
  assert.equal(await page.locator("#ask-title").textContent(), "Relink anyway?");
  assert.equal(await page.locator("#ask-message").textContent(), "demo_groove_radio_edit.flac lasts 2:41, and the song lasted 3:00 when it was added");
  assert.match(await page.locator("#ask-hint").textContent(), /another recording or an edited version/);
  assert.equal(await page.locator("#ask-yes").textContent(), "Relink anyway");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "ask-no", "Enter straight away changes nothing");
  await page.screenshot({ path: path.join(shots, "mock-34-relink-ask-1280x800.png") });
  await page.setViewportSize({ width: 800, height: 500 });
  await askShown(page);
  // The badge is whole in the narrow list (its own line), not cut at the list's edge.
  const fits = await badge.evaluate((b) => {
    const r = b.getBoundingClientRect(), li = b.closest("li").getBoundingClientRect();
    return r.right <= li.right - 4 && r.bottom <= li.bottom && b.scrollWidth <= b.clientWidth;
  });
  assert.ok(fits, "relink badge cut");
  await page.screenshot({ path: path.join(shots, "mock-35-relink-ask-800x500.png") });
  await page.locator("#ask-no").click();
  await page.waitForSelector("#ask-modal.hidden", { state: "attached" });
  assert.deepEqual((await relinks()).map((r) => r.force), [false, false]);
  assert.equal(await badge.count(), 1, "cancelled: still missing");
  // Confirmed: called again with force, and the song points at the file.
  await badge.click();
  await askShown(page);
  await page.locator("#ask-yes").click();
  await page.waitForFunction(() => !document.querySelector("#tracks .badge.relink"));
  assert.deepEqual((await relinks()).map((r) => r.force), [false, false, false, true]);
  assert.equal(await page.evaluate(() => window.__zerons.state.tracks[0].path), "/music/demo_groove_radio_edit.flac");
  assert.match(await page.locator("#toasts .toast.info").last().textContent(), /now points at \/music\/demo_groove_radio_edit\.flac/);
  // The open song was reloaded from its new file.
  await page.waitForFunction(() => window.__zerons.transport.trackId === 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test("a song's file going away while the app runs: the toast says so and how to fix it, and the song gets its relink badge", async () => {
  const { page, errors } = await openPage("window.__MOCK_TWO_SONGS__ = true;", { width: 1280, height: 800 });
  await waitForSong(page, errors);
  assert.equal(await page.locator("#tracks .badge.relink").count(), 0);
  await page.evaluate(() => window.__MOCK_LOSE_FILE__(2));
  await page.locator("#tracks li[data-track='2']").click();
  await page.waitForSelector("#toasts .toast[data-code=missing_file]");
  const toast = await page.locator("#toasts .toast[data-code=missing_file]").textContent();
  assert.match(toast, /\/music\/second_song\.flac is missing: it was moved, renamed or deleted/);
  assert.match(toast, /Put the file back, or find it with the song's badge in the list \(relink\)/);
  const badge = page.locator("#tracks li[data-track='2'] .badge.relink");
  await badge.waitFor();
  assert.equal(await badge.textContent(), "missing · relink…");
  assert.equal(await page.locator("#tracks li[data-track='1'] .badge.relink").count(), 0, "only the song whose file is gone");
  assert.ok((await calls(page, "track_state")) >= 1);
  await page.screenshot({ path: path.join(shots, "mock-36-missing-file-1280x800.png") });
  // Its beats still edit; the badge stays (a commit's answer does not check the file).
  await page.evaluate(() => { window.__zerons.timeline.selected = new Set([2]); });
  await page.locator("#timeline").focus();
  await page.keyboard.press("ArrowRight");
  await page.evaluate(() => window.__zerons.idle());
  assert.equal(await badge.count(), 1);
  // The badge relinks it.
  await page.evaluate(() => { window.__MOCK_PICK_RELINK__ = ["/music/found/second_song.flac"]; });
  await badge.click();
  await page.waitForFunction(() => !document.querySelector("#tracks .badge.relink"));
  await page.waitForFunction(() => window.__zerons.transport.trackId === 2);
  assert.deepEqual(errors, []);
  await page.close();
});
