// A real plaza process for a test: build/plaza of the repo, on a free port
// of 127.0.0.1 with two workers, ready once GET /healthz answers 200.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../..",
);
// PLAZA_BIN, like the pytest suite's, is relative to the repository root.
const BIN = path.resolve(ROOT, process.env.PLAZA_BIN ?? "build/plaza");

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function healthy(port, tls) {
  if (tls)
    return new Promise((resolve) => {
      https
        .get(
          { host: "127.0.0.1", port, path: "/healthz", rejectUnauthorized: false },
          (r) => {
            r.resume();
            resolve(r.statusCode === 200);
          },
        )
        .on("error", () => resolve(false));
    });
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    return r.status === 200;
  } catch {
    return false;
  }
}

export class Plaza {
  constructor(args = []) {
    this.args = args;
    this.tls = args.includes("--tls-cert");
    this.port = 0;
    this.proc = null;
    this.log = "";
  }

  get url() {
    return `${this.tls ? "wss" : "ws"}://127.0.0.1:${this.port}/ws`;
  }

  get http() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts plaza (on `port`, or a free one) and waits until it is healthy. */
  async start(port) {
    if (!existsSync(BIN)) throw new Error(`${BIN} missing: run make first`);
    this.port = port ?? (await freePort());
    const argv = [
      "--host", "127.0.0.1", "--port", String(this.port), "--workers", "2",
      ...this.args,
    ];
    this.proc = spawn(BIN, argv, { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (d) => (this.log = (this.log + d).slice(-20000));
    this.proc.stdout.on("data", keep);
    this.proc.stderr.on("data", keep);
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null)
        throw new Error(`plaza exited ${this.proc.exitCode}:\n${this.log}`);
      if (await healthy(this.port, this.tls)) return this;
      await sleep(50);
    }
    throw new Error(`plaza not healthy in 10 s:\n${this.log}`);
  }

  /** SIGTERM, then waits for the exit; resolves with the exit code. */
  async stop() {
    const p = this.proc;
    if (!p || p.exitCode !== null) return p?.exitCode ?? 0;
    const done = new Promise((r) => p.once("exit", (code) => r(code)));
    p.kill("SIGTERM");
    const timer = setTimeout(() => p.kill("SIGKILL"), 5000);
    const code = await done;
    clearTimeout(timer);
    return code;
  }
}

export async function startPlaza(args = []) {
  return new Plaza(args).start();
}

/** A TCP relay in front of plaza whose connections a test can cut, to
 * drop a client's socket without a close frame. */
export class Relay {
  constructor(target) {
    this.target = target;
    this.pairs = new Set();
    this.server = net.createServer((down) => {
      const up = net.connect(this.target, "127.0.0.1");
      const pair = [down, up];
      this.pairs.add(pair);
      down.pipe(up);
      up.pipe(down);
      const end = () => {
        this.pairs.delete(pair);
        down.destroy();
        up.destroy();
      };
      down.on("error", end).on("close", end);
      up.on("error", end).on("close", end);
    });
  }

  async start() {
    await new Promise((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = this.server.address().port;
    return this;
  }

  get url() {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Stops passing what the server sends (it stays in the kernel's
   * buffers): the client hears nothing until cut() drops it for good. */
  hold() {
    for (const [down, up] of this.pairs) {
      up.unpipe(down);
      up.pause();
    }
  }

  /** Destroys every relayed connection (an RST, no close frame). */
  cut() {
    for (const [down, up] of this.pairs) {
      down.resetAndDestroy();
      up.destroy();
    }
    this.pairs.clear();
  }

  close() {
    this.cut();
    return new Promise((r) => this.server.close(r));
  }
}

/** Resolves with the next `event` of client `c` that satisfies `pred`,
 * rejecting after `ms`. */
export function next(c, event, pred = () => true, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} event in ${ms} ms`));
    }, ms);
    const off = c.on(event, (v) => {
      if (!pred(v)) return;
      clearTimeout(timer);
      off();
      resolve(v);
    });
  });
}

/** Polls `cond` until true, rejecting after `ms`. */
export async function until(cond, ms = 5000, what = "condition") {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error(`${what} not met in ${ms} ms`);
}
