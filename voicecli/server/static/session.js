// The session's lifecycle: Start (audio context inside the click, then the socket), the
// session.created → session.update → session.updated handshake that lets audio flow, Stop and
// unexpected disconnects, settings and talk-mode changes on a live session, and server errors.

import { floatToBase64Pcm16 } from "./wire.js";
import { QUIET_ERRORS } from "./conversation.js";
import { MicrophoneRefused } from "./audio-in.js";
import { openCall, webrtcRequested } from "./webrtc-link.js";

export class Session {
  /** deps: {store, client, settings, audioOut, mic, conversation, latency, showError, hideError} */
  constructor(deps) {
    Object.assign(this, deps);
    this.serverDefaults = null; // the session object of session.created
    this.client.onClose = (code, reason) => this.onClosed(code, reason);
  }

  async start() {
    const { store, showError } = this;
    if (store.state.connection !== "disconnected") return;
    this.hideError();
    if (!window.isSecureContext || !navigator.mediaDevices || !window.AudioWorkletNode) {
      showError("Browsers only allow the microphone on secure pages: open this page as http://localhost:PORT " +
                "on the machine running voicecli, or through HTTPS (see docs/web.md).", 30000);
      return;
    }
    store.apply("connecting");
    try {
      await this.audioOut.open(); // inside the click: lets the page play sound
    } catch (err) {
      store.apply("disconnected");
      showError(`Audio is not available in this browser: ${err.message || err}`);
      return;
    }
    if (store.state.connection !== "connecting") return; // Stop was pressed meanwhile
    if (webrtcRequested() && await this.startCall()) return;
    try {
      this.client.connect(this.settings.apiKey());
    } catch (err) {
      store.apply("disconnected");
      showError(`Cannot connect: ${err.message || err}`);
      return;
    }
    store.apply("socketOpened");
  }

  /** ?transport=webrtc: a WebRTC call; false (after a short notice) to fall back to the WebSocket. */
  async startCall() {
    let link;
    try {
      link = await openCall(this.settings.apiKey());
    } catch (err) {
      console.warn("WebRTC call failed, using the WebSocket:", err);
      this.showError(`WebRTC is not available (${err.message || err}); using the WebSocket.`, 6000);
      return false;
    }
    if (this.store.state.connection !== "connecting") { link.close(); return true; } // Stop meanwhile
    this.client.attach(link, true);
    this.store.apply("socketOpened");
    return true;
  }

  stop() {
    this.client.close(); // detached first: this close is not reported as a disconnect
    this.teardown();
  }

  teardown() {
    this.client.detach();
    this.mic.stop();
    this.audioOut.flush();
    this.latency.reset();
    this.conversation.reset();
    this.store.apply("disconnected");
  }

  onClosed(code, reason) {
    const opened = this.store.state.connection === "connected";
    this.teardown();
    // (Stop detaches the socket first, so only closes the user did not ask for get here.)
    this.showError(opened ? `Disconnected${reason ? `: ${reason}` : ""} (code ${code}). Press Start to talk again.`
      : "Could not connect to the voice server. Is it running, and does it need an API key (Settings)?", 30000);
  }

  /** Audio may flow: the server took our settings (or refused them and keeps its own). */
  async ready() {
    this.store.apply("sessionReady");
    try {
      await this.mic.start(() => this.client.connected);
    } catch (refused) {
      if (!(refused instanceof MicrophoneRefused)) throw refused;
      const err = refused.cause;
      this.showError(`Microphone not available: ${err.message || err.name}. ` +
                     "Allow the microphone and press Start again.");
      this.stop();
    }
  }

  /** A captured block: sent while hands-free, or while the talk button is held (plus its tail). */
  onMicBlock(samples) {
    const s = this.store.state;
    if (this.client.rtc) return; // on WebRTC the microphone is the call's audio track
    if (s.ready && (s.mode === "vad" || s.pttHeld || s.pttTail)) {
      this.client.send({ type: "input_audio_buffer.append", audio: floatToBase64Pcm16(samples) });
    }
  }

  /** The settings form was submitted. */
  async applySettings() {
    const { settings, store } = this;
    const { voiceChanged } = settings.takeForm();
    if (store.state.connection !== "connected") {
      settings.setStatus("Saved. They apply when you press Start.");
      return;
    }
    if (voiceChanged && store.state.audioProduced) {
      // The Realtime API fixes the voice once audio was produced: start a fresh session.
      settings.setStatus("Saved. The new voice starts a new conversation.");
      this.stop();
      await this.start();
      return;
    }
    this.client.send(settings.sessionUpdate(store.state.mode, voiceChanged));
    settings.setStatus("Applied.");
  }

  setMode(mode) {
    const { store, client } = this;
    this.settings.saveMode(mode);
    if (store.state.ready && mode === "ptt") client.send({ type: "input_audio_buffer.clear" });
    store.apply("modeChanged", mode);
    if (store.state.ready) client.send(this.settings.modeUpdate(mode));
  }

  handlers() {
    return {
      "session.created": (e) => {
        this.serverDefaults = e.session || null;
        this.settings.showServerDefaults(e.session);
        this.settings.adoptServerSession(e.session);
        this.client.send(this.settings.sessionUpdate(this.store.state.mode, true));
      },
      "session.updated": () => {
        if (!this.store.state.ready) this.ready();
      },
      error: (e) => this.onServerError(e.error || {}),
    };
  }

  onServerError(err) {
    const cause = this.client.causeOf(err.event_id);
    if (cause && QUIET_ERRORS.has(cause)) { console.debug(cause, "refused:", err.message); return; }
    if (cause === "session.update") {
      this.showError(`The server refused the settings: ${err.message || err.code}`);
      if (!this.store.state.ready && this.client.connected) this.ready(); // carry on with the server's defaults
      return;
    }
    if (err.code === "input_audio_buffer_commit_empty") {
      this.store.apply("nothingRecorded");
      this.showError("Nothing was recorded: hold the button while you speak.", 4000);
    } else if (err.code === "conversation_already_has_active_response") {
      return;
    } else {
      this.showError(err.message || "The server reported an error.");
    }
  }
}
