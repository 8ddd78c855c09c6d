"use client";
import { useEffect, useState } from "react";
import { ConflictError } from "plaza-client";
import { type AvatarState, type Emote, EMOTES, type Shared, type Signals } from "./shapes";
import { usePlaza } from "./use-plaza";

export function Room({ url }: { url: string }) {
  const [room, setRoom] = useState<string | null>("lobby");
  const { client, status, error, setError, members, roomState } = usePlaza<AvatarState, Signals, Shared>(
    url,
    "next-user",
    room,
    { color: "#3aa0e8" },
  );
  const [text, setText] = useState("");
  const [emotes, setEmotes] = useState<ReadonlyMap<number, Emote>>(new Map());

  // Emotes are SIGNALs: shown for a moment, never stored. What others send
  // is checked: the types say what this app sends, not what arrives.
  useEffect(
    () =>
      client?.on("signal", (s) => {
        if (s.kind !== "emote" || !EMOTES.includes(s.data?.type)) return;
        setEmotes((m) => new Map(m).set(s.from, s.data.type));
        setTimeout(() => setEmotes((m) => new Map([...m].filter(([id]) => id !== s.from))), 2500);
      }),
    [client],
  );

  // The seat is room state: compare-and-set on the version seen, so two
  // members cannot take it at once; the loser learns the version it lost to.
  const seat = roomState.get("seat");
  const toggleSeat = async () => {
    if (!client) return;
    try {
      if (seat?.value.id === client.id) await client.setRoomState("seat", null, { ifVersion: seat.version });
      else await client.setRoomState("seat", { id: client.id, name: "next-user" }, { ifVersion: seat?.version ?? 0 });
    } catch (e) {
      setError(e instanceof ConflictError ? `the seat changed first (now version ${e.version})` : String(e));
    }
  };

  return (
    <main>
      <p role="status">
        {status} {room ? `in ${room}` : "in no room"} {error && `(${error})`}
      </p>
      <button onClick={() => setRoom(room === "lobby" ? "garden" : "lobby")}>
        switch room
      </button>
      <button onClick={() => setRoom(null)}>leave</button>
      <label>
        Colour{" "}
        <input type="color" onChange={(e) => client?.setState({ color: e.target.value })} />
      </label>
      {EMOTES.map((type) => (
        <button key={type} onClick={() => client?.signal("emote", { type })}>
          {type}
        </button>
      ))}
      <button onClick={toggleSeat}>{seat ? `seat: ${seat.value.name}` : "take the seat"}</button>
      <ul>
        {[...members.values()].map((m) => (
          <li key={m.id} style={{ color: m.state.color }}>
            {m.name} {emotes.get(m.id)}
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          client?.chat(text).catch(() => {}); // refusals are `error` events too
          setText("");
        }}
      >
        <label htmlFor="say">Say</label>
        <input id="say" value={text} onChange={(e) => setText(e.target.value)} />
      </form>
    </main>
  );
}
