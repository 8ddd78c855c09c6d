"use client";
import { useState } from "react";
import { usePlaza } from "./use-plaza";

export function Room({ url }: { url: string }) {
  const [room, setRoom] = useState<string | null>("lobby");
  const { client, status, error, members } = usePlaza(url, "next-user", room);
  const [text, setText] = useState("");
  return (
    <main>
      <p role="status">
        {status} {room ? `in ${room}` : "in no room"} {error && `(${error})`}
      </p>
      <button onClick={() => setRoom(room === "lobby" ? "garden" : "lobby")}>
        switch room
      </button>
      <button onClick={() => setRoom(null)}>leave</button>
      <ul>
        {[...members.values()].map((m) => (
          <li key={m.id}>{m.name}</li>
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
