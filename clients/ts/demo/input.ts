/*
 * Input to movement: WASD and arrows held down give a direction, and so
 * does a finger (or the mouse) held on the room view: towards where it
 * points, from the middle of the view, where the caller's avatar is
 * drawn. The caller turns the direction into steps at its own rate. Keys
 * typed into a text field are the user's text, not movement; 1-3 are
 * emotes (given to `onEmote`).
 */
const DIRS: Record<string, [number, number]> = {
  KeyW: [0, -1], ArrowUp: [0, -1],
  KeyS: [0, 1], ArrowDown: [0, 1],
  KeyA: [-1, 0], ArrowLeft: [-1, 0],
  KeyD: [1, 0], ArrowRight: [1, 0],
};
const EMOTE_KEYS: Record<string, number> = { Digit1: 0, Digit2: 1, Digit3: 2, Numpad1: 0, Numpad2: 1, Numpad3: 2 };
const DEAD_ZONE_PX = 12; // a finger on the avatar itself: stand still

export class Keys {
  private held = new Set<string>();
  private pointer: { id: number; x: number; y: number } | null = null;

  constructor(target: Window, view: HTMLCanvasElement, onEmote: (i: number) => void) {
    target.addEventListener("keydown", (e) => {
      if (e.target instanceof HTMLInputElement) return;
      const emote = EMOTE_KEYS[e.code];
      if (emote !== undefined && !e.repeat && !e.ctrlKey && !e.metaKey && !e.altKey) {
        onEmote(emote);
        return;
      }
      if (!(e.code in DIRS)) return;
      this.held.add(e.code);
      e.preventDefault();
    });
    target.addEventListener("keyup", (e) => this.held.delete(e.code));
    target.addEventListener("blur", () => {
      this.held.clear();
      this.pointer = null;
    });
    const at = (e: PointerEvent) => {
      const r = view.getBoundingClientRect();
      return { id: e.pointerId, x: e.clientX - r.left - r.width / 2, y: e.clientY - r.top - r.height / 2 };
    };
    view.addEventListener("pointerdown", (e) => {
      this.pointer = at(e);
      view.setPointerCapture(e.pointerId);
      view.focus();
      e.preventDefault();
    });
    view.addEventListener("pointermove", (e) => {
      if (this.pointer?.id === e.pointerId) this.pointer = at(e);
    });
    const up = (e: PointerEvent) => {
      if (this.pointer?.id === e.pointerId) this.pointer = null;
    };
    view.addEventListener("pointerup", up);
    view.addEventListener("pointercancel", up);
  }

  /** Unit direction (dx, dz) of the keys held or the finger down, or
   * null when none. */
  direction(): [number, number] | null {
    let dx = 0;
    let dz = 0;
    for (const k of this.held) {
      const d = DIRS[k];
      if (d) {
        dx += d[0];
        dz += d[1];
      }
    }
    if (this.pointer && Math.hypot(this.pointer.x, this.pointer.y) > DEAD_ZONE_PX) {
      dx += this.pointer.x;
      dz += this.pointer.y;
    }
    const len = Math.hypot(dx, dz);
    return len ? [dx / len, dz / len] : null;
  }
}
