// One app session per end-to-end test file (ui/e2e/, ui/e2e-installed/): a WebDriver session
// with the app named by ZERONS_APP through tauri-driver on port $E2E_PORT (default 4444), screenshots into
// SCREENSHOT_DIR, and a shortcut for scripts run in the page. Not a test file itself.
//
// The session is opened by `await session.open()` as the first step of a test, not in a
// root-level `before` hook: under Node 20 a file's own root `before` hook could run before
// an async one registered here had finished, and every test then saw a null driver.
import { after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Builder, Origin } from "selenium-webdriver";

export function appSession() {
  const app = process.env.ZERONS_APP;
  const shots = process.env.SCREENSHOT_DIR;
  const session = { driver: null };
  session.open = async () => {
    assert.ok(app && fs.existsSync(app), `ZERONS_APP=${app} does not exist`);
    fs.mkdirSync(shots, { recursive: true });
    session.driver = await new Builder()
      .usingServer(`http://127.0.0.1:${process.env.E2E_PORT ?? 4444}/`)
      .withCapabilities({ browserName: "wry", "tauri:options": { application: app } })
      .build();
    return session.driver;
  };
  after(async () => {
    await session.driver?.quit();
  });
  session.shot = async (name) => {
    fs.writeFileSync(path.join(shots, `${name}.png`), await session.driver.takeScreenshot(), "base64");
  };
  session.js = (script, ...args) => session.driver.executeScript(script, ...args);
  /** Zooms to 4 s around beat `k`, drags it `dx` pixels with the mouse and waits until the app
   * is idle; returns the zoom (px/s). */
  session.dragBeat = async (k, dx) => {
    const driver = session.driver;
    await session.js(
      `const tl = window.__zerons.timeline; const t = tl.beats.times[arguments[0]];
       tl.setView({ startS: t - 2, pxPerS: tl.view.widthPx / 4, widthPx: tl.view.widthPx });`,
      k,
    );
    await driver.sleep(200);
    const { x, y, pxPerS } = await session.js(
      `const tl = window.__zerons.timeline; const r = tl.canvas.getBoundingClientRect();
       return { x: Math.round(tl.beatClientX(arguments[0])), y: Math.round(r.top + 120), pxPerS: tl.view.pxPerS };`,
      k,
    );
    await driver
      .actions({ async: true })
      .move({ origin: Origin.VIEWPORT, x, y })
      .press()
      .move({ origin: Origin.VIEWPORT, x: x + 10, y, duration: 100 })
      .move({ origin: Origin.VIEWPORT, x: x + dx, y, duration: 150 })
      .release()
      .perform();
    assert.equal(await driver.executeAsyncScript("const done = arguments[0]; window.__zerons.idle().then(done);"), true);
    return pxPerS;
  };
  return session;
}
