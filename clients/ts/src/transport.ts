/*
 * Which WebSocket to use: the host's own (browsers, Node 22+) or, in a
 * Node without one (Node 20), the `ws` package, loaded only then so that
 * browser bundles never need it.
 */

/** The part of the WebSocket API the client uses. */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string, protocol: string) => SocketLike;

export const OPEN = 1;

export async function defaultSocketFactory(): Promise<SocketFactory> {
  const G = (globalThis as { WebSocket?: new (u: string, p: string) => SocketLike })
    .WebSocket;
  if (G) return (url, protocol) => new G(url, protocol);
  const mod = "ws"; // a variable keeps bundlers from pulling it in
  const { WebSocket: W } = (await import(mod)) as {
    WebSocket: new (u: string, p: string) => SocketLike;
  };
  return (url, protocol) => new W(url, protocol);
}

/** The bytes of a binary message event, or null for a text message. */
export function messageBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) {
    // ws with binaryType "fragments"/"nodebuffer" lists: join them.
    const parts = data.filter((d): d is Uint8Array => ArrayBuffer.isView(d));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
  return null;
}
