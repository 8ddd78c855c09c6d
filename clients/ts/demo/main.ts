/*
 * The demo page plaza serves at GET /: joins ?room= (default lobby) as
 * ?name= (default a guest name), moves with the keyboard, draws the room
 * top-down, chats. window.__plaza exposes what is drawn, for tests.
 */
import {
  ClientOp,
  createClient,
  ErrorCode,
  interpolate,
  Interpolator,
  type PlazaClient,
  Predictor,
} from "../src/index.js";
import { Keys } from "./input.js";
import { clearLog, el, logLine, offerRooms, setStatus, showMembers } from "./ui.js";
import { type Avatar, draw, resizes } from "./view.js";

const SPEED = 8; // units per second, well under the server's default 50
const STEP_MS = 50; // 20 moves a second at most, under the 60/s limit

const params = new URLSearchParams(location.search);
const name = params.get("name") || `guest-${Math.floor(1000 + Math.random() * 9000)}`;
let room = params.get("room") || "lobby";

let avatars: Avatar[] = [];
const exposed = {
  client: null as PlazaClient | null,
  /** The avatars as last drawn: interpolated others, predicted self. */
  avatars: () => avatars.map((a) => ({ ...a })),
  chats: [] as Array<{ name: string; text: string }>,
  /** How often the canvas was reallocated (a resize, not every frame). */
  canvasResizes: () => resizes.count,
};
(window as unknown as { __plaza: typeof exposed }).__plaza = exposed;

async function main(): Promise<void> {
  el.myName.textContent = name;
  setStatus("connecting");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // A reload resumes this tab's session (same id, no duplicate member).
  const c = createClient({
    url: `${scheme}://${location.host}/ws`,
    name,
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
  const keys = new Keys(window);

  const refreshMembers = () => showMembers(c.members.values(), c.id);
  c.on("room", (r) => {
    el.room.textContent = r.room;
    clearLog();
    for (const h of r.history) logLine("chat", h.name, h.text);
    refreshMembers();
  });
  c.on("joined", (m) => {
    logLine("sys", "", `${m.name} joined`);
    refreshMembers();
  });
  c.on("left", (l) => {
    if (l.member && !l.self) logLine("sys", "", `${l.member.name} left`);
    refreshMembers();
  });
  c.on("chat", (m) => {
    exposed.chats.push({ name: m.name, text: m.text });
    logLine("chat", m.name, m.text);
  });
  c.on("whisper", (m) => logLine("whisper", `${m.name} (whisper)`, m.text));
  c.on("error", (e) => {
    // A refused move is corrected on the canvas; a refused join is told
    // by enter(), which asked.
    if (e.code === ErrorCode.move_rejected || e.requestOp === ClientOp.Join) return;
    logLine("sys", "", `error ${e.codeName}: ${e.message}`);
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

  const frame = () => {
    avatars = [];
    for (const m of c.members.values()) {
      const self = m.id === c.id;
      const p = self ? pred.position : interp.sample(m.id) ?? m;
      avatars.push({ id: m.id, name: m.name, self, x: p.x, y: p.y, z: p.z, yaw: p.yaw });
    }
    draw(el.canvas, avatars, pred.position);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);

  await enter(c, room);
  void measure();
  el.canvas.focus();
}

/** Joins a room and puts it in the address, so the link invites. */
async function enter(c: PlazaClient, next: string): Promise<void> {
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
