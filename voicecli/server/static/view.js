// The page chrome: element lookups, rendering the state (connection pill, buttons, status
// line, #app data attributes) and the error banner.

import { phase } from "./state.js";

export const $ = (id) => document.getElementById(id);

export const ui = {
  app: $("app"), stateHint: $("state-hint"), connectionText: $("connection-text"), state: $("state-text"),
  transcript: $("transcript"), hint: $("empty-hint"), error: $("error"), start: $("start"), talk: $("talk"),
  interrupt: $("interrupt"), level: $("level"), settings: $("settings"), voice: $("voice"), speed: $("speed"),
  speedOut: $("speed-out"), threshold: $("threshold"), thresholdOut: $("threshold-out"), silence: $("silence"),
  silenceOut: $("silence-out"), instructions: $("instructions"), apiKey: $("api-key"),
  settingsStatus: $("settings-status"), latBrowser: $("lat-browser"),
  latTranscript: $("lat-browser-transcript"), latAudio: $("lat-browser-audio"),
};

const CONNECTION_LABELS = { disconnected: "Not connected", connecting: "Connecting…", connected: "Connected" };

// Only touch what changed: the pill and the status line are live regions, and rewriting the
// same text can make a screen reader announce it again.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

/** Show the state: subscribed to the store, so it runs after every transition. */
export function renderState(s) {
  const idle = s.connection === "disconnected";
  ui.app.dataset.connection = s.connection;
  ui.app.dataset.mode = s.mode;
  setText(ui.connectionText, CONNECTION_LABELS[s.connection]);
  setText(ui.start, idle ? "Start" : "Stop");
  setAttr(ui.start, "aria-label", idle ? "Start" : "Stop");
  ui.talk.disabled = s.connection !== "connected" || s.mode !== "ptt";
  setAttr(ui.talk, "aria-pressed", String(s.pttHeld));
  const { name, label, hint } = phase(s);
  // Only a reply being prepared or played can be interrupted.
  ui.interrupt.disabled = !(name === "thinking" || name === "speaking");
  if (ui.app.dataset.state !== name) {
    ui.app.dataset.state = name;
    ui.state.textContent = label;
    ui.stateHint.textContent = hint;
  }
}

let errorTimer = 0;

export function showError(text, hideAfterMs = 10000) {
  ui.error.textContent = text;
  ui.error.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(hideError, hideAfterMs);
}

export function hideError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}
