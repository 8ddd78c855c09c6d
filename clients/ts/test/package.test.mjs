// What an npm user gets: the package packed from a fresh copy of the
// sources (what git has, nothing built), installed into a new project,
// then used with `import` and with `require` against a real plaza, and
// type-checked by the oldest and newest TypeScript the README names.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ROOT, startPlaza } from "./helpers/plaza.mjs";

const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const NPM = ["--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"];
const sh = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

let tmp, tarball, consumer, plaza;
before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "plaza-pack-"));
  // A fresh clone of the package: the files git tracks or would track.
  const clone = path.join(tmp, "clone");
  const files = sh("git", ["ls-files", "-co", "--exclude-standard", "."], PKG)
    .split("\n")
    .filter(Boolean);
  for (const f of files) {
    mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
    cpSync(path.join(PKG, f), path.join(clone, f));
  }
  sh("npm", ["ci", ...NPM], clone); // builds: the "prepare" script
  const name = sh("npm", ["pack", "--pack-destination", tmp, "--loglevel=error"], clone).trim().split("\n").at(-1);
  tarball = path.join(tmp, name);
  consumer = path.join(tmp, "consumer");
  mkdirSync(consumer);
  writeFileSync(path.join(consumer, "package.json"), '{ "name": "consumer", "private": true }\n');
  // Node 20 has no WebSocket of its own: its users add ws.
  const ws = JSON.parse(readFileSync(path.join(PKG, "package.json"), "utf8")).devDependencies.ws;
  sh("npm", ["install", tarball, `ws@${ws}`, ...NPM], consumer);
  plaza = await startPlaza();
});
after(async () => {
  if (plaza) await plaza.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const listing = () => sh("tar", ["tzf", tarball], tmp).split("\n").filter(Boolean);

test("the tarball ships dist (ESM, CJS, types), the sources, README and LICENSE only", () => {
  const files = new Set(listing().map((f) => f.replace(/^package\//, "")));
  for (const f of [
    "package.json", "README.md", "LICENSE",
    "dist/esm/index.js", "dist/esm/index.d.ts", "dist/esm/client.js.map",
    "dist/cjs/index.js", "dist/cjs/index.d.ts", "dist/cjs/package.json",
    "src/client.ts", "src/index.ts",
  ])
    assert.ok(files.has(f), `${f} in the tarball`);
  for (const f of files)
    assert.match(f, /^(package\.json|README\.md|LICENSE|dist\/(esm|cjs)\/.+|src\/[\w-]+\.ts)$/, `${f} has no business in it`);
  assert.equal(
    readFileSync(path.join(PKG, "LICENSE"), "utf8"),
    readFileSync(path.join(ROOT, "LICENSE"), "utf8"),
    "the package's LICENSE is the repository's",
  );
});

test("every source map points at a source the tarball ships", () => {
  const root = path.join(consumer, "node_modules", "plaza-client");
  const maps = listing().filter((f) => f.endsWith(".map"));
  assert.ok(maps.length >= 20);
  for (const m of maps) {
    const file = path.join(root, m.replace(/^package\//, ""));
    const map = JSON.parse(readFileSync(file, "utf8"));
    for (const s of map.sources) {
      const src = path.resolve(path.dirname(file), map.sourceRoot ?? "", s);
      assert.ok(src.startsWith(path.join(root, "src")), `${m}: ${s}`);
      readFileSync(src); // throws when missing
    }
  }
});

const USE = (load) => `
${load}
const c = await connect({ url: process.argv[2], name: "packed" });
const room = await c.join("pack-room");
const line = await c.chat("from the tarball");
let refused = "";
try { await c.join("bad name!"); } catch (e) { refused = e instanceof RefusedError ? e.codeName : String(e); }
c.close();
console.log(JSON.stringify({ room: room.room, seq: line.seq, refused, closed: c.status }));
`;

function run(file, body) {
  writeFileSync(path.join(consumer, file), body);
  const out = sh(process.execPath, [file, plaza.url], consumer).trim();
  return JSON.parse(out);
}

test("import works (ES modules)", () => {
  const r = run("esm.mjs", USE('import { connect, RefusedError } from "plaza-client";'));
  assert.deepEqual(r, { room: "pack-room", seq: 1, refused: "invalid_argument", closed: "closed" });
});

test("require works (CommonJS)", () => {
  const body = `(async () => {${USE('const { connect, RefusedError } = require("plaza-client");')}})();`;
  const r = run("cjs.cjs", body); // the room was forgotten when the first left
  assert.deepEqual(r, { room: "pack-room", seq: 1, refused: "invalid_argument", closed: "closed" });
  const v = sh(process.execPath, ["-p", 'require("plaza-client/package.json").version'], consumer).trim();
  assert.equal(v, JSON.parse(readFileSync(path.join(PKG, "package.json"), "utf8")).version);
});

test("the types check with TypeScript 5.0 and 5.9, from ESM and CJS", () => {
  const app = `import { connect, createClient, type Member, RefusedError, ErrorCode } from "plaza-client";
export async function main(): Promise<readonly Member[]> {
  const c = createClient({ url: "ws://x/ws", token: async () => "jwt", persistSession: true });
  c.on("members", (m: ReadonlyMap<number, Member>) => void m.size);
  await c.connect({ signal: AbortSignal.timeout(1000) });
  const c2 = await connect({ url: "ws://x/ws" });
  try { await c2.join("r"); } catch (e) { if (e instanceof RefusedError && e.code === ErrorCode.room_full) return []; }
  return [...c.members.values()];
}
`;
  writeFileSync(path.join(consumer, "app.mts"), app);
  writeFileSync(path.join(consumer, "app.cts"), app);
  for (const [resolution, files] of [["node16", ["app.mts", "app.cts"]], ["bundler", ["app.mts"]]]) {
    writeFileSync(
      path.join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022", module: resolution === "bundler" ? "ES2022" : "node16",
          moduleResolution: resolution, strict: true, noEmit: true,
          skipLibCheck: false, lib: ["ES2022", "DOM"], types: [],
        },
        files,
      }),
    );
    for (const ts of ["typescript", "typescript-5.0"]) {
      const tsc = path.join(PKG, "node_modules", ts, "bin", "tsc");
      try {
        sh(process.execPath, [tsc, "-p", "tsconfig.json"], consumer);
      } catch (e) {
        assert.fail(`${ts} (${resolution}):\n${e.stdout}${e.stderr}`);
      }
    }
  }
});
