// voicecli browser voice page. Plain ES module, no build step, nothing loaded from elsewhere.
// Talks the OpenAI Realtime protocol (GA event names) to `voicecli serve` at /v1/realtime:
// 24 kHz PCM16, base64, server VAD (hands-free) or push-to-talk (turn_detection null).

const WIRE_RATE_HZ = 24000;
const CAPTURE_BLOCK = 1200; // samples at 24 kHz = 50 ms per input_audio_buffer.append
const PTT_TAIL_MS = 150; // keep sending this long after release: the last words are still in the graph
const MIN_PTT_MS = 200; // shorter holds are treated as accidental taps
const SETTINGS_KEY = "voicecli.web.settings";
const KEY_KEY = "voicecli.web.apiKey";
const SERVER_STAGES = ["voice_to_voice", "endpoint_wait", "stt", "llm_first_token", "tts_first_audio"];
const QUIET_ERRORS = new Set(["response.cancel", "conversation.item.truncate", "conversation.item.retrieve"]);

const $ = (id) => document.getElementById(id);
const ui = {
  app: $("app"), connection: $("connection"), connectionText: $("connection-text"), state: $("state-text"),
  transcript: $("transcript"), hint: $("empty-hint"), error: $("error"), start: $("start"), talk: $("talk"),
  interrupt: $("interrupt"), level: $("level"), settings: $("settings"), voice: $("voice"), speed: $("speed"),
  speedOut: $("speed-out"), threshold: $("threshold"), thresholdOut: $("threshold-out"), silence: $("silence"),
  silenceOut: $("silence-out"), instructions: $("instructions"), apiKey: $("api-key"),
  settingsStatus: $("settings-status"), latBrowser: $("lat-browser"),
  latTranscript: $("lat-browser-transcript"), latAudio: $("lat-browser-audio"),
};

// --- state -------------------------------------------------------------------------------------
const S = {
  ws: null,
  connection: "disconnected", // disconnected | connecting | connected
  ready: false, // session.updated received: audio may flow
  mode: "vad", // vad | ptt
  ctx: null,
  player: null,
  capture: null,
  source: null,
  stream: null,
  audioProduced: false,
  response: null, // {id, itemId, dropAudio, clock}
  items: new Map(), // item id → {role, li, textEl, metaEl, text, received, responseId}
  clock: null, // timing of the user turn waiting for its reply
  clocks: new Map(), // response id → clock
  hearing: false,
  awaitingReply: false,
  playing: false,
  pttHeld: false,
  pttTail: false,
  pttPressedAt: 0,
  playedBy: {}, // item id → samples played (from the player worklet)
  receivedSamples: 0,
  pendingTruncates: new Map(), // response id → [{item, ms}]
  flushWaiters: new Map(),
  nextFlush: 1,
  eventSeq: 0,
  sentTypes: new Map(), // our event_id → type (to recognise errors we caused)
  stats: { sent: {}, received: {} },
  turns: 0,
  level: 0,
  errorTimer: 0,
  defaultsFromServer: null,
  defaultVoice: null,
};
window.voicecli = S; // for debugging and the end-to-end test

const settings = loadSettings();

// --- settings ----------------------------------------------------------------------------------
function loadSettings() {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}"); } catch { saved = {}; }
  return { voice: saved.voice || "", speed: num(saved.speed, 1), threshold: num(saved.threshold, 0.5),
           silence: num(saved.silence, 500), instructions: typeof saved.instructions === "string" ? saved.instructions : "",
           mode: saved.mode === "ptt" ? "ptt" : "vad" };
}

function num(v, d) { const n = Number(v); return Number.isFinite(n) ? n : d; }

function saveSettings() {
  try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings)); } catch { /* private mode */ }
}

function apiKey() { return ui.apiKey.value.trim(); }

function showSettings() {
  ui.speed.value = settings.speed; ui.threshold.value = settings.threshold; ui.silence.value = settings.silence;
  ui.instructions.value = settings.instructions;
  try { ui.apiKey.value = sessionStorage.getItem(KEY_KEY) || ""; } catch { /* ignore */ }
  updateOutputs();
  for (const r of document.querySelectorAll('input[name="mode"]')) r.checked = r.value === settings.mode;
  S.mode = settings.mode;
}

