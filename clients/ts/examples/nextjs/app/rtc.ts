import type { PlazaClient } from "plaza-client";
import type { AvatarState, Rtc, Shared, Signals } from "./shapes";

/** A WebRTC connection to session `peer`: offer, answer and ICE
 * candidates travel as SIGNALs to that session only (plaza stores none).
 * The lower id offers. Signals from one sender arrive in order; they are
 * handled in order too, so no candidate comes before its description. */
export function connectPeer(
  c: PlazaClient<AvatarState, Signals, Shared>,
  peer: number,
): RTCPeerConnection {
  const pc = new RTCPeerConnection({ iceServers: [{ urls: "stun:stun.l.google.com:19302" }] });
  const send = (m: Rtc) => void c.signal("rtc", m, peer);
  let inOrder = Promise.resolve();
  const off = c.on("signal", (s) => {
    if (s.kind !== "rtc" || s.from !== peer) return;
    const m = s.data;
    inOrder = inOrder.then(async () => {
      if (m.type === "ice") return pc.addIceCandidate(m.candidate);
      await pc.setRemoteDescription({ type: m.type, sdp: m.sdp });
      if (m.type === "offer") {
        await pc.setLocalDescription();
        send({ type: "answer", sdp: pc.localDescription?.sdp ?? "" });
      }
    });
  });
  pc.onicecandidate = (e) => e.candidate && send({ type: "ice", candidate: e.candidate.toJSON() });
  pc.onnegotiationneeded = async () => {
    if (c.id > peer) return;
    await pc.setLocalDescription();
    send({ type: "offer", sdp: pc.localDescription?.sdp ?? "" });
  };
  pc.onconnectionstatechange = () => pc.connectionState === "closed" && off();
  return pc;
}
