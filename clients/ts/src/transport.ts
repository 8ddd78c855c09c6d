/*
 * Which WebSocket to use, and what to say when it fails. Browsers, Deno,
 * Bun and Node 22+ have a global WebSocket; Node 20 has none, and there
 * the optional peer dependency `ws` is loaded, only then. The import is
 * spelled out (bundlers see it) but marked for webpack to leave alone,
 * and package.json's "browser" field maps `ws` to nothing, so a browser
 * bundle never pulls it in and a Next.js build neither warns nor fails
 * when it is not installed.
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

type SocketClass = new (u: string, p: string) => SocketLike;

export async function defaultSocketFactory(): Promise<SocketFactory> {
  const G = (globalThis as { WebSocket?: SocketClass }).WebSocket;
  if (G) return (url, protocol) => new G(url, protocol);
  let W: SocketClass;
  try {
    ({ WebSocket: W } = (await import(
      /* webpackIgnore: true */ "ws"
    )) as unknown as { WebSocket: SocketClass });
  } catch (e) {
    throw new Error(
      "this runtime has no WebSocket: install the `ws` package (npm install ws), " +
        "use Node 22 or later, or pass `socketFactory`",
      { cause: e },
    );
  }
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

/** Why a socket failed, in words, from its `error` event: `ws` and
 * Node's own WebSocket carry the underlying error (a refused TCP
 * connection, a TLS failure, the HTTP status that came instead of the
 * upgrade); browsers carry nothing, on purpose, so there it says what the
 * causes can be. */
export interface FailureText {
  text: string;
  httpStatus?: number;
  cause?: unknown;
}

const TLS_CODES =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME|ALTNAME/;

export function describeFailure(ev: unknown): FailureText {
  const e = ev as { error?: unknown; message?: unknown } | null;
  const err = (e?.error ?? null) as {
    code?: unknown;
    message?: unknown;
    cause?: { code?: unknown; message?: unknown };
  } | null;
  const code = String(err?.code ?? err?.cause?.code ?? "");
  const message = String(
    err?.message ?? (typeof e?.message === "string" ? e.message : ""),
  );
  const status = /Unexpected server response: (\d{3})/.exec(message);
  if (status) {
    const httpStatus = Number(status[1]);
    const why =
      httpStatus === 403
        ? " (plaza answers 403 when the Origin header is not in --allowed-origins)"
        : "";
    return {
      text: `the server answered HTTP ${httpStatus} instead of a WebSocket upgrade${why}`,
      httpStatus,
      cause: err,
    };
  }
  if (TLS_CODES.test(code) || /certificate|SSL|TLS/i.test(message))
    return {
      text: `TLS failed: ${message || code}${code && !message.includes(code) ? ` (${code})` : ""}`,
      cause: err,
    };
  if (code === "ECONNREFUSED")
    return { text: `connection refused: ${message}`, cause: err };
  if (message) return { text: message, cause: err };
  return {
    text:
      "the WebSocket failed (a browser does not say why: the server may be " +
      "down, its TLS certificate not trusted, or the page's origin refused " +
      "with 403 by --allowed-origins)",
  };
}
