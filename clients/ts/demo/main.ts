/*
 * The demo page plaza serves at GET /: joins ?room= (default lobby) as
 * ?name= (default a guest name), moves with the keyboard or a finger,
 * draws the room top-down, chats; avatars have a colour (member state)
 * and emotes (signals), and the room has a seat anyone can take (room
 * state). A slider sets a view radius (VIEW, compact): members out of
 * view are dimmed where they were last seen. window.__plaza exposes what
 * is drawn, for tests.
 */
import {
  ClientOp,
  createClient,
  ErrorCode,
  interpolate,
  Interpolator,
  Predictor,
} from "../src/index.js";
import { Keys } from "./input.js";
import {
  colorFor,
  colorOf,
  type DemoClient,
  type DemoRoom,
  type DemoSignals,
  type DemoState,
  EMOTES,
  Emotes,
  isEmote,
  SEAT,
  seatFree,
  seatHolder,
  spawnPoint,
  toggleSeat,
} from "./social.js";
import {
  clearLog,
  el,
  logLine,
  offerColors,
  offerRooms,
  offerViewRadius,
  setStatus,
  showColor,
  showMembers,
  showSeat,
} from "./ui.js";
import { type Avatar, draw, lastLabels, placeLabels, resizes } from "./view.js";

const SPEED = 8; // units per second, well under the server's default 50
const STEP_MS = 50; // 20 moves a second at most, under the 60/s limit
const EMOTE_WORDS = { wave: "waves", dance: "dances", heart: "sends a heart" } as const;

const params = new URLSearchParams(location.search);
const name = params.get("name") || `guest-${Math.floor(1000 + Math.random() * 9000)}`;
let room = params.get("room") || "lobby";

let avatars: Avatar[] = [];
const exposed = {
  client: null as DemoClient | null,
  /** The avatars as last drawn: interpolated others, predicted self,
   * with their colour and emote. */
  avatars: () => avatars.map((a) => ({ ...a })),
  chats: [] as Array<{ name: string; text: string }>,
  /** How often the canvas was reallocated (a resize, not every frame). */
  canvasResizes: () => resizes.count,
  /** The seat's holder as this page sees it. */
  seat: () => (exposed.client ? seatHolder(exposed.client) : null),
  /** The name labels as last drawn (CSS pixels of the canvas). */
  labels: () => lastLabels.map((l) => ({ ...l })),
  /** The label layout itself, for tests with boxes of their own. */
  placeLabels,
  /** The view this page asked for (null: the whole room). */
  view: () => exposed.client?.view ?? null,
};
(window as unknown as { __plaza: typeof exposed }).__plaza = exposed;

