"use client";
import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import {
  CancelledError,
  ClosedError,
  createClient,
  type Member,
  type PlazaClient,
  type RoomStateMap,
  type Status,
} from "plaza-client";

// What a snapshot is before there is a client: empty, and always the
// same object (useSyncExternalStore compares by identity).
const NOTHING = new Map();

/** One plaza session for the component's life: a new client (and socket)
 * only when `url` or `name` change; a new `room` (null: none) is a join
 * on the same client. S, G and R are the app's member state, signals and
 * room state; `state` is the member's initial state. */
export function usePlaza<S extends object, G extends object, R extends object>(
  url: string,
  name: string,
  room: string | null,
  state?: Partial<S>,
) {
  const [client, setClient] = useState<PlazaClient<S, G, R> | null>(null);
  const [status, setStatus] = useState<Status>("idle");
  const [error, setError] = useState<string | null>(null);
  const initial = useRef(state); // read once per client, not a dependency

  useEffect(() => {
    // Created in the effect, not during render: nothing runs on the
    // server, and Strict Mode's mount-unmount-mount closes the first.
    const c = createClient<S, G, R>({ url, name, state: initial.current, persistSession: true });
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

  // The client's member map and room state are immutable snapshots (a
  // new map on each change), so React can subscribe to them as they are.
  const members: ReadonlyMap<number, Member<S>> = useSyncExternalStore(
    (changed) => client?.on("members", changed) ?? (() => {}),
    () => client?.members ?? NOTHING,
    () => NOTHING,
  );
  const roomState: RoomStateMap<R> = useSyncExternalStore(
    (changed) => client?.on("roomState", changed) ?? (() => {}),
    () => client?.roomState ?? NOTHING,
    () => NOTHING,
  );
  return { client, status, error, setError, members, roomState };
}
