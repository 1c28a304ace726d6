// Per-turn latency: a clock starts when the user's turn ends (the server's speech_stopped, or
// the talk button's release), is bound to the response that answers it, and records when the
// transcript, the first reply audio and the first sound arrived; the server's own stage
// figures (voicecli.turn.latency) join it. Shown in the latency panel and under the reply.

import { $ } from "./view.js";

const SERVER_STAGES = ["voice_to_voice", "endpoint_wait", "stt", "llm_first_token", "tts_first_audio"];

function ms(v) {
  return v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}

function setFigure(dd, v) {
  if (v === undefined || v === null || !Number.isFinite(v)) return;
  dd.textContent = ms(v);
  dd.dataset.ms = String(Math.round(v));
}

function clearFigure(dd) {
  dd.textContent = "–";
  dd.dataset.ms = "";
}

export class Latency {
  /** ui: the panel's figures; transcript: to annotate replies; outputLatencyMs(): device delay. */
  constructor(ui, transcript, outputLatencyMs) {
    this.ui = ui;
    this.transcript = transcript;
    this.outputLatencyMs = outputLatencyMs;
    this.pending = null; // the clock of the user turn waiting for its reply: {t0, userItem, ...}
    this.clocks = new Map(); // response id → clock
  }

  /** The user's turn ended at `t0` (performance.now()); its item may not be known yet. */
  userStopped(t0, itemId) { this.pending = { t0, userItem: itemId }; }

  committed(itemId) {
    if (this.pending && !this.pending.userItem) this.pending.userItem = itemId;
  }

  /** Is this user item the turn waiting for its reply? */
  awaits(itemId) { return !!this.pending && this.pending.userItem === itemId; }

  transcribed(itemId) {
    if (this.awaits(itemId)) this.pending.transcript = performance.now();
  }

  responseCreated(responseId) {
    const clock = this.pending && !this.pending.bound ? this.pending : null;
    if (clock) { clock.bound = true; this.clocks.set(responseId, clock); }
  }

  audioReceived(responseId) {
    const clock = this.clocks.get(responseId);
    if (clock && clock.firstAudio === undefined) clock.firstAudio = performance.now();
  }

  /** The player rendered the first sample of an item. */
  soundStarted(itemId) {
    const it = this.transcript.get(itemId);
    if (!it || !it.responseId) return;
    const clock = this.clocks.get(it.responseId);
    if (!clock || clock.firstSound !== undefined) return;
    clock.firstSound = performance.now() + this.outputLatencyMs();
    this.render(it.responseId);
  }

  /** voicecli.turn.latency: the server's stage figures in ms. */
  serverReported(e) {
    const raw = e.latency_ms || e.latency || {};
    const stages = {};
    for (const k of Object.keys(raw)) {
      const name = k.endsWith("_ms") ? k.slice(0, -3) : k;
      if (typeof raw[k] === "number") stages[name] = raw[k];
    }
    const id = e.response_id || (this.transcript.get(e.item_id) || {}).responseId;
    if (!id) return;
    const clock = this.clocks.get(id) || {};
    clock.server = stages;
    this.clocks.set(id, clock);
    this.render(id);
  }

  /** The session ended: no turn is waiting any more. */
  reset() { this.pending = null; }

  render(responseId) {
    const clock = this.clocks.get(responseId);
    if (!clock) return;
    const { ui } = this;
    const browser = clock.firstSound !== undefined && clock.t0 !== undefined ? clock.firstSound - clock.t0 : undefined;
    const parts = [];
    if (browser !== undefined) {
      setFigure(ui.latBrowser, browser);
      if (clock.transcript !== undefined) setFigure(ui.latTranscript, clock.transcript - clock.t0);
      else clearFigure(ui.latTranscript);
      if (clock.firstAudio !== undefined) setFigure(ui.latAudio, clock.firstAudio - clock.t0);
      parts.push(`first sound ${ms(browser)} after you stopped`);
    }
    if (clock.server) {
      for (const s of SERVER_STAGES) {
        const dd = $(`lat-server-${s}`);
        if (clock.server[s] !== undefined) setFigure(dd, clock.server[s]);
        else clearFigure(dd);
      }
      const sv = clock.server;
      const bits = [["voice to voice", sv.voice_to_voice], ["STT", sv.stt], ["LLM", sv.llm_first_token],
                    ["TTS", sv.tts_first_audio]]
        .filter(([, v]) => typeof v === "number").map(([k, v]) => `${k} ${ms(v)}`);
      if (bits.length) parts.push(`server: ${bits.join(" · ")}`);
    }
    const it = this.transcript.assistantOf(responseId);
    if (it && parts.length) {
      it.metaEl.textContent = parts.join(" — ");
      it.li.dataset.latencyMs = browser !== undefined ? String(Math.round(browser)) : "";
    }
  }
}
