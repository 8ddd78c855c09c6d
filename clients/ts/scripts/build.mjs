// Builds the package into dist/: dist/esm (ES modules, what `import`
// resolves to) and dist/cjs (CommonJS, for `require`), each with its .d.ts
// and source maps that point at the shipped src/. Run by `npm run build`,
// and by npm itself on `npm install`/`npm ci` here and before `npm pack`
// (the "prepare" script).
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
} catch {
  console.error(
    "plaza-client: building needs its devDependencies: run `npm ci` in clients/ts first",
  );
  process.exit(1);
}
const run = (project) =>
  execFileSync(process.execPath, [tsc, "-p", project], { cwd: ROOT, stdio: "inherit" });

rmSync(path.join(ROOT, "dist"), { recursive: true, force: true });
run("tsconfig.json");
run("tsconfig.cjs.json");
// The package is "type": "module"; this marks dist/cjs as CommonJS.
mkdirSync(path.join(ROOT, "dist", "cjs"), { recursive: true });
writeFileSync(
  path.join(ROOT, "dist", "cjs", "package.json"),
  JSON.stringify({ type: "commonjs" }) + "\n",
);
