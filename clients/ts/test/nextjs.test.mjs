// The Next.js app-router example (examples/nextjs) compiles, with webpack
// and with Turbopack, against the built package: no "Critical
// dependency" warning, `ws` neither needed nor bundled for the browser,
// and its usePlaza hook is the one docs/client.md shows.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ROOT } from "./helpers/plaza.mjs";

const APP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../examples/nextjs");
const STAMP = path.join(APP, "node_modules", ".plaza-ci-stamp");
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: APP, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${e.stdout}\n${e.stderr}`);
  }
}

before(() => {
  // npm ci only when the lock changed (next is big). The lock records
  // plaza-client's package.json (a file: link): after changing that, run
  // `npm install --package-lock-only --ignore-scripts` in examples/nextjs.
  const lock = statSync(path.join(APP, "package-lock.json")).mtimeMs;
  if (!existsSync(STAMP) || statSync(STAMP).mtimeMs < lock) {
    sh("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]);
    writeFileSync(STAMP, "");
  }
});

function files(dir) {
  return readdirSync(dir, { recursive: true })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile());
}

for (const bundler of ["webpack", "turbopack"]) {
  test(`next build (${bundler}) compiles the example cleanly`, () => {
    const out = sh("npx", ["next", "build", bundler === "webpack" ? "--webpack" : "--turbopack"]);
    assert.match(out, /Compiled successfully/);
    assert.doesNotMatch(out, /Critical dependency|Module not found|Compiled with warnings/i);
    const chunks = files(path.join(APP, ".next", "static"));
    assert.ok(chunks.some((f) => readFileSync(f, "utf8").includes("plaza.v1")), "plaza-client is in the page's bundle");
    for (const f of chunks)
      assert.doesNotMatch(readFileSync(f, "utf8"), /ws does not work in the browser/, `${f} bundles ws`);
  });
}

test("docs/client.md shows the example's usePlaza hook as it compiles", () => {
  const hook = readFileSync(path.join(APP, "app", "use-plaza.ts"), "utf8");
  const doc = readFileSync(path.join(ROOT, "docs", "client.md"), "utf8");
  assert.ok(doc.includes("```tsx\n" + hook + "```\n"), "docs/client.md has app/use-plaza.ts verbatim in a tsx block");
});
