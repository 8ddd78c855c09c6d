// docs/protocol.md is the contract; the package's constants must say the
// same. This reads the document's tables and compares, both ways.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  ClientOp,
  CloseCode,
  ErrorCode,
  errorName,
  PROTOCOL_VERSION,
  ServerOp,
  SUBPROTOCOL,
} from "plaza-client";
import { ROOT } from "./helpers/plaza.mjs";

const DOC = readFileSync(path.join(ROOT, "docs", "protocol.md"), "utf8");

/** Rows (cells) of the first table under the heading `## title`. */
function table(title) {
  const start = DOC.indexOf(`\n## ${title}\n`);
  assert.notEqual(start, -1, `docs/protocol.md has no "## ${title}"`);
  const end = DOC.indexOf("\n## ", start + 1);
  const rows = DOC.slice(start, end === -1 ? undefined : end)
    .split("\n")
    .filter((l) => l.startsWith("|"))
    .map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
  return rows.slice(2); // header and its --- line
}

/** Numeric members of a TypeScript enum as [name, value] pairs. */
const members = (e) =>
  Object.entries(e).filter(([, v]) => typeof v === "number");

/** "WELCOME" <-> "Welcome" */
const pascal = (s) => s.charAt(0) + s.slice(1).toLowerCase();

function compareOps(title, e) {
  const doc = table(title).map(([op, name]) => [pascal(name), Number(op)]);
  assert.ok(doc.length >= 7, `${title}: too few rows read`);
  assert.deepEqual(
    new Map(members(e)),
    new Map(doc),
    `${title}: the package's ops differ from docs/protocol.md`,
  );
}

test("client ops match docs/protocol.md", () => {
  compareOps("Client → server", ClientOp);
});

test("server ops match docs/protocol.md", () => {
  compareOps("Server → client", ServerOp);
});

test("error codes and names match docs/protocol.md", () => {
  const doc = table("Error codes (ERROR op)").map(([code, name]) => [
    name,
    Number(code),
  ]);
  assert.ok(doc.length >= 10);
  assert.deepEqual(new Map(members(ErrorCode)), new Map(doc));
  for (const [name, code] of doc) assert.equal(errorName(code), name);
});

// Close codes have meanings, not names, in the document: each enum member
// must sit on the row whose meaning holds these words.
const CLOSE_MEANING = {
  Normal: "normal",
  GoingAway: "going away",
  ProtocolError: "protocol error",
  UnsupportedData: "text message",
  MessageTooBig: "message too big",
  InternalError: "internal error",
  HelloExpected: "hello expected",
  Unauthorized: "unauthorized",
  TooManyMalformed: "malformed",
  Kicked: "kicked",
  SlowConsumer: "slow consumer",
};

test("close codes match docs/protocol.md", () => {
  const rows = table("Close codes");
  const docCodes = new Map(); // code -> meaning
  for (const [codes, meaning] of rows)
    for (const c of codes.split("/")) docCodes.set(Number(c), meaning);
  const pkg = members(CloseCode);
  assert.deepEqual(
    new Set(pkg.map(([, v]) => v)),
    new Set(docCodes.keys()),
    "the set of close codes differs",
  );
  for (const [name, code] of pkg) {
    assert.ok(CLOSE_MEANING[name], `no expected meaning for CloseCode.${name}`);
    assert.match(
      docCodes.get(code).toLowerCase(),
      new RegExp(CLOSE_MEANING[name]),
      `CloseCode.${name} = ${code}`,
    );
  }
});

test("version and subprotocol match docs/protocol.md", () => {
  assert.match(DOC, new RegExp(`\`version\` is ${PROTOCOL_VERSION}\\.`));
  assert.match(DOC, new RegExp(`Sec-WebSocket-Protocol: ${SUBPROTOCOL}`));
});
