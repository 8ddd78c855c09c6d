// Bundles the demo page's script with esbuild into demo/bundle/demo.js,
// which is committed so that building plaza needs no npm. The options live
// here once: test/bundle.test.mjs builds with them again and compares.
import * as esbuild from "esbuild";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DEMO_DIR = path.resolve(HERE, "../demo");
export const BUNDLE = path.join(DEMO_DIR, "bundle", "demo.js");

export const options = {
  entryPoints: [path.join(DEMO_DIR, "main.ts")],
  bundle: true,
  format: "iife",
  platform: "browser",
  target: "es2020",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  // Paths in the output would differ between machines: keep none.
  sourcemap: false,
  absWorkingDir: path.resolve(HERE, ".."),
  write: false,
  logLevel: "warning",
};

/** The bundle's bytes, built now. */
export async function buildDemo() {
  const r = await esbuild.build(options);
  return r.outputFiles[0].contents;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(BUNDLE, await buildDemo());
  console.log(`wrote ${path.relative(process.cwd(), BUNDLE)}`);
}
