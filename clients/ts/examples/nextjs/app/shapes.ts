// The app's own shapes of plaza's protocol 1.1, declared once: the page,
// its hook and any server code (a route handler calling plaza's admin
// API, say) import them, so the three cannot disagree.
export const EMOTES = ["wave", "dance", "heart"] as const;
export type Emote = (typeof EMOTES)[number];

/** Each member's state: what every member of the room sees of it. */
export interface AvatarState {
  color: string;
}

/** WebRTC's offer, answer and ICE candidates, to one session. */
export type Rtc =
  | { type: "offer" | "answer"; sdp: string }
  | { type: "ice"; candidate: RTCIceCandidateInit };

/** Signals: kind -> data. */
export interface Signals {
  emote: { type: Emote };
  rtc: Rtc;
}

/** The room's shared state: key -> value. */
export interface Shared {
  seat: { id: number; name: string };
}
