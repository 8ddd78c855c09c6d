/*
 * The page's text parts: header, member list, chat log and the tools
 * under the view. Everything the server sends is set as text, never as
 * HTML: names and chat are other people's input.
 */
import type { Member } from "../src/index.js";
import { COLORS } from "./social.js";

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
  swatches: $<HTMLElement>("swatches"),
  seatButton: $<HTMLButtonElement>("seat-button"),
  viewRadius: $<HTMLInputElement>("view-radius"),
  viewRadiusValue: $<HTMLOutputElement>("view-radius-value"),
  emoteButtons: Array.from(document.querySelectorAll<HTMLButtonElement>("button.emote")),
};

export function setStatus(status: string, detail = ""): void {
  el.status.dataset.status = status;
  el.status.textContent = detail ? `${status} (${detail})` : status;
}

export function showMembers<S extends object>(
  members: Iterable<Member<S>>,
  selfId: number,
  colorOf: (m: Member<S>) => string,
): void {
  const items = [...members]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => {
      const li = document.createElement("li");
      li.textContent = m.name;
      li.dataset.id = String(m.id);
      li.style.setProperty("--c", colorOf(m));
      if (m.id === selfId) li.className = "self";
      else if (m.outOfView) {
        li.className = "out-of-view";
        // Said, not only shown: a screen reader hears it with the name.
        const note = document.createElement("span");
        note.className = "vh";
        note.textContent = " (out of view)";
        li.append(note);
      }
      return li;
    });
  el.members.replaceChildren(...items);
}

/** The colour buttons; `pick` is called with the colour chosen. */
export function offerColors(pick: (color: string) => void): void {
  el.swatches.replaceChildren(
    ...COLORS.map(([name, color]) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "swatch";
      b.style.background = color;
      b.dataset.color = color;
      b.setAttribute("aria-label", `Colour ${name}`);
      b.addEventListener("click", () => pick(color));
      return b;
    }),
  );
}

/** Marks the current colour's button as pressed. */
export function showColor(color: string | undefined): void {
  for (const b of Array.from(el.swatches.querySelectorAll<HTMLButtonElement>("button")))
    b.setAttribute("aria-pressed", String(b.dataset.color === color));
}

/** The seat button: what pressing it would do, or who holds the seat. */
export function showSeat(holder: string | null, mine: boolean, free: boolean): void {
  const b = el.seatButton;
  b.textContent = mine ? "Leave the seat" : free ? "Take the seat" : `Seat taken by ${holder}`;
  // aria-disabled, not disabled: a disabled button drops the keyboard
  // focus, and a screen reader user should still reach and hear it.
  b.setAttribute("aria-disabled", String(!mine && !free));
}

/** The view radius slider: `set` gets the radius chosen (0: the whole
 * room). A server without views leaves it disabled. */
export function offerViewRadius(enabled: boolean, set: (radius: number) => void): void {
  const input = el.viewRadius;
  const show = () => {
    const r = Number(input.value);
    const text = r > 0 ? `${r} units` : "whole room";
    el.viewRadiusValue.textContent = text;
    input.setAttribute("aria-valuetext", text);
  };
  input.disabled = !enabled;
  if (!enabled) input.title = "this server has no views";
  input.addEventListener("input", () => {
    show();
    set(Number(input.value));
  });
  show();
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
