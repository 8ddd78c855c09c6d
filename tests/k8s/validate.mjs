// Validates Kubernetes objects offline against the API's schemas, as
// shipped in kubernetes-models (Kubernetes 1.27 OpenAPI), two ways:
//
//  1. each object's JSON-schema validator (types, required fields, enums,
//     formats: what the API server's schema checks would say);
//  2. TypeScript's excess-property check: every object is written as a
//     literal of the model's interface and compiled with tsc --noEmit, so
//     a misspelt or misplaced field (which JSON schema lets through, as
//     the API server would silently drop it) is an error too.
//
// Input: a JSON array of objects on stdin (kubectl kustomize output,
// converted by the caller). Output: one line per problem; exit 1 if any.
// Used by tests/integration/test_k8s_manifests.py.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

// "apps/v1" + "Deployment" -> "kubernetes-models/apps/v1/Deployment"
function modulePath(obj) {
  const [group, version] = obj.apiVersion.includes("/")
    ? obj.apiVersion.split("/")
    : [null, obj.apiVersion];
  return group
    ? `kubernetes-models/${group}/${version}/${obj.kind}`
    : `kubernetes-models/${version}/${obj.kind}`;
}

const objects = JSON.parse(readFileSync(0, "utf8"));
const problems = [];
const where = (o) => `${o.kind}/${o.metadata?.name ?? "?"}`;

// 1. JSON schema.
for (const obj of objects) {
  let mod;
  try {
    mod = await import(modulePath(obj));
  } catch {
    problems.push(`${where(obj)}: no schema for ${obj.apiVersion} ${obj.kind}`);
    continue;
  }
  try {
    new mod[obj.kind](obj).validate();
  } catch (e) {
    problems.push(`${where(obj)}: ${e.message}`);
  }
}

// 2. Excess properties, through the compiler.
// Beside node_modules, so the compiler resolves the models as node does.
const dir = mkdtempSync(join(here, ".check-"));
try {
  const lines = [];
  objects.forEach((obj, i) => {
    const path = modulePath(obj);
    lines.push(`import type { I${obj.kind} as T${i} } from "${path}";`);
    lines.push(`// ${where(obj)}`);
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(obj, null, 1)};`);
  });
  writeFileSync(join(dir, "objects.ts"), lines.join("\n") + "\n");
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: "esnext",
        moduleResolution: "bundler",
        skipLibCheck: true,
        types: [],
      },
      files: ["objects.ts"],
    }),
  );
  const tsc = spawnSync(
    process.execPath,
    [join(here, "node_modules", "typescript", "bin", "tsc"), "-p", dir],
    { encoding: "utf8" },
  );
  if (tsc.status !== 0) {
    for (const line of (tsc.stdout + tsc.stderr).split("\n")) {
      if (line.trim()) problems.push(`tsc: ${line}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

for (const p of problems) console.log(p);
console.log(`${objects.length} objects, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
