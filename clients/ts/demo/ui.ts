/*
 * The page's text parts: header, member list and chat log. Everything
 * the server sends is set as text, never as HTML: names and chat are
 * other people's input.
 */
import type { Member } from "../src/index.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export const el = {
  room: $<HTMLElement>("room"),
  myName: $<HTMLElement>("my-name"),
  myId: $<HTMLElement>("my-id"),
  rtt: $<HTMLElement>("rtt"),
  status: $<HTMLElement>("status"),
  members: $<HTMLUListElement>("members"),
  chatLog: $<HTMLUListElement>("chat-log"),
  chatForm: $<HTMLFormElement>("chat-form"),
  chatInput: $<HTMLInputElement>("chat-input"),
  roomForm: $<HTMLFormElement>("room-form"),
  roomInput: $<HTMLInputElement>("room-input"),
  roomList: $<HTMLDataListElement>("room-list"),
  canvas: $<HTMLCanvasElement>("view"),
};

export function setStatus(status: string, detail = ""): void {
  el.status.dataset.status = status;
  el.status.textContent = detail ? `${status} (${detail})` : status;
}

export function showMembers(members: Iterable<Member>, selfId: number): void {
  const items = [...members]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => {
      const li = document.createElement("li");
      li.textContent = m.name;
      li.dataset.id = String(m.id);
      if (m.id === selfId) li.className = "self";
      return li;
    });
  el.members.replaceChildren(...items);
}

/** Adds a line to the chat log: kind "chat", "whisper" or "sys". */
export function logLine(kind: string, who: string, text: string): void {
  const li = document.createElement("li");
  li.className = kind;
  if (who) {
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = `${who}: `;
    li.append(name);
  }
  li.append(text);
  el.chatLog.append(li);
  el.chatLog.scrollTop = el.chatLog.scrollHeight;
}

export function clearLog(): void {
  el.chatLog.replaceChildren();
}

/** Offers the rooms plaza knows (GET /rooms) in the room picker. */
export async function offerRooms(): Promise<void> {
  try {
    const r = await fetch("/rooms");
    const body = (await r.json()) as { rooms: Array<{ room: string; members: number }> };
    el.roomList.replaceChildren(
      ...body.rooms.map((x) => {
        const o = document.createElement("option");
        o.value = x.room;
        o.label = `${x.members} here`;
        return o;
      }),
    );
  } catch {
    /* the picker still takes any name */
  }
}
