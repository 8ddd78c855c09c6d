// The demo page in a real browser: Debian's chromium, headless, driven by
// playwright-core. Two pages join one room; one moves and chats; the other
// must show both avatars, the chat line and the mover's new position.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { ROOT, startPlaza } from "./helpers/plaza.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const OUT = path.join(ROOT, "build", "test-output");
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let plaza, browser, profile;
before(async () => {
  plaza = await startPlaza();
  profile = mkdtempSync(path.join(os.tmpdir(), "plaza-chromium-"));
  // A persistent context is how playwright takes an explicit, fresh
  // --user-data-dir.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1000, height: 640 },
  });
});
after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (plaza) assert.equal(await plaza.stop(), 0);
});

const memberNames = (page) =>
  page.$$eval("#members li", (lis) => lis.map((li) => li.textContent));
const avatars = (page) => page.evaluate(() => window.__plaza.avatars());

test("two pages in one room see each other move and chat", async () => {
  const errors = [];
  const open = async (name) => {
    const page = await browser.newPage();
    page.on("pageerror", (e) => errors.push(`${name}: ${e.message}`));
    await page.goto(`${plaza.http}/?room=demo-test&name=${name}`);
    return page;
  };
  const alice = await open("alice");
  const bob = await open("bob");

  for (const page of [alice, bob]) {
    await page.waitForFunction(
      () => document.querySelectorAll("#members li").length === 2,
    );
    assert.deepEqual(await memberNames(page), ["alice", "bob"]);
    assert.equal(await page.textContent("#room"), "demo-test");
    assert.equal(await page.getAttribute("#status", "data-status"), "open");
    assert.match(await page.textContent("#my-id"), /^\d+$/);
  }
  assert.match(bob.url(), /room=demo-test/);

  // alice walks right (D) for a while, then says hello.
  await alice.focus("#view");
  await alice.keyboard.down("KeyD");
  await alice.waitForTimeout(700);
  await alice.keyboard.up("KeyD");
  await alice.fill("#chat-input", "hello from alice");
  await alice.press("#chat-input", "Enter");

  await bob.waitForFunction(() =>
    [...document.querySelectorAll("#chat-log li")].some(
      (li) => li.textContent === "alice: hello from alice",
    ),
  );
  // bob's view: alice glided to the right (8 units/s for ~0.7 s), bob
  // stayed at the origin; both carry their names.
  await bob.waitForFunction(() => {
    const a = window.__plaza.avatars().find((x) => x.name === "alice");
    return a && a.x > 3;
  });
  const seen = await avatars(bob);
  assert.deepEqual(seen.map((a) => a.name).sort(), ["alice", "bob"]);
  const a = seen.find((x) => x.name === "alice");
  const b = seen.find((x) => x.name === "bob");
  assert.ok(a.x > 3 && a.x < 12, `alice at x=${a.x}`);
  assert.equal(a.z, 0);
  assert.equal(a.self, false);
  assert.deepEqual([b.x, b.z, b.self], [0, 0, true]);
  // and alice's own prediction agrees with what bob sees, once settled
  await bob.waitForTimeout(300);
  const mine = (await avatars(alice)).find((x) => x.self);
  const theirs = (await avatars(bob)).find((x) => x.name === "alice");
  assert.ok(Math.abs(mine.x - theirs.x) < 1e-3, `${mine.x} vs ${theirs.x}`);

  await bob.waitForFunction(() => /ms$/.test(document.querySelector("#rtt").textContent));
  mkdirSync(OUT, { recursive: true });
  await bob.screenshot({ path: path.join(OUT, "demo.png") });
  assert.deepEqual(errors, []);
});

test("the room picker moves a page to another room", async () => {
  const page = await browser.newPage();
  await page.goto(`${plaza.http}/?name=carol`);
  await page.waitForFunction(() => document.querySelector("#room").textContent === "lobby");
  await page.fill("#room-input", "elsewhere");
  await page.press("#room-input", "Enter");
  await page.waitForFunction(() => document.querySelector("#room").textContent === "elsewhere");
  assert.match(page.url(), /room=elsewhere/);
  assert.deepEqual(await memberNames(page), ["carol"]);
});
