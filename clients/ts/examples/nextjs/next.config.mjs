import path from "node:path";
import { fileURLToPath } from "node:url";

// plaza-client is linked from ../.. (file:), outside this folder.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export default {
  outputFileTracingRoot: root,
  turbopack: { root },
};