function updateOutputs() {
  ui.speedOut.textContent = `${Number(ui.speed.value).toFixed(2)}×`;
  ui.thresholdOut.textContent = Number(ui.threshold.value).toFixed(2);
  ui.silenceOut.textContent = `${ui.silence.value} ms`;
}

function turnDetection() {
  if (S.mode === "ptt") return null;
  return { type: "server_vad", threshold: settings.threshold, silence_duration_ms: Math.round(settings.silence),
           prefix_padding_ms: 300, create_response: true, interrupt_response: true };
}

function sessionUpdate(includeVoice) {
  const fmt = { type: "audio/pcm", rate: WIRE_RATE_HZ };
  const session = {
    type: "realtime",
    output_modalities: ["audio"],
    audio: {
      input: { format: fmt, transcription: { model: "whisper-1" }, turn_detection: turnDetection() },
      output: { format: fmt, speed: settings.speed },
    },
  };
  if (settings.instructions.trim()) session.instructions = settings.instructions;
  if (includeVoice && settings.voice) session.audio.output.voice = settings.voice;
  return { type: "session.update", session };
}

async function loadVoices() {
  const headers = apiKey() ? { Authorization: `Bearer ${apiKey()}` } : {};
  let voices = [];
  let fallback = null;
  try {
    const r = await fetch("/web/config.json", { headers, cache: "no-store" });
    if (r.ok) {
      const cfg = await r.json();
      voices = Array.isArray(cfg.voices) ? cfg.voices : [];
      fallback = cfg.default_voice || null;
    } else if (r.status === 401) {
      showError("This server needs an API key: enter it under Settings.");
    }
  } catch { /* offline or an older server: keep the server's default voice */ }
  S.defaultVoice = fallback;
  ui.voice.replaceChildren();
  if (!voices.length) ui.voice.add(new Option("Server default", ""));
  for (const v of voices) ui.voice.add(new Option(v === fallback ? `${v} (default)` : v, v));
  ui.voice.value = voices.includes(settings.voice) ? settings.voice : (fallback || "");
}

function chosenVoice() { return settings.voice || S.defaultVoice || ""; }

async function applySettings(ev) {
  ev.preventDefault();
  const voiceChanged = ui.voice.value !== chosenVoice();
  Object.assign(settings, { voice: ui.voice.value, speed: Number(ui.speed.value),
                            threshold: Number(ui.threshold.value), silence: Number(ui.silence.value),
                            instructions: ui.instructions.value });
  saveSettings();
  try { sessionStorage.setItem(KEY_KEY, apiKey()); } catch { /* ignore */ }
  if (S.connection !== "connected") {
    ui.settingsStatus.textContent = "Saved. They apply when you press Start.";
    return;
  }
  if (voiceChanged && S.audioProduced) {
    // The Realtime API fixes the voice once audio was produced: start a fresh session.
    ui.settingsStatus.textContent = "Saved. The new voice starts a new conversation.";
    stop();
    await start();
    return;
  }
  send(sessionUpdate(voiceChanged));
  ui.settingsStatus.textContent = "Applied.";
}

