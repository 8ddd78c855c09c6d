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
