/*
 * The top-down view: a grid in world units, one disc per avatar with its
 * heading, colour, name and emote, and the room's seat. x runs right and
 * z runs down; y (height) is not drawn. The camera follows the caller's
 * own avatar. Names never overlap: each label takes the first place
 * around its avatar that no label drawn before it holds. With a view
 * radius, a dashed circle shows it, and avatars out of view are drawn
 * faint where they were last seen.
 */
import type { Position } from "../src/index.js";
import type { Emote } from "./social.js";

export interface Avatar extends Position {
  id: number;
  name: string;
  self: boolean;
  color: string;
  emote: Emote | undefined;
  /** Out of this page's view: drawn faint at its last known place. */
  dim: boolean;
}

export interface SeatView extends Position {
  holder: string | null;
  color: string | null;
}

/** A label's box in CSS pixels of the canvas. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const PX_PER_UNIT = 24;
const LABEL_H = 16;
const DIM_ALPHA = 0.35;
const EMOTE_TEXT: Record<Emote, string> = { wave: "wave o/", dance: "dance ~", heart: "\u2665 heart" };

/** Reallocations of the canvas' backing store, for tests. */
export const resizes = { count: 0 };
/** The labels as last drawn, for tests. */
export let lastLabels: Array<Box & { text: string }> = [];

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/**
 * Places boxes of the given sizes near their anchors without overlaps:
 * each tries above its anchor, then further up, then below, then to the
 * sides, and takes the first free place (the last tried if none is).
 * Anchors are the top of what they label; boxes come back in order.
 */
export function placeLabels(items: Array<{ x: number; y: number; w: number }>): Box[] {
  const placed: Box[] = [];
  const tries: Array<[number, number]> = [
    [0, -1], [0, -2], [0, -3], [0, 2.6], [0, 3.6],
    [-1, -1], [1, -1], [-1, 2.6], [1, 2.6], [0, -4], [0, 4.6],
  ];
  for (const it of items) {
    let box: Box = { x: it.x - it.w / 2, y: it.y - LABEL_H, w: it.w, h: LABEL_H };
    for (const [fx, fy] of tries) {
      const b = { x: it.x - it.w / 2 + fx * (it.w / 2 + 4), y: it.y + fy * LABEL_H, w: it.w, h: LABEL_H };
      box = b;
      if (!placed.some((p) => overlaps(p, b))) break;
    }
    placed.push(box);
  }
  return placed;
}

function resize(canvas: HTMLCanvasElement): CanvasRenderingContext2D | null {
  const dpr = window.devicePixelRatio || 1;
  // The backing store is whole pixels: at a display scale of 1.25 a
  // width of 801 is 1001.25, which canvas.width can never equal. Compare
  // rounded, or the canvas is reallocated on every frame.
  const bw = Math.round(canvas.clientWidth * dpr);
  const bh = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== bw || canvas.height !== bh) {
    canvas.width = bw;
    canvas.height = bh;
    resizes.count++;
  }
  const g = canvas.getContext("2d");
  g?.setTransform(dpr, 0, 0, dpr, 0, 0);
  return g;
}

function grid(g: CanvasRenderingContext2D, w: number, h: number, camera: Position): void {
  const sx = (x: number) => w / 2 + (x - camera.x) * PX_PER_UNIT;
  const sz = (z: number) => h / 2 + (z - camera.z) * PX_PER_UNIT;
  // A line per unit, stronger every 5, so motion is visible.
  const x0 = Math.floor(camera.x - w / 2 / PX_PER_UNIT);
  const z0 = Math.floor(camera.z - h / 2 / PX_PER_UNIT);
  for (let x = x0; x <= x0 + w / PX_PER_UNIT + 1; x++) {
    g.strokeStyle = x % 5 === 0 ? "#2a2f3d" : "#1c1f28";
    g.beginPath();
    g.moveTo(sx(x), 0);
    g.lineTo(sx(x), h);
    g.stroke();
  }
  for (let z = z0; z <= z0 + h / PX_PER_UNIT + 1; z++) {
    g.strokeStyle = z % 5 === 0 ? "#2a2f3d" : "#1c1f28";
    g.beginPath();
    g.moveTo(0, sz(z));
    g.lineTo(w, sz(z));
    g.stroke();
  }
}