// --- connection --------------------------------------------------------------------------------
function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/v1/realtime`;
}

function send(event) {
  if (!S.ws || S.ws.readyState !== WebSocket.OPEN) return false;
  const id = `evt_web_${++S.eventSeq}`;
  event.event_id = id;
  S.sentTypes.set(id, event.type);
  if (S.sentTypes.size > 500) S.sentTypes.delete(S.sentTypes.keys().next().value);
  S.stats.sent[event.type] = (S.stats.sent[event.type] || 0) + 1;
  S.ws.send(JSON.stringify(event));
  return true;
}

async function start() {
  if (S.connection !== "disconnected") return;
  hideError();
  if (!window.isSecureContext || !navigator.mediaDevices || !window.AudioWorkletNode) {
    showError("Browsers only allow the microphone on secure pages: open this page as http://localhost:PORT " +
              "on the machine running voicecli, or through HTTPS (see docs/web.md).", 30000);
    return;
  }
  setConnection("connecting");
  try {
    await ensureAudio(); // inside the click: lets the page play sound
  } catch (err) {
    setConnection("disconnected");
    showError(`Audio is not available in this browser: ${err.message || err}`);
    return;
  }
  if (S.connection !== "connecting") return; // Stop was pressed meanwhile
  const protocols = ["realtime"];
  if (apiKey()) protocols.push(`openai-insecure-api-key.${apiKey()}`);
  let ws;
  try {
    ws = new WebSocket(wsUrl(), protocols);
  } catch (err) {
    setConnection("disconnected");
    showError(`Cannot connect: ${err.message || err}`);
    return;
  }
  S.ws = ws;
  S.ready = false;
  S.audioProduced = false;
  ws.onmessage = (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch { return; }
    S.stats.received[e.type] = (S.stats.received[e.type] || 0) + 1;
    try { onServerEvent(e); } catch (err) { console.error("handling", e.type, err); }
  };
  ws.onclose = (c) => {
    if (S.ws !== ws) return;
    const opened = S.connection === "connected";
    teardown();
    // (Stop clears S.ws first, so only closes the user did not ask for get here.)
    showError(opened ? `Disconnected${c.reason ? `: ${c.reason}` : ""} (code ${c.code}). Press Start to talk again.`
      : "Could not connect to the voice server. Is it running, and does it need an API key (Settings)?", 30000);
  };
}

function stop() {
  const ws = S.ws;
  teardown();
  if (ws) { try { ws.close(1000, "bye"); } catch { /* already closed */ } }
}

function teardown() {
  S.ws = null;
  S.ready = false;
  stopMic();
  flushPlayer();
  S.response = null;
  S.clock = null;
  S.hearing = S.awaitingReply = S.pttHeld = S.pttTail = false;
  ui.talk.setAttribute("aria-pressed", "false");
  setConnection("disconnected");
}

function setConnection(c) {
  S.connection = c;
  ui.app.dataset.connection = c;
  ui.connectionText.textContent = { disconnected: "Not connected", connecting: "Connecting…", connected: "Connected" }[c];
  ui.start.textContent = c === "disconnected" ? "Start" : "Stop";
  ui.start.setAttribute("aria-label", c === "disconnected" ? "Start" : "Stop");
  ui.interrupt.disabled = c !== "connected";
  ui.talk.disabled = c !== "connected" || S.mode !== "ptt";
  refreshState();
}

// --- audio graph --------------------------------------------------------------------------------
async function ensureAudio(forceDefaultRate = false) {
  if (S.ctx && S.ctx.state !== "closed" && !forceDefaultRate) {
    await S.ctx.resume();
    return;
  }
  if (S.ctx) { try { await S.ctx.close(); } catch { /* ignore */ } }
  let ctx;
  if (!forceDefaultRate) {
    try { ctx = new AudioContext({ sampleRate: WIRE_RATE_HZ, latencyHint: "interactive" }); } catch { ctx = null; }
  }
  if (!ctx) ctx = new AudioContext({ latencyHint: "interactive" });
  S.ctx = ctx;
  ui.app.dataset.contextRate = String(ctx.sampleRate);
  const resumed = ctx.resume();
  await ctx.audioWorklet.addModule(new URL("./worklets.js", import.meta.url));
  const player = new AudioWorkletNode(ctx, "voicecli-player", { numberOfInputs: 0, numberOfOutputs: 1,
                                                                outputChannelCount: [1] });
  player.port.onmessage = (m) => onPlayerMessage(m.data);
  player.connect(ctx.destination);
  S.player = player;
  S.playedBy = {};
  await resumed;
}

async function startMic() {
  const constraints = { audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true,
                                 channelCount: 1 } };
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(constraints);
  } catch (err) {
    showError(`Microphone not available: ${err.message || err.name}. Allow the microphone and press Start again.`);
    stop();
    return;
  }
  if (S.ws === null) { stream.getTracks().forEach((t) => t.stop()); return; }
  let source;
  try {
    source = S.ctx.createMediaStreamSource(stream);
  } catch {
    // Firefox refuses to mix a microphone into a context at another rate: run at the device
    // rate and let the capture worklet resample to 24 kHz.
    await ensureAudio(true);
    source = S.ctx.createMediaStreamSource(stream);
  }
  const capture = new AudioWorkletNode(S.ctx, "voicecli-capture", {
    numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: "explicit",
    processorOptions: { targetRate: WIRE_RATE_HZ, blockSize: CAPTURE_BLOCK },
  });
  capture.port.onmessage = (m) => onCaptureBlock(m.data);
  source.connect(capture);
  Object.assign(S, { stream, source, capture });
}

function stopMic() {
  if (S.stream) S.stream.getTracks().forEach((t) => t.stop());
  if (S.source) { try { S.source.disconnect(); } catch { /* ignore */ } }
  if (S.capture) { S.capture.port.onmessage = null; }
  S.stream = S.source = S.capture = null;
  S.level = 0;
  ui.level.value = 0;
}

function onCaptureBlock(msg) {
  if (msg.type !== "audio") return;
  // Level meter: −60 dBFS … 0 dBFS → 0 … 1, fast attack, slow release.
  const db = 20 * Math.log10(Math.max(msg.rms, 1e-6));
  const target = Math.min(1, Math.max(0, (db + 60) / 60));
  S.level = target > S.level ? target : S.level * 0.8 + target * 0.2;
  ui.level.value = S.level.toFixed(3);
  const sending = S.ready && (S.mode === "vad" || S.pttHeld || S.pttTail);
  if (sending) send({ type: "input_audio_buffer.append", audio: floatToBase64Pcm16(msg.samples) });
}

function floatToBase64Pcm16(f32) {
  const pcm = new Int16Array(f32.length);
  for (let i = 0; i < f32.length; i++) {
    const s = Math.max(-1, Math.min(1, f32[i]));
    pcm[i] = s < 0 ? s * 0x8000 : s * 0x7fff;
  }
  const bytes = new Uint8Array(pcm.buffer);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function base64Pcm16ToFloat(b64) {
  const bin = atob(b64);
  const n = bin.length >> 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
    if (v >= 0x8000) v -= 0x10000;
    out[i] = v / 0x8000;
  }
  return out;
}

function onPlayerMessage(msg) {
  if (msg.type === "progress") {
    S.playedBy = msg.played;
    let total = 0;
    for (const k in msg.played) total += msg.played[k];
    ui.app.dataset.playedSamples = String(total);
  } else if (msg.type === "started") {
    S.playing = true;
    firstSoundOf(msg.item);
    refreshState();
  } else if (msg.type === "drained") {
    S.playing = false;
    refreshState();
  } else if (msg.type === "flushed") {
    S.playedBy = msg.played;
    S.playing = false;
    const resolve = S.flushWaiters.get(msg.id);
    S.flushWaiters.delete(msg.id);
    if (resolve) resolve(msg);
    refreshState();
  }
}

function flushPlayer() {
  if (!S.player) return Promise.resolve({ played: {}, discarded: {}, wasPlaying: false });
  const id = S.nextFlush++;
  return new Promise((resolve) => {
    S.flushWaiters.set(id, resolve);
    S.player.port.postMessage({ type: "flush", id });
    setTimeout(() => { if (S.flushWaiters.delete(id)) resolve({ played: S.playedBy, discarded: {}, wasPlaying: false }); }, 500);
  });
}

// --- barge-in ----------------------------------------------------------------------------------
async function interrupt(why) {
  const resp = S.response;
  if (resp && !resp.dropAudio) {
    resp.dropAudio = true; // audio still in flight for it is not played
    send({ type: "response.cancel" });
  }
  const flushed = await flushPlayer();
  const items = new Set(Object.keys(flushed.discarded || {}).filter((k) => flushed.discarded[k] > 0));
  if (resp && resp.itemId) items.add(resp.itemId);
  for (const itemId of items) {
    const item = S.items.get(itemId);
    if (!item || item.role !== "assistant" || item.truncated) continue;
    const played = (flushed.played && flushed.played[itemId]) || 0;
    if (played >= item.received && !(resp && resp.itemId === itemId)) continue; // all of it was heard
    const ms = Math.floor((played * 1000) / WIRE_RATE_HZ);
    item.truncated = true;
    item.li.classList.add("interrupted");
    if (resp && resp.itemId === itemId) {
      // The server registers the item's audio when the response ends: truncate after response.done.
      const list = S.pendingTruncates.get(resp.id) || [];
      list.push({ item: itemId, ms });
      S.pendingTruncates.set(resp.id, list);
    } else {
      sendTruncate(itemId, ms);
    }
  }
  S.awaitingReply = false;
  S.playing = false;
  refreshState();
  if (why) console.debug("interrupted:", why);
}

function sendTruncate(itemId, ms) {
  send({ type: "conversation.item.truncate", item_id: itemId, content_index: 0, audio_end_ms: ms });
  ui.app.dataset.lastTruncateMs = String(ms);
}

// --- push-to-talk ------------------------------------------------------------------------------
function pttDown() {
  if (S.mode !== "ptt" || !S.ready || S.pttHeld) return;
  if (S.playing || S.response) interrupt("push-to-talk");
  send({ type: "input_audio_buffer.clear" });
  S.pttHeld = true;
  S.pttTail = false;
  S.pttPressedAt = performance.now();
  ui.talk.setAttribute("aria-pressed", "true");
  refreshState();
}

function pttUp() {
  if (!S.pttHeld) return;
  S.pttHeld = false;
  ui.talk.setAttribute("aria-pressed", "false");
  const heldMs = performance.now() - S.pttPressedAt;
  if (heldMs < MIN_PTT_MS) {
    send({ type: "input_audio_buffer.clear" });
    ui.settingsStatus.textContent = "";
    showError("Hold the button (or the space bar) while you speak.", 3000);
    refreshState();
    return;
  }
  const releasedAt = performance.now();
  S.pttTail = true;
  S.awaitingReply = true;
  refreshState();
  setTimeout(() => {
    S.pttTail = false;
    if (!S.ready) return;
    send({ type: "input_audio_buffer.commit" });
    send({ type: "response.create" });
    S.clock = { t0: releasedAt, userItem: null };
  }, PTT_TAIL_MS);
}

function isTextEntry(el) {
  if (!el || el === document.body) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  return tag === "TEXTAREA" || tag === "SELECT" || tag === "INPUT";
}

function isOtherControl(el) {
  if (!el || el === ui.talk) return false;
  const tag = el.tagName;
  return tag === "BUTTON" || tag === "SUMMARY" || tag === "A";
}

// --- server events -----------------------------------------------------------------------------
function onServerEvent(e) {
  switch (e.type) {
    case "session.created":
      S.defaultsFromServer = e.session || null;
      if (!settings.instructions && e.session && e.session.instructions && !ui.instructions.value) {
        ui.instructions.placeholder = `Server default: ${e.session.instructions}`;
      }
      send(sessionUpdate(true));
      break;
    case "session.updated":
      if (!S.ready) {
        S.ready = true;
        setConnection("connected");
        startMic();
      }
      break;
    case "input_audio_buffer.speech_started":
      S.hearing = true;
      if (S.playing || (S.response && !S.response.dropAudio)) interrupt("speech started");
      userItem(e.item_id);
      refreshState();
      break;
    case "input_audio_buffer.speech_stopped":
      S.hearing = false;
      S.awaitingReply = true;
      S.clock = { t0: performance.now(), userItem: e.item_id };
      refreshState();
      break;
    case "input_audio_buffer.committed":
      userItem(e.item_id);
      if (S.clock && !S.clock.userItem) S.clock.userItem = e.item_id;
      break;
    case "conversation.item.input_audio_transcription.delta": {
      const it = userItem(e.item_id);
      it.text += e.delta || "";
      it.textEl.textContent = it.text;
      break;
    }
    case "conversation.item.input_audio_transcription.completed": {
      const it = userItem(e.item_id);
      it.text = (e.transcript || "").trim();
      if (!it.text) {
        removeItem(e.item_id);
        if (S.clock && S.clock.userItem === e.item_id && !S.response) { S.awaitingReply = S.mode === "ptt"; }
      } else {
        it.textEl.textContent = it.text;
        it.li.classList.remove("pending");
        it.li.dataset.final = "true";
      }
      if (S.clock && S.clock.userItem === e.item_id) S.clock.transcript = performance.now();
      refreshState();
      break;
    }
    case "conversation.item.input_audio_transcription.failed":
      removeItem(e.item_id);
      break;
    case "response.created": {
      const clock = S.clock && !S.clock.bound ? S.clock : null;
      if (clock) { clock.bound = true; S.clocks.set(e.response.id, clock); }
      S.response = { id: e.response.id, itemId: null, dropAudio: false };
      S.awaitingReply = true;
      refreshState();
      break;
    }
    case "response.output_item.added":
      if (S.response && e.response_id === S.response.id && e.item) {
        S.response.itemId = e.item.id;
        assistantItem(e.item.id, e.response_id);
      }
      break;
    case "response.output_audio_transcript.delta":
    case "response.output_text.delta": {
      const it = assistantItem(e.item_id, e.response_id);
      it.text += e.delta || "";
      it.textEl.textContent = it.text;
      break;
    }
    case "response.output_audio.delta": {
      if (!S.response || S.response.id !== e.response_id || S.response.dropAudio) break;
      const samples = base64Pcm16ToFloat(e.delta);
      const it = assistantItem(e.item_id, e.response_id);
      it.received += samples.length;
      S.receivedSamples += samples.length;
      ui.app.dataset.receivedSamples = String(S.receivedSamples);
      S.audioProduced = true;
      const clock = S.clocks.get(e.response_id);
      if (clock && clock.firstAudio === undefined) clock.firstAudio = performance.now();
      S.player.port.postMessage({ type: "push", item: e.item_id, samples }, [samples.buffer]);
      break;
    }
    case "response.output_audio_transcript.done": {
      const it = S.items.get(e.item_id);
      if (it && typeof e.transcript === "string" && e.transcript && !it.truncated) {
        it.text = e.transcript;
        it.textEl.textContent = it.text;
      }
      break;
    }
    case "response.done": {
      const r = e.response || {};
      if (S.response && S.response.id === r.id) S.response = null;
      S.awaitingReply = false;
      const status = r.status;
      for (const out of r.output || []) {
        const it = S.items.get(out.id);
        if (it) {
          it.li.classList.remove("pending");
          it.li.dataset.final = "true";
          if (status === "cancelled") it.li.classList.add("interrupted");
        }
      }
      for (const t of S.pendingTruncates.get(r.id) || []) sendTruncate(t.item, t.ms);
      S.pendingTruncates.delete(r.id);
      if (status === "completed" || status === "cancelled") {
        S.turns += 1;
        ui.app.dataset.turns = String(S.turns);
      }
      if (status === "failed") showError(r.status_details?.error?.message || "The reply failed.");
      renderLatency(r.id);
      refreshState();
      break;
    }
    case "conversation.item.truncated":
      ui.app.dataset.truncatedMs = String(e.audio_end_ms);
      send({ type: "conversation.item.retrieve", item_id: e.item_id });
      break;
    case "conversation.item.retrieved": {
      const it = S.items.get(e.item?.id);
      const heard = e.item?.content?.[0]?.transcript;
      if (it && it.role === "assistant" && typeof heard === "string") showHeard(it, heard);
      break;
    }
    case "voicecli.turn.latency":
      onServerLatency(e);
      break;
    case "error":
      onServerError(e.error || {});
      break;
    default:
      break;
  }
}

function onServerError(err) {
  const cause = err.event_id ? S.sentTypes.get(err.event_id) : null;
  if (cause && QUIET_ERRORS.has(cause)) { console.debug(cause, "refused:", err.message); return; }
  if (cause === "session.update") {
    showError(`The server refused the settings: ${err.message || err.code}`);
    if (!S.ready && S.ws) { // carry on with the server's defaults
      S.ready = true;
      setConnection("connected");
      startMic();
    }
    return;
  }
  if (err.code === "input_audio_buffer_commit_empty") {
    S.awaitingReply = false;
    showError("Nothing was recorded: hold the button while you speak.", 4000);
  } else if (err.code === "conversation_already_has_active_response") {
    return;
  } else {
    showError(err.message || "The server reported an error.");
  }
  refreshState();
}

// --- transcript --------------------------------------------------------------------------------
function newEntry(role, itemId) {
  ui.hint.hidden = true;
  const li = document.createElement("li");
  li.className = `msg ${role} pending`;
  li.dataset.itemId = itemId;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "user" ? "You" : "Assistant";
  const sr = document.createElement("span");
  sr.className = "visually-hidden";
  sr.textContent = role === "user" ? " said: " : " says: ";
  const text = document.createElement("p");
  text.className = "text";
  const meta = document.createElement("p");
  meta.className = "meta";
  li.append(who, sr, text, meta);
  ui.transcript.append(li);
  li.scrollIntoView({ block: "end", behavior: "smooth" });
  const item = { role, li, textEl: text, metaEl: meta, text: "", received: 0, responseId: null, truncated: false };
  S.items.set(itemId, item);
  return item;
}

function userItem(itemId) {
  const it = S.items.get(itemId);
  if (it) return it;
  const created = newEntry("user", itemId);
  created.textEl.textContent = "…";
  return created;
}

function assistantItem(itemId, responseId) {
  let it = S.items.get(itemId);
  if (!it) {
    it = newEntry("assistant", itemId);
    it.responseId = responseId;
  }
  return it;
}

function removeItem(itemId) {
  const it = S.items.get(itemId);
  if (!it) return;
  it.li.remove();
  S.items.delete(itemId);
}

function showHeard(it, heard) {
  // The server keeps the words that were played (whole sentences plus a proportional prefix of
  // the one cut off); show those normally and strike out the rest.
  const words = it.text.trim().split(/\s+/).filter(Boolean);
  const kept = heard.trim() ? heard.trim().split(/\s+/).length : 0;
  it.textEl.replaceChildren();
  if (kept < words.length) {
    const rest = document.createElement("span");
    rest.className = "unheard";
    rest.title = "Not played: you interrupted";
    const restText = words.slice(kept).join(" ");
    rest.textContent = kept ? ` ${restText}` : restText;
    const sr = document.createElement("span");
    sr.className = "visually-hidden";
    sr.textContent = " (not played)";
    it.textEl.append(document.createTextNode(words.slice(0, kept).join(" ")), rest, sr);
  } else {
    it.textEl.textContent = it.text;
  }
  it.li.classList.add("interrupted");
}

// --- latency -----------------------------------------------------------------------------------
function firstSoundOf(itemId) {
  const it = S.items.get(itemId);
  if (!it || !it.responseId) return;
  const clock = S.clocks.get(it.responseId);
  if (!clock || clock.firstSound !== undefined) return;
  const outLatencyMs = ((S.ctx.outputLatency || 0) + (S.ctx.baseLatency || 0)) * 1000;
  clock.firstSound = performance.now() + outLatencyMs;
  renderLatency(it.responseId);
}

function onServerLatency(e) {
  const raw = e.latency_ms || e.latency || {};
  const stages = {};
  for (const k of Object.keys(raw)) {
    const name = k.endsWith("_ms") ? k.slice(0, -3) : k;
    if (typeof raw[k] === "number") stages[name] = raw[k];
  }
  const id = e.response_id || (S.items.get(e.item_id) || {}).responseId;
  if (!id) return;
  const clock = S.clocks.get(id) || {};
  clock.server = stages;
  S.clocks.set(id, clock);
  renderLatency(id);
}

function ms(v) {
  return v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}

function setFigure(dd, v) {
  if (v === undefined || v === null || !Number.isFinite(v)) return;
  dd.textContent = ms(v);
  dd.dataset.ms = String(Math.round(v));
}

function renderLatency(responseId) {
  const clock = S.clocks.get(responseId);
  if (!clock) return;
  const browser = clock.firstSound !== undefined && clock.t0 !== undefined ? clock.firstSound - clock.t0 : undefined;
  const parts = [];
  if (browser !== undefined) {
    setFigure(ui.latBrowser, browser);
    if (clock.transcript !== undefined) setFigure(ui.latTranscript, clock.transcript - clock.t0);
    else { ui.latTranscript.textContent = "–"; ui.latTranscript.dataset.ms = ""; }
    if (clock.firstAudio !== undefined) setFigure(ui.latAudio, clock.firstAudio - clock.t0);
    parts.push(`first sound ${ms(browser)} after you stopped`);
  }
  if (clock.server) {
    for (const s of SERVER_STAGES) {
      const dd = $(`lat-server-${s}`);
      if (clock.server[s] !== undefined) setFigure(dd, clock.server[s]);
      else { dd.textContent = "–"; dd.dataset.ms = ""; }
    }
    const sv = clock.server;
    const bits = [["voice to voice", sv.voice_to_voice], ["STT", sv.stt], ["LLM", sv.llm_first_token],
                  ["TTS", sv.tts_first_audio]]
      .filter(([, v]) => typeof v === "number").map(([k, v]) => `${k} ${ms(v)}`);
    if (bits.length) parts.push(`server: ${bits.join(" · ")}`);
  }
  const it = [...S.items.values()].find((x) => x.responseId === responseId && x.role === "assistant");
  if (it && parts.length) {
    it.metaEl.textContent = parts.join(" — ");
    it.li.dataset.latencyMs = browser !== undefined ? String(Math.round(browser)) : "";
  }
}

// --- state -------------------------------------------------------------------------------------
function refreshState() {
  let state;
  if (S.connection === "connecting") state = "connecting";
  else if (S.connection !== "connected") state = "offline";
  else if (S.playing) state = "speaking";
  else if (S.hearing || S.pttHeld) state = "hearing";
  else if (S.awaitingReply || S.response) state = "thinking";
  else state = S.mode === "ptt" ? "ready" : "listening";
  const label = { connecting: "Connecting", offline: "Offline", speaking: "Speaking", hearing: "Hearing you",
                  thinking: "Thinking", ready: "Ready — hold to talk", listening: "Listening" }[state];
  if (ui.app.dataset.state !== state) {
    ui.app.dataset.state = state;
    ui.state.textContent = label;
  }
}

function showError(text, hideAfterMs = 10000) {
  ui.error.textContent = text;
  ui.error.hidden = false;
  clearTimeout(S.errorTimer);
  S.errorTimer = setTimeout(hideError, hideAfterMs);
}

function hideError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}

// --- wiring ------------------------------------------------------------------------------------
function setMode(mode) {
  S.mode = mode;
  settings.mode = mode;
  saveSettings();
  ui.app.dataset.mode = mode;
  ui.talk.disabled = S.connection !== "connected" || mode !== "ptt";
  if (S.ready) {
    if (mode === "ptt") { send({ type: "input_audio_buffer.clear" }); S.hearing = false; }
    send({ type: "session.update", session: { type: "realtime", audio: { input: { turn_detection: turnDetection() } } } });
  }
  refreshState();
}

function wire() {
  ui.start.addEventListener("click", () => (S.connection === "disconnected" ? start() : stop()));
  ui.interrupt.addEventListener("click", () => interrupt("button"));
  ui.settings.addEventListener("submit", applySettings);
  for (const el of [ui.speed, ui.threshold, ui.silence]) el.addEventListener("input", updateOutputs);
  ui.apiKey.addEventListener("change", () => {
    try { sessionStorage.setItem(KEY_KEY, apiKey()); } catch { /* ignore */ }
    loadVoices();
  });
  for (const r of document.querySelectorAll('input[name="mode"]')) {
    r.addEventListener("change", () => { if (r.checked) setMode(r.value); });
  }
  // Hold to talk: pointer (mouse, touch, pen) …
  ui.talk.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    ui.talk.setPointerCapture(e.pointerId);
    pttDown();
  });
  for (const t of ["pointerup", "pointercancel", "lostpointercapture"]) ui.talk.addEventListener(t, pttUp);
  ui.talk.addEventListener("contextmenu", (e) => e.preventDefault());
  // … and keyboard: space anywhere except text fields and other controls, Enter/space on the button.
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      if (S.connection === "connected") interrupt("escape");
      return;
    }
    const onTalk = e.target === ui.talk;
    const isSpace = e.code === "Space" || e.key === " ";
    if ((isSpace || (onTalk && e.key === "Enter")) && S.mode === "ptt") {
      if (isTextEntry(e.target) || isOtherControl(e.target)) return;
      e.preventDefault();
      if (!e.repeat) pttDown();
    }
  });
  document.addEventListener("keyup", (e) => {
    const isSpace = e.code === "Space" || e.key === " ";
    if ((isSpace || e.key === "Enter") && S.pttHeld) {
      e.preventDefault();
      pttUp();
    }
  });
  window.addEventListener("blur", pttUp); // a held key is never released if the window loses focus
}

showSettings();
wire();
setConnection("disconnected");
ui.app.dataset.mode = S.mode;
loadVoices();
