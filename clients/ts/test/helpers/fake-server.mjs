// A stand-in plaza made of a `ws` server: it records what a client sends
// (decoded) and lets a test answer with anything, broken frames included.
import { decode, encode } from "@msgpack/msgpack";
import { WebSocketServer } from "ws";

export class FakeServer {
  constructor() {
    this.sockets = [];
    this.received = []; // [socketIndex, tuple]
    this.waiters = [];
    this.taken = new WeakSet(); // messages a nextOp already returned
  }

  async start() {
    this.wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise((r) => this.wss.once("listening", r));
    this.url = `ws://127.0.0.1:${this.wss.address().port}/ws`;
    this.wss.on("connection", (ws) => {
      const index = this.sockets.push(ws) - 1;
      ws.on("message", (data, isBinary) => {
        const msg = isBinary ? decode(data) : ["text", String(data)];
        this.received.push([index, msg]);
        this.waiters = this.waiters.filter((w) => !w(index, msg));
      });
    });
    return this;
  }

  /** The latest connection. */
  get ws() {
    return this.sockets.at(-1);
  }

  /** Resolves with the next message with op `op` (received earlier or later). */
  nextOp(op, ms = 5000) {
    const seen = this.received.find(([, m]) => m[0] === op && !this.taken.has(m));
    if (seen) {
      this.taken.add(seen[1]);
      return Promise.resolve(seen[1]);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no op ${op}`)), ms);
      this.waiters.push((_i, m) => {
        if (m[0] !== op) return false;
        this.taken.add(m);
        clearTimeout(timer);
        resolve(m);
        return true;
      });
    });
  }

  send(tuple) {
    this.ws.send(encode(tuple));
  }

  sendRaw(bytes) {
    this.ws.send(bytes, { binary: true });
  }

  close() {
    for (const s of this.sockets) s.terminate();
    return new Promise((r) => this.wss.close(r));
  }
}

export const W = 1; // WELCOME
export const ROOM = 2;
export const CHAT = 6;
export const PONG = 8;
export const ERROR = 9;
export const member = (id, name, x = 0) => [id, name, x, 0, 0, 0];

/** A fake server and a client (made by `make(opts)`, default the
 * package's connect) that said HELLO, got WELCOME as id 7 and joined
 * `room`; `history` goes in its ROOM, with `members` (default: the client
 * alone); `features` in the WELCOME (default none: a v1 server). */
export async function joinedClient(connect, opts = {}, room = "r", history = [], { features, members } = {}) {
  const srv = await new FakeServer().start();
  const pending = connect({ url: srv.url, name: "fay", ...opts });
  await srv.nextOp(1);
  srv.send([W, 7, "7.tok", 30, Date.now(), false, ...(features ? [features] : [])]);
  const c = await pending;
  const joining = c.join(room);
  await srv.nextOp(2);
  srv.send([ROOM, room, members ?? [member(7, "fay")], history]);
  await joining;
  return { srv, c };
}

/** Answers the next PING the client sends (a sync barrier, say). */
export async function answerPing(srv) {
  const p = await srv.nextOp(7);
  srv.send([PONG, p[1], Date.now()]);
  return p;
}
