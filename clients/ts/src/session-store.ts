/*
 * What lets a page reload resume its session instead of starting a new
 * one (a duplicate member for the grace period): the session token and
 * where the chat stood, kept in sessionStorage (one tab's, kept across
 * its reloads, never shared with other tabs).
 */

/** The part of the Web Storage API used (sessionStorage, or a stand-in). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface PersistOptions {
  /** Where to keep it (default: sessionStorage). */
  storage?: StorageLike;
  /** Its key (default: "plaza-client:" + url + ":" + name). */
  key?: string;
  /** On the page's `pagehide`, send LEAVE before the socket closes, so
   * the room sees the member go at once when the tab is closed; a
   * reload then resumes the same session (same id) and joins again.
   * false keeps the member in the room across a reload (the others see
   * nothing) at the price of a closed tab lingering for the grace period
   * (default true). */
  leaveOnPageHide?: boolean;
}

/** What is kept. */
export interface SavedSession {
  session: string;
  id: number;
  /** The room whose chat `chatSeq` counts, and the last seq seen there. */
  chatRoom: string | null;
  chatSeq: number;
  /** A JOIN was unanswered when it was saved: the server may have the
   * session in another room than chatRoom, so its seq must not be sent. */
  joinUncertain: boolean;
}

export class SessionStore {
  constructor(
    private readonly storage: StorageLike,
    private readonly key: string,
  ) {}

  /** The store for these options, or null when there is no storage
   * (server-side rendering, Node). */
  static open(
    o: PersistOptions,
    url: string,
    name: string | undefined,
  ): SessionStore | null {
    let storage = o.storage;
    if (!storage) {
      try {
        storage = (globalThis as { sessionStorage?: StorageLike }).sessionStorage;
      } catch {
        storage = undefined; // a sandboxed frame throws on access
      }
    }
    if (!storage) return null;
    return new SessionStore(storage, o.key ?? `plaza-client:${url}:${name ?? ""}`);
  }

  load(): SavedSession | null {
    try {
      const raw = this.storage.getItem(this.key);
      if (!raw) return null;
      const v = JSON.parse(raw) as Partial<SavedSession>;
      if (typeof v.session !== "string" || typeof v.id !== "number") return null;
      return {
        session: v.session,
        id: v.id,
        chatRoom: typeof v.chatRoom === "string" ? v.chatRoom : null,
        chatSeq: typeof v.chatSeq === "number" ? v.chatSeq : 0,
        joinUncertain: v.joinUncertain === true,
      };
    } catch {
      return null; // unreadable: start afresh
    }
  }

  save(s: SavedSession): void {
    try {
      this.storage.setItem(this.key, JSON.stringify(s));
    } catch {
      /* full or forbidden: a reload then starts a new session */
    }
  }

  clear(): void {
    try {
      this.storage.removeItem(this.key);
    } catch {
      /* as above */
    }
  }
}

/** Calls `hide` on the page's pagehide and `show` when a page kept in the
 * back/forward cache comes back; returns the function that stops it. No-op
 * where there is no page. */
export function watchPage(
  hide: () => void,
  show: () => void,
): () => void {
  const g = globalThis as {
    addEventListener?: (t: string, f: (e: { persisted?: boolean }) => void) => void;
    removeEventListener?: (t: string, f: (e: { persisted?: boolean }) => void) => void;
  };
  if (typeof g.addEventListener !== "function" || typeof g.removeEventListener !== "function")
    return () => {};
  const onHide = () => hide();
  const onShow = (e: { persisted?: boolean }) => {
    if (e.persisted) show();
  };
  g.addEventListener("pagehide", onHide);
  g.addEventListener("pageshow", onShow);
  return () => {
    g.removeEventListener?.("pagehide", onHide);
    g.removeEventListener?.("pageshow", onShow);
  };
}
