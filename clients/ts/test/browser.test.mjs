// The demo page in a real browser: Debian's chromium, headless, driven by
// playwright-core. Two pages join one room; one moves and chats; the other
// must show both avatars, the chat line and the mover's new position. Two
// pages see each other's colour, emotes and who holds the seat; a page
// with a view radius dims a member that walked out of it; on a phone's
// screen the page fits and a finger moves the avatar.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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

  // Joiners spawn apart: where each stands before anyone walks.
  await bob.waitForFunction(() => window.__plaza.avatars().length === 2);
  await bob.waitForTimeout(300); // the spawn moves have landed
  const start = await avatars(bob);
  const a0 = start.find((x) => x.name === "alice");
  const b0 = start.find((x) => x.name === "bob");
  assert.ok(Math.hypot(a0.x - b0.x, a0.z - b0.z) >= 2.5, `spawned apart: ${JSON.stringify(start)}`);

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
  // stayed where he spawned; both carry their names.
  await bob.waitForFunction((x0) => {
    const a = window.__plaza.avatars().find((x) => x.name === "alice");
    return a && a.x > x0 + 3;
  }, a0.x);
  const seen = await avatars(bob);
  assert.deepEqual(seen.map((a) => a.name).sort(), ["alice", "bob"]);
  const a = seen.find((x) => x.name === "alice");
  const b = seen.find((x) => x.name === "bob");
  assert.ok(a.x - a0.x > 3 && a.x - a0.x < 12, `alice from x=${a0.x} to x=${a.x}`);
  assert.ok(Math.abs(a.z - a0.z) < 1e-3);
  assert.equal(a.self, false);
  assert.deepEqual([b.x, b.z, b.self], [b0.x, b0.z, true]);
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
    const fields = [...document.querySelectorAll("input:not([type=range])")].flatMap((i) => {
      const border = getComputedStyle(i).borderTopColor;
      return [ratio(border, bg(i)), ratio(border, bg(i.parentElement))];
    });
    // A slider has no border: its track and thumb are its accent colour.
    const slider = document.querySelector("#view-radius");
    return [...fields, ratio(getComputedStyle(slider).accentColor, bg(slider))];
  });
  assert.equal(ratios.length, 5);
  for (const r of ratios) assert.ok(r >= 3, `border contrast ${r.toFixed(2)}:1`);
  // The view radius slider: labelled, and told in words.
  assert.equal(await page.getByLabel("View radius").getAttribute("id"), "view-radius");
  assert.equal(await page.getAttribute("#view-radius", "aria-valuetext"), "whole room");

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

const logHas = (page, text) =>
  page.waitForFunction(
    (t) => [...document.querySelectorAll("#chat-log li")].some((li) => li.textContent === t),
    text,
  );

