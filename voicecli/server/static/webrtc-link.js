// WebRTC to `voicecli serve` (OpenAI's GA flow): the microphone as the peer connection's audio
// track, the events on the "oai-events" data channel, the reply on the remote track played by an
// <audio> element; the offer is POSTed to /v1/realtime/calls (application/sdp) and the answer
// comes back in the body. The link looks like a WebSocket to realtime-client.js (readyState,
// send, close, onmessage, onclose), so the session and conversation code stay the same.
// Chosen with ?transport=webrtc; the page falls back to the WebSocket when a call cannot be made.

const OPEN = 1;
const CLOSED = 3;
const GATHER_TIMEOUT_MS = 3000;
const OPEN_TIMEOUT_MS = 10000;

export function webrtcRequested() {
  return new URLSearchParams(location.search).get("transport") === "webrtc" && "RTCPeerConnection" in window;
}

function gathered(pc) {
  // The server takes the offer whole (no trickle ICE): wait for the host candidates.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_TIMEOUT_MS);
  });
}

export class RtcLink {
  constructor(pc, channel, player, stream) {
    this.pc = pc;
    this.channel = channel;
    this.player = player;
    this.stream = stream;
    this.handler = null;
    this.early = []; // events that came before the client took the link
    this.onclose = null;
    this.closed = false;
    channel.onmessage = (m) => { if (this.handler) this.handler(m); else this.early.push(m); };
    channel.onclose = () => this.ended(1001, "the call ended");
    pc.onconnectionstatechange = () => {
      if (["failed", "closed"].includes(pc.connectionState)) this.ended(1006, `connection ${pc.connectionState}`);
    };
  }

  set onmessage(handler) {
    this.handler = handler;
    for (const m of this.early.splice(0)) handler(m);
  }

  get readyState() { return this.channel.readyState === "open" ? OPEN : CLOSED; }

  send(data) { this.channel.send(data); }

  ended(code, reason) {
    if (this.closed) return;
    this.close();
    if (this.onclose) this.onclose({ code, reason });
  }

  close() {
    this.closed = true;
    try { this.channel.close(); } catch { /* already closed */ }
    try { this.pc.close(); } catch { /* already closed */ }
    for (const t of this.stream.getTracks()) t.stop();
    this.player.srcObject = null;
    this.player.remove();
  }

  /** Energy of the reply audio received so far (the browser's inbound-rtp statistics). */
  async receivedEnergy() {
    let energy = 0;
    (await this.pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") energy += s.totalAudioEnergy || 0;
    });
    return energy;
  }
}

/** Open a call (throws with a message when it cannot be made: the caller falls back). */
export async function openCall(apiKey) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const pc = new RTCPeerConnection();
  const player = document.createElement("audio");
  player.autoplay = true;
  player.hidden = true;
  document.body.append(player);
  pc.ontrack = (e) => { player.srcObject = e.streams[0] || new MediaStream([e.track]); };
  for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
  const channel = pc.createDataChannel("oai-events");
  const link = new RtcLink(pc, channel, player, stream);
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const headers = { "Content-Type": "application/sdp" };
    if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
    const r = await fetch("/v1/realtime/calls", { method: "POST", body: pc.localDescription.sdp, headers });
    if (r.status !== 201) {
      let msg = `HTTP ${r.status}`;
      try { msg = (await r.json()).error.message; } catch { /* not JSON */ }
      throw new Error(msg);
    }
    await pc.setRemoteDescription({ type: "answer", sdp: await r.text() });
    await new Promise((resolve, reject) => {
      if (channel.readyState === "open") { resolve(); return; }
      channel.addEventListener("open", resolve, { once: true });
      setTimeout(() => reject(new Error("the data channel did not open")), OPEN_TIMEOUT_MS);
    });
  } catch (err) {
    link.close();
    throw err;
  }
  return link;
}
