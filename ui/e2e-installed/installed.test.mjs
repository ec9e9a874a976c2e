// The installed package, as a user meets it: the app from /usr/bin, launched with the source
// tree hidden (scripts/package_test.sh mounts an empty folder over it), tracks the demo song
// with the shipped network found under /usr/share/zerons, and starts a fine-tuning run.
// Provided by scripts/package_test.sh:
//   ZERONS_APP      a launcher of /usr/bin/zerons-studio with the source tree hidden
//   E2E_WORK        a temp dir (the project file); SCREENSHOT_DIR where screenshots go
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { By, until } from "selenium-webdriver";
import { appSession } from "../e2e/session.mjs";

const PROJECT = path.join(process.env.E2E_WORK, "installed.zerons");

const session = appSession();
let driver;
const { shot, js, dragBeat } = session;

test("the installed app tracks with the shipped network and starts fine-tuning", { timeout: 900_000 }, async (t) => {
  driver = await session.open();
  await t.test("a new project, the demo song analysed by the network", async () => {
    await driver.wait(until.elementLocated(By.id("welcome")), 30_000);
    await driver.findElement(By.id("btn-new")).click();
    await driver.wait(async () => (await js("return window.__zerons.state.project?.path ?? ''")) === PROJECT, 30_000);
    await driver.findElement(By.id("btn-add")).click();
    await driver.wait(async () => (await js("return window.__zerons.beatTimes().length")) > 10, 300_000);
    const failed = await js(`return [...document.querySelectorAll("#jobs li.failed")].map((li) => li.textContent)`);
    assert.deepEqual(failed, []);
    // The network's combined curve and both branches: not the spectral flux; and the
    // installed bar classifier's per-beat curve, which numbered the bars (issue 21).
    const kinds = await js("return window.__zerons.state.timeline.curves.map((c) => c.kind)");
    assert.deepEqual(kinds, ["max", "anchor", "postve", "downbeat"]);
    const downbeats = await js("const p = window.__zerons.timeline.beats.positions; return p ? Array.from(p).filter((x) => x === 1).length : 0");
    assert.ok(downbeats >= 10, `${downbeats} downbeats`);
    await shot("installed-01-tracked");
  });

  await t.test("the Learn panel names the shipped model and a device; fine-tuning starts", async () => {
    // One beat corrected (snap off, moved by 45 px): with every beat as the shipped model
    // placed it there would be nothing to learn (DEVSET rule 31).
    await driver.findElement(By.id("snap")).click();
    const pxPerS = await dragBeat(8, 45);
    assert.ok(45 / pxPerS > 0.07, `moved by ${45 / pxPerS} s`);
    await driver.findElement(By.id("btn-learn")).click();
    await driver.wait(until.elementIsVisible(driver.findElement(By.id("learn-modal"))), 5_000);
    await driver.wait(until.elementLocated(By.css("#learn-songs li[data-track='1'] input")), 30_000);
    const panel = await driver.findElement(By.id("learn-modal")).getText();
    assert.match(panel, /Shipped model/);
    assert.doesNotMatch(panel, /missing/i);
    // Only one beat was set by the user: the song can be learned from once "every beat is
    // right" says so.
    await driver.findElement(By.id("learn-whole")).click();
    await driver.wait(async () => !(await js(`return document.querySelector("#learn-songs li[data-track='1'] input").disabled`)), 5_000);
    if (!(await js(`return document.querySelector("#learn-songs li[data-track='1'] input").checked`))) {
      await js(`document.querySelector("#learn-songs li[data-track='1'] input").click()`);
    }
    await js("document.getElementById('learn-start').click()");
    await driver.wait(async () => (await js("return window.__zerons.learn.points.length")) >= 1, 300_000);
    await shot("installed-02-learning");
    // One song trains in seconds: it may have finished before the first poll.
    if (await js("return window.__zerons.learn.running")) {
      await js("document.getElementById('learn-cancel').click()");
    }
    await driver.wait(async () => (await js("return window.__zerons.learn.running")) === false, 120_000);
  });
});
