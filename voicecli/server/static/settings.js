// The settings card: the saved values (localStorage; the API key only in sessionStorage), the
// form, the voice list from /web/config.json, and the session.update events they become.

import { WIRE_RATE_HZ } from "./wire.js";

const SETTINGS_KEY = "voicecli.web.settings";
const KEY_KEY = "voicecli.web.apiKey";

function num(v, d) {
  const n = Number(v);
  return Number.isFinite(n) ? n : d;
}

function load() {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}"); } catch { saved = {}; }
  return { voice: saved.voice || "", speed: num(saved.speed, 1), threshold: num(saved.threshold, 0.5),
           silence: num(saved.silence, 500),
           instructions: typeof saved.instructions === "string" ? saved.instructions : "",
           mode: saved.mode === "ptt" ? "ptt" : "vad" };
}

export class Settings {
  constructor(ui) {
    this.ui = ui;
    this.values = load();
    this.defaultVoice = null; // the server's default, from /web/config.json
  }

  save() {
    try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(this.values)); } catch { /* private mode */ }
  }

  saveMode(mode) {
    this.values.mode = mode;
    this.save();
  }

  apiKey() { return this.ui.apiKey.value.trim(); }

  rememberApiKey() {
    try { sessionStorage.setItem(KEY_KEY, this.apiKey()); } catch { /* ignore */ }
  }

  /** Fill the form from the saved values. */
  show() {
    const { ui, values } = this;
    ui.speed.value = values.speed; ui.threshold.value = values.threshold; ui.silence.value = values.silence;
    ui.instructions.value = values.instructions;
    try { ui.apiKey.value = sessionStorage.getItem(KEY_KEY) || ""; } catch { /* ignore */ }
    this.updateOutputs();
    for (const r of document.querySelectorAll('input[name="mode"]')) r.checked = r.value === values.mode;
  }

  updateOutputs() {
    const { ui } = this;
    ui.speedOut.textContent = `${Number(ui.speed.value).toFixed(2)}×`;
    ui.thresholdOut.textContent = Number(ui.threshold.value).toFixed(2);
    ui.silenceOut.textContent = `${ui.silence.value} ms`;
  }

  setStatus(text) { this.ui.settingsStatus.textContent = text; }

  /** Read the form into the saved values; says whether the voice changed. */
  takeForm() {
    const { ui } = this;
    const voiceChanged = ui.voice.value !== this.chosenVoice();
    Object.assign(this.values, { voice: ui.voice.value, speed: Number(ui.speed.value),
                                 threshold: Number(ui.threshold.value), silence: Number(ui.silence.value),
                                 instructions: ui.instructions.value });
    this.save();
    this.rememberApiKey();
    return { voiceChanged };
  }

  chosenVoice() { return this.values.voice || this.defaultVoice || ""; }

  /** Show the server's prompt as the placeholder when the user has none (session.created). */
  showServerDefaults(session) {
    if (!this.values.instructions && session && session.instructions && !this.ui.instructions.value) {
      this.ui.instructions.placeholder = `Server default: ${session.instructions}`;
    }
  }

  turnDetection(mode) {
    if (mode === "ptt") return null;
    const { threshold, silence } = this.values;
    return { type: "server_vad", threshold, silence_duration_ms: Math.round(silence),
             prefix_padding_ms: 300, create_response: true, interrupt_response: true };
  }

  /** The whole session configuration (after session.created, or when settings are applied). */
  sessionUpdate(mode, includeVoice) {
    const fmt = { type: "audio/pcm", rate: WIRE_RATE_HZ };
    const session = {
      type: "realtime",
      output_modalities: ["audio"],
      audio: {
        input: { format: fmt, transcription: { model: "whisper-1" }, turn_detection: this.turnDetection(mode) },
        output: { format: fmt, speed: this.values.speed },
      },
    };
    if (this.values.instructions.trim()) session.instructions = this.values.instructions;
    if (includeVoice && this.values.voice) session.audio.output.voice = this.values.voice;
    return { type: "session.update", session };
  }

  /** Only the turn detection (the talk mode changed). */
  modeUpdate(mode) {
    const input = { turn_detection: this.turnDetection(mode) };
    return { type: "session.update", session: { type: "realtime", audio: { input } } };
  }

  /** Fill the voice list from the server; `onError(text)` if it needs an API key. */
  async loadVoices(onError) {
    const headers = this.apiKey() ? { Authorization: `Bearer ${this.apiKey()}` } : {};
    let voices = [];
    let fallback = null;
    try {
      const r = await fetch("/web/config.json", { headers, cache: "no-store" });
      if (r.ok) {
        const cfg = await r.json();
        voices = Array.isArray(cfg.voices) ? cfg.voices : [];
        fallback = cfg.default_voice || null;
      } else if (r.status === 401) {
        onError("This server needs an API key: enter it under Settings.");
      }
    } catch { /* offline or an older server: keep the server's default voice */ }
    this.defaultVoice = fallback;
    const select = this.ui.voice;
    select.replaceChildren();
    if (!voices.length) select.add(new Option("Server default", ""));
    for (const v of voices) select.add(new Option(v === fallback ? `${v} (default)` : v, v));
    select.value = voices.includes(this.values.voice) ? this.values.voice : (fallback || "");
  }
}