test("two pages see each other's colour, emotes and who holds the seat", async () => {
  const errors = [];
  const ann = await openPage("ann", "social", errors);
  const ben = await openPage("ben", "social", errors);
  for (const p of [ann, ben])
    await p.waitForFunction(() => window.__plaza.avatars().length === 2);

  // Colour: member state, seen by the other page and in its member list.
  await ann.click('button[aria-label="Colour green"]');
  await ben.waitForFunction(() => window.__plaza.avatars().find((a) => a.name === "ann")?.color === "#4cc27a");
  assert.equal(await ann.getAttribute('button[aria-label="Colour green"]', "aria-pressed"), "true");
  const dot = await ben.$eval('#members li:has-text("ann")', (li) => li.style.getPropertyValue("--c"));
  assert.equal(dot, "#4cc27a");
  await ann.waitForFunction(() => window.__plaza.avatars().find((a) => a.self)?.color === "#4cc27a");
  // A page that comes into the room later sees it too (ROOM carries it).
  await ben.fill("#room-input", "social-2");
  await ben.press("#room-input", "Enter");
  await ben.waitForFunction(() => document.querySelector("#room").textContent === "social-2");
  await ben.fill("#room-input", "social");
  await ben.press("#room-input", "Enter");
  await ben.waitForFunction(() => window.__plaza.avatars().find((a) => a.name === "ann")?.color === "#4cc27a");

  // Emotes: keys 1-3 and the buttons, as SIGNALs; over the avatar, and
  // in the log (read out by the live region).
  await ann.focus("#view");
  await ann.keyboard.press("1");
  // Over her own avatar at once (a signal does not come back to its sender),
  // and over hers on the other page.
  await ann.waitForFunction(() => window.__plaza.avatars().find((a) => a.self)?.emote === "wave");
  await ben.waitForFunction(() => window.__plaza.avatars().find((a) => a.name === "ann")?.emote === "wave");
  await logHas(ben, "ann waves");
  await ann.keyboard.press("3");
  await ben.waitForFunction(() => window.__plaza.avatars().find((a) => a.name === "ann")?.emote === "heart");
  await ben.click("button.emote >> text=2 dance");
  await ann.waitForFunction(() => window.__plaza.avatars().find((a) => a.name === "ben")?.emote === "dance");
  await logHas(ann, "ben dances");

  // The seat: room state. ann takes it; ben sees it taken and cannot.
  await ann.click("#seat-button");
  for (const p of [ann, ben])
    await p.waitForFunction(() => window.__plaza.seat()?.name === "ann");
  assert.equal(await ann.textContent("#seat-button"), "Leave the seat");
  assert.equal(await ben.textContent("#seat-button"), "Seat taken by ann");
  assert.equal(await ben.getAttribute("#seat-button", "aria-disabled"), "true");
  await ben.click("#seat-button", { force: true }); // pressed all the same
  await ben.waitForTimeout(200);
  assert.equal(await ann.evaluate(() => window.__plaza.seat()?.name), "ann", "a taken seat stays taken");
  await ann.click("#seat-button");
  for (const p of [ann, ben]) await p.waitForFunction(() => window.__plaza.seat() === null);
  await logHas(ben, "ann left the seat");

  // Both grab the free seat at the same moment: compare-and-set lets one.
  const logLength = (p) => p.$$eval("#chat-log li", (lis) => lis.length);
  const before = { ann: await logLength(ann), ben: await logLength(ben) };
  await Promise.all([ann, ben].map((p) => p.evaluate(() => document.querySelector("#seat-button").click())));
  for (const p of [ann, ben]) await p.waitForFunction(() => window.__plaza.seat() !== null);
  await ben.waitForTimeout(300);
  const holders = await Promise.all([ann, ben].map((p) => p.evaluate(() => window.__plaza.seat().name)));
  assert.equal(new Set(holders).size, 1, `one holder for all: ${holders}`);
  const took = [];
  for (const [p, n] of [[ann, "ann"], [ben, "ben"]]) {
    const lines = await p.$$eval("#chat-log li", (lis) => lis.map((li) => li.textContent));
    if (lines.slice(before[n]).includes("you took the seat")) took.push(n);
  }
  assert.deepEqual(took, [holders[0]], "only the holder was told it took the seat");

  await ann.keyboard.press("1");
  await ben.waitForFunction(() => window.__plaza.avatars().find((a) => a.name === "ann")?.emote === "wave");
  mkdirSync(OUT, { recursive: true });
  await ben.screenshot({ path: path.join(OUT, "demo-social.png") });

  // Names never overlap, also for labels placed at one point.
  for (const p of [ann, ben]) {
    const labels = await p.evaluate(() => window.__plaza.labels());
    assert.ok(labels.length >= 3, JSON.stringify(labels)); // the seat and two names
    assertNoOverlap(labels);
  }
  const crowd = await ann.evaluate(() =>
    window.__plaza.placeLabels([1, 2, 3, 4, 5, 6].map(() => ({ x: 100, y: 100, w: 60 }))),
  );
  assertNoOverlap(crowd);
  assert.deepEqual(errors, []);
  for (const p of [ann, ben]) await p.close();
});

