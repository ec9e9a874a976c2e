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
import { Builder } from "selenium-webdriver";

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
  return session;
}
