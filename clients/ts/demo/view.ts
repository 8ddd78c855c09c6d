/*
 * The top-down view: a grid in world units, one disc per avatar with its
 * heading and name. x runs right and z runs down; y (height) is not drawn.
 * The camera follows the caller's own avatar.
 */
import type { Position } from "../src/index.js";

export interface Avatar extends Position {
  id: number;
  name: string;
  self: boolean;
}

const PX_PER_UNIT = 24;

/** Reallocations of the canvas' backing store, for tests. */
export const resizes = { count: 0 };

export function draw(canvas: HTMLCanvasElement, avatars: Avatar[], camera: Position): void {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  // The backing store is whole pixels: at a display scale of 1.25 a
  // width of 801 is 1001.25, which canvas.width can never equal. Compare
  // rounded, or the canvas is reallocated on every frame.
  const bw = Math.round(w * dpr);
  const bh = Math.round(h * dpr);
  if (canvas.width !== bw || canvas.height !== bh) {
    canvas.width = bw;
    canvas.height = bh;
    resizes.count++;
  }
  const g = canvas.getContext("2d");
  if (!g) return;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.fillStyle = "#14161c";
  g.fillRect(0, 0, w, h);
  const sx = (x: number) => w / 2 + (x - camera.x) * PX_PER_UNIT;
  const sz = (z: number) => h / 2 + (z - camera.z) * PX_PER_UNIT;

  // Grid: a line per unit, stronger every 5, so motion is visible.
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

  g.font = "12px system-ui, sans-serif";
  g.textAlign = "center";
  for (const a of avatars) {
    const x = sx(a.x);
    const y = sz(a.z);
    g.fillStyle = a.self ? "#3aa0e8" : hue(a.id);
    g.beginPath();
    g.arc(x, y, 10, 0, 2 * Math.PI);
    g.fill();
    g.strokeStyle = "#fff";
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(x, y);
    g.lineTo(x + Math.cos(a.yaw) * 14, y + Math.sin(a.yaw) * 14);
    g.stroke();
    g.lineWidth = 1;
    g.fillStyle = "#e6e6e6";
    g.fillText(a.self ? `${a.name} (you)` : a.name, x, y - 16);
  }
}

/** A stable colour per id, so an avatar keeps its colour across reloads. */
function hue(id: number): string {
  return `hsl(${(id * 47) % 360} 60% 55%)`;
}