test("a view radius dims a member who walked out of it, and a wider one brings it back", async () => {
  const errors = [];
  const vera = await openPage("vera", "view-room", errors);
  const walt = await openPage("walt", "view-room", errors);
  for (const p of [vera, walt]) await p.waitForFunction(() => window.__plaza.avatars().length === 2);
  const waltOn = (page) => page.evaluate(() => window.__plaza.avatars().find((a) => a.name === "walt"));
  assert.equal((await waltOn(vera)).dim, false);

  // The smallest radius, with the keyboard: Home (0), then one step.
  await vera.focus("#view-radius");
  await vera.keyboard.press("Home");
  await vera.keyboard.press("ArrowRight");
  assert.equal(await vera.textContent("#view-radius-value"), "5 units");
  assert.equal(await vera.getAttribute("#view-radius", "aria-valuetext"), "5 units");
  assert.deepEqual(await vera.evaluate(() => window.__plaza.view()), { radius: 5, compact: true });

  // walt walks off to the right, well past 1.25 x 5 from vera.
  await walt.focus("#view");
  await walt.keyboard.down("KeyD");
  await walt.waitForTimeout(1500);
  await walt.keyboard.up("KeyD");
  await vera.waitForFunction(() => window.__plaza.avatars().find((a) => a.name === "walt")?.dim === true);
  const li = vera.locator("#members li", { hasText: "walt" });
  assert.equal(await li.getAttribute("class"), "out-of-view");
  assert.equal(await li.textContent(), "walt (out of view)");
  const mine = () => walt.evaluate(() => window.__plaza.avatars().find((a) => a.self));
  const where = await mine();
  const seen = await waltOn(vera);
  const dist = (a) => Math.hypot(a.x - where.x, a.z - where.z);
  assert.ok(dist(seen) > 1, `dimmed where vera last saw walt: ${JSON.stringify(seen)}, walt at ${JSON.stringify(where)}`);
  mkdirSync(OUT, { recursive: true });
  await vera.screenshot({ path: path.join(OUT, "demo-view.png") });

  // The widest radius: walt is in view again, where walt stands.
  await vera.keyboard.press("End");
  assert.equal(await vera.textContent("#view-radius-value"), "60 units");
  await vera.waitForFunction(() => window.__plaza.avatars().find((a) => a.name === "walt")?.dim === false);
  await vera.waitForFunction(
    ([x, z]) => {
      const a = window.__plaza.avatars().find((v) => v.name === "walt");
      return Math.abs(a.x - x) <= 1 / 64 && Math.abs(a.z - z) <= 1 / 64;
    },
    [where.x, where.z],
  );
  assert.equal(await li.getAttribute("class"), null);
  // Back to the whole room.
  await vera.keyboard.press("Home");
  assert.equal(await vera.textContent("#view-radius-value"), "whole room");
  assert.equal(await vera.evaluate(() => window.__plaza.view()), null);
  assert.deepEqual(errors, []);
  for (const p of [vera, walt]) await p.close();
});

function assertNoOverlap(boxes) {
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i], boxes[j]];
      const hit = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      assert.ok(!hit, `labels overlap: ${JSON.stringify(a)} ${JSON.stringify(b)}`);
    }
}

test("on a phone's screen (390 x 844) the page fits and a finger moves you", async () => {
  const errors = [];
  const page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Emulation.setDeviceMetricsOverride", {
    width: 390, height: 844, deviceScaleFactor: 3, mobile: true,
  });
  await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: true, maxTouchPoints: 5 });
  await page.goto(`${plaza.http}/?room=phone-room&name=phone`);
  await page.waitForFunction(() => document.querySelector("#room").textContent === "phone-room");
  const fit = await page.evaluate(() => {
    const d = document.documentElement;
    const inside = (sel) => {
      const r = document.querySelector(sel).getBoundingClientRect();
      return r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 && r.right <= 390 && r.bottom <= 844;
    };
    return {
      scroll: [d.scrollWidth, d.scrollHeight],
      view: document.querySelector("#view").getBoundingClientRect().height,
      inside: ["#view", "#chat-input", "#chat-form button", "#room-input", "#seat-button",
               "button.emote", "#swatches button", "#members", "#chat-log", "#status",
               "#view-radius"].filter((s) => !inside(s)),
    };
  });
  assert.deepEqual(fit.inside, [], `outside the screen: ${fit.inside}`);
  assert.ok(fit.scroll[0] <= 390 && fit.scroll[1] <= 844, `scrolls: ${fit.scroll}`);
  assert.ok(fit.view >= 300, `the view is ${fit.view}px tall`);
  // A finger held right of the middle of the view walks the avatar right.
  await page.waitForTimeout(300); // the spawn move has landed
  const before = (await avatars(page)).find((a) => a.self);
  const box = await page.$eval("#view", (c) => {
    const r = c.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
  });
  const touch = { x: box.x + 100, y: box.y, id: 1 };
  await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [touch] });
  await page.waitForTimeout(600);
  await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  await page.waitForTimeout(200);
  const after = (await avatars(page)).find((a) => a.self);
  assert.ok(after.x - before.x > 2, `moved from ${before.x} to ${after.x}`);
  assert.ok(Math.abs(after.z - before.z) < 0.5, `straight right: z ${before.z} -> ${after.z}`);
  mkdirSync(OUT, { recursive: true });
  // Through the same CDP session: playwright's own screenshot would put
  // its viewport back first.
  const shot = await cdp.send("Page.captureScreenshot", { format: "png" });
  writeFileSync(path.join(OUT, "demo-phone.png"), Buffer.from(shot.data, "base64"));
  assert.deepEqual(errors, []);
  await page.close();
});
