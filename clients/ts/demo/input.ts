/*
 * Keyboard to movement: WASD and arrows held down give a direction; the
 * caller turns it into steps at its own rate. Keys typed into a text field
 * are the user's text, not movement.
 */
const DIRS: Record<string, [number, number]> = {
  KeyW: [0, -1], ArrowUp: [0, -1],
  KeyS: [0, 1], ArrowDown: [0, 1],
  KeyA: [-1, 0], ArrowLeft: [-1, 0],
  KeyD: [1, 0], ArrowRight: [1, 0],
};

export class Keys {
  private held = new Set<string>();

  constructor(target: Window) {
    target.addEventListener("keydown", (e) => {
      if (e.target instanceof HTMLInputElement || !(e.code in DIRS)) return;
      this.held.add(e.code);
      e.preventDefault();
    });
    target.addEventListener("keyup", (e) => this.held.delete(e.code));
    target.addEventListener("blur", () => this.held.clear());
  }

  /** Unit direction (dx, dz) of the keys held, or null when none. */
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
    const len = Math.hypot(dx, dz);
    return len ? [dx / len, dz / len] : null;
  }
}
