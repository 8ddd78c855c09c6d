// The demo page plaza serves at / works when --allowed-origins lists other
// origins only: its Origin is the server's own (same host and port as the
// Host it asked), which plaza lets through. A page of another origin (here
// another port of the same machine) is still refused. Real chromium,
// headless, as in browser.test.mjs.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { startPlaza } from "./helpers/plaza.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let plaza, browser, profile, other;
before(async () => {
  plaza = await startPlaza(["--allowed-origins", "https://app.example"]);
  profile = mkdtempSync(path.join(os.tmpdir(), "plaza-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
  });
  // Another origin: a page on another port that opens plaza's socket.
  other = http.createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(`<script>
      const ws = new WebSocket("ws://127.0.0.1:${plaza.port}/ws", "plaza.v1");
      ws.onopen = () => (document.title = "open");
      ws.onclose = () => (document.title = document.title || "refused");
    </script>`);
  });
  await new Promise((r) => other.listen(0, "127.0.0.1", r));
});
after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  other?.close();
  if (plaza) assert.equal(await plaza.stop(), 0);
});

for (const host of ["127.0.0.1", "localhost"]) {
  test(`plaza's own page at http://${host}:PORT/ connects with origins restricted`, async () => {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`http://${host}:${plaza.port}/?room=own-origin&name=dana`);
    await page.waitForFunction(
      () => document.querySelector("#status")?.getAttribute("data-status") === "open",
    );
    await page.waitForFunction(() => document.querySelector("#room").textContent === "own-origin");
    assert.deepEqual(errors, []);
    await page.close();
  });
}

test("a page of another origin is refused", async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${other.address().port}/`);
  await page.waitForFunction(() => document.title !== "");
  assert.equal(await page.title(), "refused");
  await page.close();
});
