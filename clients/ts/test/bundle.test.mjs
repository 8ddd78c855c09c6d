// The demo bundle is committed (plaza embeds it and building plaza needs
// no npm), so it must be what esbuild makes of the sources today.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { BUNDLE, buildDemo } from "../scripts/build-demo.mjs";

test("committed demo bundle matches a fresh esbuild build", async () => {
  const fresh = Buffer.from(await buildDemo());
  const committed = readFileSync(BUNDLE);
  assert.ok(
    fresh.equals(committed),
    "clients/ts/demo/bundle/demo.js is stale: run `make demo-bundle` and commit it",
  );
});

test("the build is deterministic", async () => {
  const a = Buffer.from(await buildDemo());
  const b = Buffer.from(await buildDemo());
  assert.ok(a.equals(b));
});
