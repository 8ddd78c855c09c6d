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
  plaza = await startPlaza(["--room-max-members", "2"]);
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

/** Opens the demo as `name` in `room` and waits until it is in it. */
async function openPage(name, room, errors) {
  const page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(`${name}: ${e.message}`));
  await page.goto(`${plaza.http}/?room=${room}&name=${name}`);
  await page.waitForFunction((r) => document.querySelector("#room").textContent === r, room);
  return page;
}

test("accessibility: labels, live regions, visible focus, contrast, Enter on buttons", async () => {
  const errors = [];
  const page = await openPage("ann", "a11y", errors);
  assert.equal(await page.getByLabel("Chat message").getAttribute("id"), "chat-input");
  assert.equal(await page.getByLabel("Room to join").getAttribute("id"), "room-input");
  assert.equal(await page.getAttribute("#status", "role"), "status");
  assert.equal(await page.getAttribute("#status", "aria-live"), "polite");
  assert.equal(await page.getAttribute("#chat-log", "role"), "log");

  // Input borders against what they sit on: 3:1 at least (WCAG 1.4.11).
  const ratios = await page.evaluate(() => {
    const lum = (c) => {
      const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map((v) => {
        const x = Number(v) / 255;
        return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a, b) => {
      const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };
    const bg = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = getComputedStyle(e).backgroundColor;
        if (!/rgba\(.*, 0\)$/.test(c) && c !== "transparent") return c;
      }
      return "rgb(0, 0, 0)";
    };
    return [...document.querySelectorAll("input")].flatMap((i) => {
      const border = getComputedStyle(i).borderTopColor;
      return [ratio(border, bg(i)), ratio(border, bg(i.parentElement))];
    });
  });
  assert.equal(ratios.length, 4);
  for (const r of ratios) assert.ok(r >= 3, `border contrast ${r.toFixed(2)}:1`);

  // The focused room view shows it.
  await page.focus("#view");
  const focus = await page.$eval("#view", (c) => {
    const s = getComputedStyle(c);
    return [s.outlineStyle, parseFloat(s.outlineWidth)];
  });
  assert.notEqual(focus[0], "none");
  assert.ok(focus[1] >= 2, `outline ${focus[1]}px`);
  // Enter on the view starts a chat line.
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "chat-input");

  // Enter on a focused button presses that button.
  await page.fill("#chat-input", "sent with the button");
  await page.focus("#chat-form button");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() =>
    [...document.querySelectorAll("#chat-log li")].some((li) => li.textContent === "ann: sent with the button"),
  );
  await page.fill("#room-input", "a11y-two");
  await page.focus("#room-form button");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#room").textContent === "a11y-two");
  assert.deepEqual(errors, []);
  await page.close();
});

test("at a display scale of 1.25 the canvas is not reallocated every frame", async () => {
  const page = await openPage("scaled", "scale-room", []);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Emulation.setDeviceMetricsOverride", {
    width: 1002, height: 643, deviceScaleFactor: 1.25, mobile: false,
  });
  await page.waitForTimeout(300); // the resize itself reallocates once
  const before = await page.evaluate(() => window.__plaza.canvasResizes());
  await page.waitForTimeout(1000); // some 60 frames
  const after = await page.evaluate(() => window.__plaza.canvasResizes());
  assert.equal(after - before, 0, `${after - before} reallocations in a second`);
  const [w, dpr] = await page.$eval("#view", (c) => [c.width, window.devicePixelRatio]);
  assert.equal(dpr, 1.25);
  assert.ok(Number.isInteger(w) && w > 0);
  await page.close();
});

test("a refused room is told once", async () => {
  const errors = [];
  const a = await openPage("full-a", "full-room", errors);
  const b = await openPage("full-b", "full-room", errors);
  const c = await browser.newPage();
  await c.goto(`${plaza.http}/?room=full-room&name=full-c`);
  await c.waitForFunction(() => document.querySelector("#status").dataset.status === "open");
  await c.waitForFunction(() => document.querySelector("#chat-log").textContent.includes("room_full"));
  await c.waitForTimeout(300);
  const lines = await c.$$eval("#chat-log li", (lis) => lis.map((li) => li.textContent));
  assert.deepEqual(lines.filter((l) => /full-room|room_full|room is full/.test(l)), [
    "cannot join full-room: room_full (5): room is full",
  ]);
  // A name the client itself refuses: once too.
  await c.fill("#room-input", "bad name!");
  await c.press("#room-input", "Enter");
  await c.waitForFunction(() => document.querySelector("#chat-log").textContent.includes("bad name!"));
  await c.waitForTimeout(300);
  const bad = await c.$$eval("#chat-log li", (lis) => lis.map((li) => li.textContent).filter((t) => /bad name|invalid_argument/.test(t)));
  assert.equal(bad.length, 1, bad.join("\n"));
  assert.deepEqual(errors, []);
  for (const p of [a, b, c]) await p.close();
});

test("a reload resumes the tab's session; a closed tab leaves at once", async () => {
  const errors = [];
  const stay = await openPage("stayer", "reload-room", errors);
  const mover = await openPage("reloader", "reload-room", errors);
  await stay.waitForFunction(() => document.querySelectorAll("#members li").length === 2);
  const id = await mover.textContent("#my-id");
  // Watch the other page's member list through the reload.
  await stay.evaluate(() => {
    window.__most = 0;
    setInterval(() => {
      const n = [...document.querySelectorAll("#members li")].filter((li) => li.textContent === "reloader").length;
      window.__most = Math.max(window.__most, n);
    }, 20);
  });
  await mover.reload();
  await mover.waitForFunction(() => document.querySelector("#room").textContent === "reload-room");
  await mover.waitForFunction(() => document.querySelectorAll("#members li").length === 2);
  assert.equal(await mover.textContent("#my-id"), id, "the same session: the same id");
  await stay.waitForFunction(() => document.querySelectorAll("#members li").length === 2);
  assert.equal(await stay.evaluate(() => window.__most), 1, "never two of it");
  // Closing the tab: the LEAVE of pagehide, not the 30 s grace period.
  const t0 = Date.now();
  await mover.close({ runBeforeUnload: true });
  await stay.waitForFunction(() => document.querySelectorAll("#members li").length === 1, null, { timeout: 5000 });
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(errors, []);
  await stay.close();
});
