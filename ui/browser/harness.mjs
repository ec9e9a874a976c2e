// Shared by the browser tests (*.test.mjs here): serves ui/dist, starts headless Chromium,
// opens the app over the mocked IPC (mock-ipc.js), and checks the layout.
import { after, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, "..", "dist");
export const shots = process.env.SCREENSHOT_DIR ?? path.join(here, "..", "..", "target", "ui-screenshots");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png" };

let server;
let browser;
let base;

/** Registers the server and the browser for the calling test file. */
export function useBrowser() {
  before(async () => {
    assert.ok(fs.existsSync(path.join(dist, "index.html")), "run `npm run build` first");
    server = http.createServer((req, res) => {
      const p = path.join(dist, decodeURIComponent(new URL(req.url, "http://x").pathname));
      const file = fs.existsSync(p) && fs.statSync(p).isFile() ? p : path.join(dist, "index.html");
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
      fs.createReadStream(file).pipe(res);
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${server.address().port}/`;
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu"],
    });
    fs.mkdirSync(shots, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    server?.close();
  });
}

export async function openPage(init = "", viewport = { width: 1280, height: 760 }) {
  const page = await browser.newPage({ viewport });
  const mocks = fs
    .readFileSync(path.join(here, "..", "node_modules", "@tauri-apps", "api", "mocks.js"), "utf8")
    .replace(/export \{[^}]*\};?\s*$/, "window.__TAURI_MOCKS__ = { mockIPC, clearMocks, mockWindows };");
  await page.addInitScript({ content: mocks });
  if (init) await page.addInitScript({ content: init });
  await page.addInitScript({ path: path.join(here, "mock-ipc.js") });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => process.env.UI_TEST_VERBOSE && console.log("[page]", m.type(), m.text()));
  await page.goto(base);
  return { page, errors };
}

export async function waitForSong(page, errors) {
  await page.waitForFunction(() => window.__zerons?.beatTimes().length > 100, null, { timeout: 10_000 }).catch((e) => {
    throw new Error(`${e.message}; page errors: ${errors.join(" | ")}`);
  });
}

/** Every toolbar, transport and top-bar control: inside the window, not clipped, one toolbar row. */
export async function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const W = window.innerWidth;
    const H = window.innerHeight;
    const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
    const doc = document.documentElement;
    if (doc.scrollWidth > W || doc.scrollHeight > H) problems.push(`page scrolls: ${doc.scrollWidth}×${doc.scrollHeight}`);
    for (const sel of [".topbar", ".toolbar", ".tools", ".transport", ".statusbar", ".actions"]) {
      const el = document.querySelector(sel);
      if (el.scrollWidth > el.clientWidth + 1) problems.push(`${sel} overflows: ${el.scrollWidth} > ${el.clientWidth}`);
    }
    const controls = document.querySelectorAll(
      ".actions button, .tools > button, .tools .menu-anchor > button, .tools label, .transport > *:not(.grow):not(#output-info), .statusbar .key-hint",
    );
    const rows = new Set();
    for (const el of controls) {
      if (el.classList.contains("hidden") || getComputedStyle(el).display === "none") continue;
      const r = el.getBoundingClientRect();
      const name = el.id || el.textContent.trim().slice(0, 20);
      if (!visible(el) || r.width < 4 || r.height < 4) problems.push(`${name} invisible (${r.width}×${r.height})`);
      if (r.left < 0 || r.right > W + 0.5 || r.top < 0 || r.bottom > H + 0.5) problems.push(`${name} outside the window: ${JSON.stringify(r)}`);
      // Not clipped by an ancestor that hides its overflow.
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const st = getComputedStyle(p);
        if (st.overflow === "visible" && st.overflowX === "visible") continue;
        const q = p.getBoundingClientRect();
        if (r.left < q.left - 0.5 || r.right > q.right + 0.5 || r.top < q.top - 0.5 || r.bottom > q.bottom + 0.5) problems.push(`${name} clipped by ${p.className || p.tagName}`);
      }
      if (el.closest(".tools")) rows.add(Math.round(r.top + r.height / 2));
    }
    const tops = [...rows];
    if (Math.max(...tops) - Math.min(...tops) > 4) problems.push(`toolbar on several rows: centres at ${tops.join(", ")}`);
    return problems;
  });
}
