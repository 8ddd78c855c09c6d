/*
 * PlazaClient: one session with a plaza server, kept alive across dropped
 * sockets. The application talks to it in objects and promises; the
 * tuples, seqs, session tokens and reconnects stay in here (the session
 * and its sync: session.ts; the sockets: connection.ts).
 */
import { ABNORMAL } from "./connection.js";
import { ConnectionError, refusedLocally, TimeoutError } from "./errors.js";
import type {
  Chat,
  Member,
  MemberState,
  Move,
  Position,
  RoomShape,
  RoomSnapshot,
  SignalShape,
  StatePatch,
  StateShape,
} from "./messages.js";
import type { ConnectOptions } from "./options.js";
import { handled } from "./outbox.js";
import { ClientOp, CloseCode, ErrorCode } from "./protocol.js";
import { now, ROOM_NAME, Session } from "./session.js";
import { allInView, checkView, type View, type ViewOptions } from "./view.js";

export type * from "./options.js";

/**
 * One plaza session. The type parameters are the app's own shapes:
 * `S` its member state, `G` its signals (kind -> data), `R` its room
 * state (key -> value); `connect<MyState, MySignals, MyRoom>(...)`.
 */
export class PlazaClient<
  S extends object = StateShape,
  G extends object = SignalShape,
  R extends object = RoomShape,
