// The settings card: the saved values (localStorage; the API key only in sessionStorage), the
// form, the voice list from /web/config.json, and the session.update events they become.

import { WIRE_RATE_HZ } from "./wire.js";

const SETTINGS_KEY = "voicecli.web.settings";
const KEY_KEY = "voicecli.web.apiKey";

function num(v, d) {
  if (v === null || v === undefined || v === "") return d;
  const n = Number(v);
  return Number.isFinite(n) ? n : d;
}

function load() {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}"); } catch { saved = {}; }
  // threshold and silence: null means "the server's own default" (what `talk` uses too).
  return { voice: saved.voice || "", speed: num(saved.speed, 1), threshold: num(saved.threshold, null),
           silence: num(saved.silence, null),
           instructions: typeof saved.instructions === "string" ? saved.instructions : "",
           mode: saved.mode === "ptt" ? "ptt" : "vad" };
}

export class Settings {
  constructor(ui) {
    this.ui = ui;
    this.values = load();
    this.defaultVoice = null; // the server's default, from /web/config.json
    // The server's VAD defaults (/web/config.json, then the session.created it reports).
    this.serverVad = { threshold: null, silence: null };
    this.serverPrefixMs = null;
  }

  /** The value in effect: the user's own, else the server's default (null: not known yet). */
  effective(name) { return this.values[name] ?? this.serverVad[name]; }

  /** The server's VAD defaults: shown on the sliders the user has not moved. */
  adoptServerVad({ threshold, silence }) {
    if (Number.isFinite(threshold)) this.serverVad.threshold = threshold;
    if (Number.isFinite(silence)) this.serverVad.silence = silence;
    this.showVad();
  }

  /** session.created: the session as the server configured it (its turn detection). */
  adoptServerSession(session) {
    const td = (session && ((session.audio && session.audio.input && session.audio.input.turn_detection) ||
                            session.turn_detection)) || null;
    if (td && Number.isFinite(td.prefix_padding_ms)) this.serverPrefixMs = td.prefix_padding_ms;
    if (td) this.adoptServerVad({ threshold: td.threshold, silence: td.silence_duration_ms });
  }

  showVad() {
    const { ui } = this;
    for (const [name, el] of [["threshold", ui.threshold], ["silence", ui.silence]]) {
      const v = this.effective(name);
      if (v !== null && v !== undefined) el.value = v;
    }
    this.updateOutputs();
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
    ui.speed.value = values.speed;
    ui.instructions.value = values.instructions;
    try { ui.apiKey.value = sessionStorage.getItem(KEY_KEY) || ""; } catch { /* ignore */ }
    this.showVad();
    for (const r of document.querySelectorAll('input[name="mode"]')) r.checked = r.value === values.mode;
  }

  updateOutputs() {
    const { ui } = this;
    ui.speedOut.textContent = `${Number(ui.speed.value).toFixed(2)}×`;
    const known = (name) => this.effective(name) !== null && this.effective(name) !== undefined;
    ui.thresholdOut.textContent = known("threshold") ? Number(ui.threshold.value).toFixed(2) : "server default";
    ui.silenceOut.textContent = known("silence") ? `${ui.silence.value} ms` : "server default";
  }

  setStatus(text) { this.ui.settingsStatus.textContent = text; }

  /** Read the form into the saved values; says whether the voice changed. */
  takeForm() {
    const { ui } = this;
    const voiceChanged = ui.voice.value !== this.chosenVoice();
    // A slider left at the server's default keeps following the server.
    const own = (name, el) => {
      if (this.effective(name) === null || this.effective(name) === undefined) return null;
      const v = Number(el.value);
      return v === this.serverVad[name] ? null : v;
    };
    Object.assign(this.values, { voice: ui.voice.value, speed: Number(ui.speed.value),
                                 threshold: own("threshold", ui.threshold), silence: own("silence", ui.silence),
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
    const td = { type: "server_vad", create_response: true, interrupt_response: true };
    // Unknown values are left out: the server keeps its own.
    const threshold = this.effective("threshold");
    const silence = this.effective("silence");
    if (threshold !== null && threshold !== undefined) td.threshold = threshold;
    if (silence !== null && silence !== undefined) td.silence_duration_ms = Math.round(silence);
    if (this.serverPrefixMs !== null) td.prefix_padding_ms = this.serverPrefixMs;
    return td;
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
        if (cfg.vad) this.adoptServerVad({ threshold: cfg.vad.threshold, silence: cfg.vad.end_silence_ms });
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
