"use client";
import { useEffect, useState, useSyncExternalStore } from "react";
import {
  CancelledError,
  ClosedError,
  createClient,
  type Member,
  type PlazaClient,
  type Status,
} from "plaza-client";

const NO_MEMBERS: ReadonlyMap<number, Member> = new Map();

/** One plaza session for the component's life: a new client (and socket)
 * only when `url` or `name` change; a new `room` (null: none) is a join
 * on the same client. */
export function usePlaza(url: string, name: string, room: string | null) {
  const [client, setClient] = useState<PlazaClient | null>(null);
  const [status, setStatus] = useState<Status>("idle");
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    // Created in the effect, not during render: nothing runs on the
    // server, and Strict Mode's mount-unmount-mount closes the first.
    const c = createClient({ url, name, persistSession: true });
    c.on("status", (s) => setStatus(s.status));
    setClient(c);
    c.connect().catch((e: unknown) => {
      if (!(e instanceof ClosedError)) setError(String(e));
    });
    return () => {
      setClient(null);
      c.close(); // what is pending rejects with a ClosedError
    };
  }, [url, name]);

  useEffect(() => {
    if (!client) return;
    const ac = new AbortController();
    const done =
      room === null
        ? client.leave({ signal: ac.signal })
        : client.join(room, { signal: ac.signal });
    done.then(
      () => setError(null),
      (e: unknown) => {
        // Unmounted or switched again before the answer: not an error.
        if (ac.signal.aborted || e instanceof ClosedError || e instanceof CancelledError)
          return;
        setError(e instanceof Error ? e.message : String(e));
      },
    );
    return () => ac.abort();
  }, [client, room]);

  // The client's member map is an immutable snapshot (a new map on each
  // change), so React can subscribe to it as it is.
  const members = useSyncExternalStore(
    (changed) => client?.on("members", changed) ?? (() => {}),
    () => client?.members ?? NO_MEMBERS,
    () => NO_MEMBERS,
  );
  return { client, status, error, members };
}