> extends Session<S, G, R> {
  /** The caller's own member entry while in a room. */
  get self(): Member<S> | undefined {
    return this.members.get(this.id);
  }

  /** The view this client asked for (setView(), connect()'s `view`):
   * `{ radius, compact }`, or null for the whole room as STATE. */
  get view(): View | null {
    return this.views.wish;
  }

  /** The member state this client wants for itself: `connect()`'s
   * `state` with every setState() applied, at once (the server's word on
   * it is `self.state`, a round trip later). A new object at each change. */
  get state(): MemberState<S> {
    return this.app.state as MemberState<S>;
  }

  // ---- the API ---------------------------------------------------------

  /** Joins `room` (leaving the current one); resolves with its snapshot.
   * While reconnecting the wish is kept and carried out after the sync.
   * Rejects with a RefusedError (room_full, forbidden, invalid_argument,
   * rate_limited), a TimeoutError, a CancelledError when a later
   * join()/leave() replaced it before it could be sent, the signal's
   * reason, or a ClosedError. */
  join(room: string, o: { signal?: AbortSignal } = {}): Promise<RoomSnapshot<S, R>> {
    if (this.closed) return Promise.reject(this.closedError());
    if (!ROOM_NAME.test(room))
      return Promise.reject(
        refusedLocally(
          ErrorCode.invalid_argument,
          "room must be 1-64 bytes of [A-Za-z0-9._:-]",
          ClientOp.Join,
        ),
      );
    return this.roomOp(room, o.signal);
  }

  /** Leaves the current room; resolves once the server has the session
   * in none. While reconnecting, once the sync has made it so. */
  async leave(o: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closed) throw this.closedError();
    await this.roomOp(null, o.signal);
  }

  /** Sends the caller's position; returns the MOVE's seq. Paced under
   * the server's move rate; while reconnecting, outside a room or when
   * moves come faster, only the latest position waits (outside a room it
   * is the spawn point of the next join). Throws a ClosedError after
   * close(). */
  move(p: Position): number {
    if (this.closed) throw this.closedError();
    const m: Move = {
      op: ClientOp.Move,
      seq: ++this.moveSeq,
      x: p.x,
      y: p.y,
      z: p.z,
      yaw: p.yaw,
    };
    this.outbox.move(m);
    return m.seq;
  }

  /** Says `text` to the room; resolves with the line as the server
   * numbered it (seq, time). Queued while reconnecting and paced under
   * the server's chat rate. Rejects with a RefusedError (the server's, or
   * the client's own: empty or over 500 bytes, outside a room), a
   * CancelledError when the room changed before it went out, a
   * ClosedError. The promise may be ignored: its rejection is never
   * reported as unhandled, and the server's refusals are `error` events
   * too. */
  chat(text: string): Promise<Chat> {
    if (this.closed) return handled(Promise.reject(this.closedError()));
    return this.outbox.add(ClientOp.Chat, 0, text) as Promise<Chat>;
  }

  /** Says `text` to session `to` only; resolves once it went out on a
   * live session. Queued and paced like chat(). Protocol v1 does not
   * acknowledge a whisper: a refusal (not_found: no such session, or it
   * is disconnected) comes later as an `error` event with requestOp
   * Whisper. */
  whisper(to: number, text: string): Promise<void> {
    if (!Number.isSafeInteger(to) || to < 0)
      return handled(
        Promise.reject(
          refusedLocally(ErrorCode.invalid_argument, "to must be a session id", ClientOp.Whisper),
        ),
      );
    if (this.closed) return handled(Promise.reject(this.closedError()));
    return this.outbox.add(ClientOp.Whisper, to, text) as Promise<void>;
  }

  /** Measures the round trip with PING/PONG; resolves with it in ms.
   * Rejects at once while not connected (ConnectionError) and after
   * close() (ClosedError); a ping whose socket drops rejects with a
   * ConnectionError. */
  ping(): Promise<number> {
    if (this.closed) return Promise.reject(this.closedError());
    if (!this.ready || !this.ws)
      return Promise.reject(
        new ConnectionError(`not connected (${this.status})`, ABNORMAL),
      );
    return new Promise((resolve, reject) => {
      const t = ++this.pingId;
      const timer = setTimeout(() => {
        this.pings.delete(t);
        reject(new TimeoutError("ping", this.timeoutMs));
      }, this.timeoutMs);
      this.pings.set(t, { sent: now(), resolve, reject, timer });
      this.sendNow({ op: ClientOp.Ping, t });
    });
  }

  /** Changes this member's state (protocol 1.1): each key named is
   * replaced, null deletes it. `state` changes at once; the room hears
   * MEMBER. Resolves once the server applied it: in a room on its echo,
   * outside a room (where the server answers nothing) once sent. Paced
   * under the server's rate for sets and signals; while reconnecting,
   * patches merge into one SET that goes after the sync (a SET lost with
   * the socket goes again). Rejects with a RefusedError: the server's
   * (the keys named go back to the server's values), or the client's own
   * (`local`: not a plain object, a key not 1-32 bytes, a state over
   * `limits.memberStateMax` encoded, a server without "state"), a
   * TimeoutError, a ClosedError. May be ignored: never reported as
   * unhandled, the server's refusals are `error` events too. */
  setState(patch: StatePatch<S>): Promise<void> {
    if (this.closed) return handled(Promise.reject(this.closedError()));
    return this.app.setState(patch as StatePatch);
  }

  /** Sends an app-defined message (protocol 1.1): to every other member
   * of the room (`to` omitted), or to session `to` wherever it is
   * (in a room or not, yourself included). Resolves once it went out
   * (signals are not acknowledged; an unknown or disconnected `to` comes
   * later as an `error` event, not_found). Queued while reconnecting and
   * paced with setState(); a room signal that waited for a room the
   * client left rejects with a CancelledError. Rejects at once with a
   * RefusedError (`local`) for a kind not 1-32 bytes, data over
   * `limits.signalMax` encoded, a room signal outside a room; a
   * ClosedError. May be ignored, as setState(). */
  signal<K extends keyof G & string>(kind: K, data: G[K], to?: number | null): Promise<void> {
    if (this.closed) return handled(Promise.reject(this.closedError()));
    return this.app.signal(kind, data, to);
  }

  /** Sets one key of the room's shared state (protocol 1.1); null
   * deletes it. With `ifVersion` it applies only if the key is at that
   * version (0: absent): compare-and-set, so two members cannot both take
   * what only one may. Resolves with the key's new version once the
   * server applied it. Rejects with a ConflictError (its `version` is the
   * key's current one) when the key was at another version, a RefusedError
   * (the server's, or the client's own: a key not 1-64 bytes, a value over
   * `limits.roomValueMax`, outside a room), a CancelledError when the
   * session left the room first, a TimeoutError, a ClosedError. Queued
   * while reconnecting; one whose socket dropped is settled from the
   * room's state when the room is back (sent again when it was not
   * applied). */
  setRoomState<K extends keyof R & string>(
    key: K,
    value: R[K] | null,
    o: { ifVersion?: number } = {},
  ): Promise<number> {
    if (this.closed) return Promise.reject(this.closedError());
    return this.app.setRoomState(key, value, o.ifVersion);
  }

  /** Asks for only the members within `radius` (x, z) of this client,
   * and/or compact positions (STATE_C), from now and after every
   * reconnect (protocol 1.1 VIEW); null, `{}` or radius 0 without compact
   * is the whole room as STATE again. Members that leave the view stay in
   * `members` with their last position and `outOfView: true` (an `away`
   * event); a STATE that carries one again clears it. Views set quickly
   * one after another (a slider) send only the latest, paced with
   * setState() and signal(); while reconnecting it waits for the next
   * WELCOME. Throws a RefusedError (`local`) for bad options
   * (invalid_argument) or a server without "view" (or "compact" when
   * asked for; unknown_op), a ClosedError after close(). */
  setView(view: ViewOptions | null): void {
    if (this.closed) throw this.closedError();
    const v = checkView(view);
    this.views.set(v);
    if (this.views.filtering) return;
    const all = allInView(this.members);
    if (!all) return;
    this.members = all;
    this.emit("members", this.members);
  }

  /** Closes for good. With leave (the default) the room sees LEFT at
   * once; without, the server keeps the session for its grace period.
   * Everything pending rejects with a ClosedError, later calls reject
   * (move() throws) at once. */
  close(options: { leave?: boolean } = {}): void {
    if (this.closed) return;
    if ((options.leave ?? true) && this.ready && this.room !== null)
      this.sendNow({ op: ClientOp.Leave });
    this.terminate("close() called", CloseCode.Normal);
  }
}

/** A client of whatever app shapes: what helpers that use none of them
 * (Predictor, interpolate) take. `any` because a client typed with an
 * app's shapes is assignable to no narrower instantiation (its maps are
 * invariant in them). */
export type AnyPlazaClient = PlazaClient<any, any, any>;

/** A client that has not connected yet: attach listeners, then connect().
 * The type parameters declare the app's member state, signals and room
 * state (see PlazaClient). */
export function createClient<
  S extends object = StateShape,
  G extends object = SignalShape,
  R extends object = RoomShape,
>(opts: ConnectOptions<S>): PlazaClient<S, G, R> {
  return new PlazaClient<S, G, R>(opts);
}

/** Creates a client and connects it; resolves once the server says
 * WELCOME. `signal` aborts the attempt (the client is then closed). */
export async function connect<
  S extends object = StateShape,
  G extends object = SignalShape,
  R extends object = RoomShape,
>(opts: ConnectOptions<S> & { signal?: AbortSignal }): Promise<PlazaClient<S, G, R>> {
  const c = new PlazaClient<S, G, R>(opts);
  await c.connect(opts.signal ? { signal: opts.signal } : {});
  return c;
}