async function main(): Promise<void> {
  el.myName.textContent = name;
  setStatus("connecting");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // A reload resumes this tab's session (same id, no duplicate member).
  const c: DemoClient = createClient<DemoState, DemoSignals, DemoRoom>({
    url: `${scheme}://${location.host}/ws`,
    name,
    state: { color: colorFor(name) },
    persistSession: true,
  });
  exposed.client = c;
  // Listening before connect(): the first status and welcome are seen.
  c.on("status", (s) => {
    const detail =
      s.status === "reconnecting" || (s.status === "connecting" && s.attempt)
        ? `attempt ${s.attempt}`
        : s.status === "closed"
          ? s.reason ?? ""
          : "";
    setStatus(s.status, detail);
  });
  c.on("welcome", (w) => (el.myId.textContent = String(w.id)));
  try {
    await c.connect();
  } catch (e) {
    setStatus("closed", (e as Error).message);
    return;
  }
  const pred = new Predictor(c);
  const interp = new Interpolator({ delayMs: 100, tickMs: 1000 / c.tickHz });
  interpolate(c, interp);
  const emotes = new Emotes();
  const emote = (i: number) => {
    const type = EMOTES[i];
    if (!type || c.room === null) return;
    emotes.show(c.id, type); // signals do not come back to their sender
    c.signal("emote", { type });
  };
  const keys = new Keys(window, el.canvas, emote);
  const colorOfMember = (id: number) =>
    (id === c.id ? colorOf(c.state) : undefined) ?? colorOf(c.members.get(id)?.state ?? {}) ?? "#7d8394";

  const refreshMembers = () => showMembers(c.members.values(), c.id, (m) => colorOfMember(m.id));
  // The list shows who is out of view: redrawn when that changes, not at
  // every STATE.
  let outOfView = "";
  c.on("members", (ms) => {
    const now = [...ms.values()].filter((m) => m.outOfView).map((m) => m.id).join();
    if (now === outOfView) return;
    outOfView = now;
    refreshMembers();
  });
  const refreshSeat = () => {
    const h = seatHolder(c);
    showSeat(h?.name ?? null, h?.id === c.id, seatFree(c));
  };
  c.on("room", (r) => {
    el.room.textContent = r.room;
    clearLog();
    for (const h of r.history) logLine("chat", h.name, h.text);
    refreshMembers();
    refreshSeat();
    // A joiner (not a resumed session, which kept its place) spawns at a
    // point clear of the others and of the seat.
    if (!r.resumed) {
      const p = spawnPoint(r.members.filter((m) => m.id !== c.id));
      pred.step({ dx: p.x - pred.position.x, dz: p.z - pred.position.z });
    }
  });
  c.on("joined", (m) => {
    logLine("sys", "", `${m.name} joined`);
    refreshMembers();
    refreshSeat();
  });
  c.on("left", (l) => {
    if (l.member && !l.self) logLine("sys", "", `${l.member.name} left`);
    refreshMembers();
    refreshSeat();
  });
  c.on("member", refreshMembers);
  c.on("signal", (s) => {
    if (s.kind !== "emote" || !isEmote(s.data?.type) || !c.members.has(s.from)) return;
    emotes.show(s.from, s.data.type);
    logLine("sys", "", `${s.name} ${EMOTE_WORDS[s.data.type]}`);
  });
  c.on("roomState", (e) => {
    refreshSeat();
    if (e.change?.key !== "seat" || e.change.by === c.id) return;
    const h = seatHolder(c);
    const who = c.members.get(e.change.by)?.name ?? "someone";
    logLine("sys", "", h ? `${h.name} took the seat` : `${who} left the seat`);
  });
  c.on("chat", (m) => {
    exposed.chats.push({ name: m.name, text: m.text });
    logLine("chat", m.name, m.text);
  });
  c.on("whisper", (m) => logLine("whisper", `${m.name} (whisper)`, m.text));
  c.on("error", (e) => {
    // A refused move is corrected on the canvas; a refused join is told
    // by enter(), which asked, and a refused seat by toggleSeat().
    if (e.code === ErrorCode.move_rejected || e.requestOp === ClientOp.Join) return;
    if (e.requestOp === ClientOp.RoomSet) return;
    logLine("sys", "", `error ${e.codeName}: ${e.message}`);
  });

  offerColors((color) => {
    c.setState({ color });
    showColor(color);
    refreshMembers();
  });
  showColor(colorOf(c.state));
  // The view radius: only the members within it come, as compact
  // positions; 0 is the whole room, as without a view.
  offerViewRadius(c.features.has("view") && c.features.has("compact"), (radius) => {
    try {
      c.setView(radius > 0 ? { radius, compact: true } : null);
    } catch (e) {
      logLine("sys", "", `view: ${(e as Error).message}`);
    }
  });
  for (const b of el.emoteButtons) b.addEventListener("click", () => emote(Number(b.dataset.emote)));
  el.seatButton.addEventListener("click", async () => {
    if (el.seatButton.getAttribute("aria-disabled") === "true") return;
    logLine("sys", "", await toggleSeat(c));
    refreshSeat();
  });
  el.chatForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = el.chatInput.value.trim();
    if (text) c.chat(text);
    el.chatInput.value = "";
    el.canvas.focus();
  });
  el.roomForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = el.roomInput.value.trim();
    if (next) void enter(c, next);
    el.roomInput.value = "";
  });
  window.addEventListener("keydown", (e) => {
    // Enter on the room view (or nowhere) starts a chat line; on a
    // button or a field it is theirs.
    const at = document.activeElement;
    if (e.key === "Enter" && (at === el.canvas || at === document.body || at === null)) {
      el.chatInput.focus();
      e.preventDefault();
    }
  });

  // Movement at a fixed rate, so the MOVE rate stays under the limit
  // however fast the display refreshes.
  setInterval(() => {
    const d = keys.direction();
    if (!d || c.room === null) return;
    const step = (SPEED * STEP_MS) / 1000;
    pred.step({
      dx: d[0] * step,
      dz: d[1] * step,
      dyaw: Math.atan2(d[1], d[0]) - pred.position.yaw,
    });
  }, STEP_MS);

  const measure = async () => {
    try {
      el.rtt.textContent = `${(await c.ping()).toFixed(1)} ms`;
    } catch {
      el.rtt.textContent = "–";
    }
  };
  setInterval(measure, 1000);
  setInterval(offerRooms, 5000);
  void offerRooms();

  const frame = (now: number) => {
    avatars = [];
    for (const m of c.members.values()) {
      const self = m.id === c.id;
      const p = self ? pred.position : interp.sample(m.id) ?? m;
      avatars.push({
        id: m.id,
        name: m.name,
        self,
        x: p.x,
        y: p.y,
        z: p.z,
        yaw: p.yaw,
        color: colorOfMember(m.id),
        emote: emotes.of(m.id, now),
        dim: m.outOfView === true,
      });
    }
    const h = seatHolder(c);
    const seat = { ...SEAT, holder: h?.name ?? null, color: h ? colorOfMember(h.id) : null };
    draw(el.canvas, avatars, seat, pred.position, now, c.view?.radius ?? 0);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);

  await enter(c, room);
  void measure();
  el.canvas.focus();
}

/** Joins a room and puts it in the address, so the link invites. */
async function enter(c: DemoClient, next: string): Promise<void> {
  try {
    await c.join(next);
    room = next;
    const url = new URL(location.href);
    url.searchParams.set("room", room);
    url.searchParams.set("name", name);
    history.replaceState(null, "", url);
  } catch (e) {
    // A RefusedError says code and reason: "room_full (5): room is full".
    logLine("sys", "", `cannot join ${next}: ${(e as Error).message}`);
  }
}

void main();