export function draw(
  canvas: HTMLCanvasElement,
  avatars: Avatar[],
  seat: SeatView,
  camera: Position,
  now: number,
  viewRadius = 0,
): void {
  const g = resize(canvas);
  if (!g) return;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  g.fillStyle = "#14161c";
  g.fillRect(0, 0, w, h);
  grid(g, w, h, camera);
  const sx = (x: number) => w / 2 + (x - camera.x) * PX_PER_UNIT;
  const sz = (z: number) => h / 2 + (z - camera.z) * PX_PER_UNIT;
  g.font = "12px system-ui, sans-serif";
  g.textAlign = "center";
  g.textBaseline = "middle";

  // The seat: a square in its holder's colour, outlined when free.
  const seatX = sx(seat.x);
  const seatY = sz(seat.z);
  g.lineWidth = 2;
  g.strokeStyle = "#c8ccd8";
  g.fillStyle = seat.color ?? "#14161c";
  g.fillRect(seatX - 12, seatY - 12, 24, 24);
  g.strokeRect(seatX - 12, seatY - 12, 24, 24);

  if (viewRadius > 0) {
    // The view: members enter it within the radius (and leave it past
    // 1.25 times it).
    g.setLineDash([6, 6]);
    g.strokeStyle = "#4a5066";
    g.beginPath();
    g.arc(sx(camera.x), sz(camera.z), viewRadius * PX_PER_UNIT, 0, 2 * Math.PI);
    g.stroke();
    g.setLineDash([]);
  }

  const texts: Array<{ text: string; x: number; y: number; color: string; alpha?: number }> = [
    { text: seat.holder ? `seat: ${seat.holder}` : "seat (free)", x: seatX, y: seatY - 14, color: "#c8ccd8" },
  ];
  for (const a of avatars) {
    // A dancer bobs; everyone else stands still on the grid.
    const bob = a.emote === "dance" ? Math.sin(now / 90) * 3 : 0;
    const x = sx(a.x);
    const y = sz(a.z) + bob;
    g.globalAlpha = a.dim ? DIM_ALPHA : 1;
    g.fillStyle = a.color;
    g.beginPath();
    g.arc(x, y, 10, 0, 2 * Math.PI);
    g.fill();
    if (a.self) {
      g.strokeStyle = "#ffffff";
      g.lineWidth = 2;
      g.stroke();
    }
    g.strokeStyle = "#fff";
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(x, y);
    g.lineTo(x + Math.cos(a.yaw) * 14, y + Math.sin(a.yaw) * 14);
    g.stroke();
    const alpha = a.dim ? DIM_ALPHA + 0.25 : 1;
    texts.push({ text: a.self ? `${a.name} (you)` : a.name, x, y: y - 12, color: "#e6e6e6", alpha });
    if (a.emote) texts.push({ text: EMOTE_TEXT[a.emote], x, y: y - 12, color: "#14161c", alpha });
  }
  g.globalAlpha = 1;
  g.lineWidth = 1;
  const boxes = placeLabels(texts.map((t) => ({ x: t.x, y: t.y, w: g.measureText(t.text).width + 8 })));
  lastLabels = [];
  texts.forEach((t, i) => {
    const b = boxes[i] as Box;
    g.globalAlpha = t.alpha ?? 1;
    if (t.color === "#14161c") {
      // An emote: a light bubble, dark text (8:1 and more).
      g.fillStyle = "#f4f1d0";
      g.fillRect(b.x, b.y, b.w, b.h);
    }
    g.fillStyle = t.color;
    g.fillText(t.text, b.x + b.w / 2, b.y + b.h / 2);
    lastLabels.push({ ...b, text: t.text });
  });
  g.globalAlpha = 1;
}
