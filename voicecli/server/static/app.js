// voicecli browser voice page: the entry module. It builds the parts and wires them together;
// each concern lives in its own module (native ES modules, no build step, nothing loaded from
// elsewhere). The page talks the OpenAI Realtime protocol (GA event names) to `voicecli serve`
// at /v1/realtime: 24 kHz PCM16, base64, server VAD (hands-free) or push-to-talk.
//
//   state.js            the state snapshot and its named transitions
//   view.js             element lookups, rendering the state, the error banner
//   realtime-client.js  the WebSocket, event ids and counts, the event dispatch table
//   webrtc-link.js      a WebRTC call instead of the WebSocket (?transport=webrtc)
//   session.js          Start/Stop, the session handshake, settings on a live session, errors
//   conversation.js     the conversation's events, reply audio, barge-in and truncation
//   push-to-talk.js     hold to talk (button or space bar)
//   audio-in.js         microphone capture and level meter
//   audio-out.js        the AudioContext and the reply player
//   transcript.js       the conversation as shown
//   latency.js          the per-turn latency panel
//   settings.js         the settings card and the session.update it becomes
//   wire.js             the wire audio format
//   worklets.js         the AudioWorklet processors (capture, player)

import { Microphone } from "./audio-in.js";
import { AudioOut } from "./audio-out.js";
import { Conversation } from "./conversation.js";
import { Latency } from "./latency.js";
import { PushToTalk } from "./push-to-talk.js";
import { RealtimeClient } from "./realtime-client.js";
import { Session } from "./session.js";
import { Settings } from "./settings.js";
import { Store } from "./state.js";
import { Transcript } from "./transcript.js";
import { hideError, renderState, showError, ui } from "./view.js";

const settings = new Settings(ui);
const store = new Store({ mode: settings.values.mode });
const client = new RealtimeClient();
const transcript = new Transcript(ui.transcript, ui.hint);
// (Closures below name parts built after them: they only run once the page is live.)
const latency = new Latency(ui, transcript, () => audioOut.outputLatencyMs());
const audioOut = new AudioOut({
  onStarted: (itemId) => { store.apply("playbackStarted"); latency.soundStarted(itemId); },
  onStopped: () => store.apply("playbackStopped"),
  onPlayed: (n) => { ui.app.dataset.playedSamples = String(n); },
  onReceived: (n) => { ui.app.dataset.receivedSamples = String(n); },
  onContextRate: (hz) => { ui.app.dataset.contextRate = String(hz); },
});
const conversation = new Conversation({ store, client, transcript, latency, audioOut, app: ui.app, showError });
const mic = new Microphone(audioOut, ui.level, (samples) => session.onMicBlock(samples));
const session = new Session({ store, client, settings, audioOut, mic, conversation, latency, showError, hideError });
const ptt = new PushToTalk({ store, client, conversation, latency, settings, button: ui.talk, showError });

client.handle(session.handlers());
client.handle(conversation.handlers());
client.handle({ "voicecli.turn.latency": (e) => latency.serverReported(e) });

// For debugging and the end-to-end test (docs/web.md).
window.voicecli = Object.freeze({
  get state() { return store.state; },
  get transitions() { return store.recent; },
  get stats() { return client.stats; },
  get level() { return mic.level; },
  get playedBy() { return audioOut.playedBy; },
  get receivedSamples() { return audioOut.receivedSamples; },
  get items() { return transcript.items; },
  get clocks() { return latency.clocks; },
  get defaultsFromServer() { return session.serverDefaults; },
  get transport() { return client.rtc ? "webrtc" : (client.connected ? "websocket" : null); },
  rtcReceivedEnergy() { return client.rtc ? client.rtc.receivedEnergy() : Promise.resolve(0); },
});

function wire() {
  ui.start.addEventListener("click", () => {
    if (store.state.connection === "disconnected") session.start();
    else session.stop();
  });
  ui.interrupt.addEventListener("click", () => conversation.interrupt("button"));
  ui.settings.addEventListener("submit", (ev) => {
    ev.preventDefault();
    session.applySettings();
  });
  for (const el of [ui.speed, ui.threshold, ui.silence]) el.addEventListener("input", () => settings.updateOutputs());
  ui.apiKey.addEventListener("change", () => {
    settings.rememberApiKey();
    settings.loadVoices(showError);
  });
  for (const r of document.querySelectorAll('input[name="mode"]')) {
    r.addEventListener("change", () => { if (r.checked) session.setMode(r.value); });
  }
  ptt.bindButton();
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      if (store.state.connection === "connected") conversation.interrupt("escape");
      return;
    }
    ptt.onKeyDown(e);
  });
  document.addEventListener("keyup", (e) => ptt.onKeyUp(e));
  window.addEventListener("blur", () => ptt.up()); // a held key is never released if the window loses focus
}

settings.show();
store.subscribe(renderState);
wire();
settings.loadVoices(showError);
