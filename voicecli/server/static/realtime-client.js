// The realtime connection (GA event names): the WebSocket (/v1/realtime, the API key as a
// subprotocol) or a WebRTC call's data channel (webrtc-link.js, which looks like a WebSocket); send events with ids (so an error can be traced to the event that caused it),
// count what goes each way, and dispatch every server event to the handler registered for its
// type in a table.

const SENT_TYPES_KEPT = 500;

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/v1/realtime?voicecli_latency=1`;  // opt in to voicecli.turn.latency
}

export class RealtimeClient {
  constructor() {
    this.ws = null;
    this.rtc = null; // the WebRTC link, when the session runs on one
    this.handlers = new Map(); // event type → handler(event)
    this.sentTypes = new Map(); // our event_id → type
    this.eventSeq = 0;
    this.stats = { sent: {}, received: {} }; // event counts by type, for the whole page
    this.onClose = null; // (code, reason) for a socket closed by the server or the network
  }

  /** Register handlers: an object mapping event types to functions. One handler per type. */
  handle(table) {
    for (const [type, handler] of Object.entries(table)) {
      if (this.handlers.has(type)) throw new Error(`two handlers for ${type}`);
      this.handlers.set(type, handler);
    }
  }

  get connected() { return this.ws !== null; }

  /** Open a socket (throws if the URL is refused). Events flow to the handlers. */
  connect(apiKey) {
    const protocols = ["realtime"];
    if (apiKey) protocols.push(`openai-insecure-api-key.${apiKey}`);
    this.attach(new WebSocket(wsUrl(), protocols));
  }

  /** Use an open link: a WebSocket, or a WebRTC call's (webrtc-link.js, with rtc true). */
  attach(ws, rtc = false) {
    this.ws = ws;
    this.rtc = rtc ? ws : null;
    ws.onmessage = (m) => {
      let e;
      try { e = JSON.parse(m.data); } catch { return; }
      this.stats.received[e.type] = (this.stats.received[e.type] || 0) + 1;
      const handler = this.handlers.get(e.type);
      if (!handler) return;
      try { handler(e); } catch (err) { console.error("handling", e.type, err); }
    };
    ws.onclose = (c) => {
      if (this.ws !== ws) return; // dropped by us (detach): not news
      if (this.onClose) this.onClose(c.code, c.reason);
    };
  }

  /** Forget the socket without closing it: its close is no longer reported. */
  detach() {
    const ws = this.ws;
    this.ws = null;
    this.rtc = null;
    return ws;
  }

  /** Close the socket we asked to close (not reported to onClose). */
  close() {
    const ws = this.detach();
    if (ws) { try { ws.close(1000, "bye"); } catch { /* already closed */ } }
  }

  /** Send one client event with a fresh event_id; false if the socket is not open. */
  send(event) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false; // WebSocket.OPEN
    const id = `evt_web_${++this.eventSeq}`;
    event.event_id = id;
    this.sentTypes.set(id, event.type);
    if (this.sentTypes.size > SENT_TYPES_KEPT) this.sentTypes.delete(this.sentTypes.keys().next().value);
    this.stats.sent[event.type] = (this.stats.sent[event.type] || 0) + 1;
    ws.send(JSON.stringify(event));
    return true;
  }

  /** The type of the event we sent with this id (for errors), or null. */
  causeOf(eventId) {
    return (eventId && this.sentTypes.get(eventId)) || null;
  }
}
