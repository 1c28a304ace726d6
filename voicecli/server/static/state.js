// The page's state: one frozen snapshot, changed only by the named transitions below. Each
// transition is a pure function (state, ...args) → the fields it changes; the store applies it
// and tells its subscribers (the view) when something changed. `phase` derives what the
// assistant is doing for the status line.

const INITIAL = Object.freeze({
  connection: "disconnected", // disconnected | connecting | connected
  ready: false, // session.updated received (or the settings refused): audio may flow
  mode: "vad", // vad (hands-free, server VAD) | ptt (push-to-talk, turn_detection null)
  hearing: false, // the server hears speech
  awaitingReply: false, // a turn ended and its reply has not finished
  response: null, // id of the server's active response
  playing: false, // the player worklet is rendering reply audio
  pttHeld: false, // the talk button or the space bar is held
  pttTail: false, // released, still sending the last few blocks
  audioProduced: false, // this session has received reply audio (its voice is fixed now)
});

const TRANSITIONS = {
  connecting: () => ({ connection: "connecting" }),
  socketOpened: () => ({ ready: false, audioProduced: false }),
  sessionReady: () => ({ ready: true, connection: "connected" }),
  disconnected: () => ({ connection: "disconnected", ready: false, response: null, hearing: false,
                         awaitingReply: false, pttHeld: false, pttTail: false }),
  modeChanged: (s, mode) => ({ mode, hearing: mode === "ptt" && s.ready ? false : s.hearing }),
  speechStarted: () => ({ hearing: true }),
  speechStopped: () => ({ hearing: false, awaitingReply: true }),
  emptyTurnDropped: (s) => ({ awaitingReply: s.mode === "ptt" }),
  nothingRecorded: () => ({ awaitingReply: false }),
  responseCreated: (s, id) => ({ response: id, awaitingReply: true }),
  responseDone: (s, id) => ({ response: s.response === id ? null : s.response, awaitingReply: false }),
  audioReceived: () => ({ audioProduced: true }),
  interrupted: () => ({ awaitingReply: false, playing: false }),
  playbackStarted: () => ({ playing: true }),
  playbackStopped: () => ({ playing: false }), // the queue drained or was flushed
  pttPressed: () => ({ pttHeld: true, pttTail: false }),
  pttTapped: () => ({ pttHeld: false }),
  pttReleased: () => ({ pttHeld: false, pttTail: true, awaitingReply: true }),
  pttTailSent: () => ({ pttTail: false }),
};

const RECENT = 50; // transitions kept for debugging (window.voicecli.transitions)

export class Store {
  constructor(initial = {}) {
    this.state = Object.freeze({ ...INITIAL, ...initial });
    this.listeners = [];
    this.recent = [];
  }

  /** Apply the transition `name`; subscribers run only if a field changed. */
  apply(name, ...args) {
    const transition = TRANSITIONS[name];
    if (!transition) throw new Error(`unknown state transition ${name}`);
    const change = transition(this.state, ...args);
    this.recent.push(name);
    if (this.recent.length > RECENT) this.recent.shift();
    if (Object.keys(change).every((k) => Object.is(change[k], this.state[k]))) return;
    this.state = Object.freeze({ ...this.state, ...change });
    for (const listener of this.listeners) listener(this.state);
  }

  /** Call `listener(state)` now and after every change. */
  subscribe(listener) {
    this.listeners.push(listener);
    listener(this.state);
  }
}

const PHASE_LABELS = { connecting: "Connecting…", offline: "Idle", speaking: "Speaking", hearing: "Hearing you",
                       thinking: "Thinking", ready: "Ready", listening: "Listening" };
const PHASE_HINTS = {
  connecting: "Allow the microphone if the browser asks.",
  offline: "Press Start and allow the microphone.",
  speaking: "Talk or press Interrupt (Esc) to cut in.",
  hearing: "Go on — a short pause ends your turn.",
  thinking: "Working on a reply…",
  ready: "Hold the talk button or the space bar while you speak.",
  listening: "Just talk.",
};

/** What the assistant is doing: {name (the #app data-state), label (the status line), hint (what to do)}. */
export function phase(s) {
  let name;
  if (s.connection === "connecting") name = "connecting";
  else if (s.connection !== "connected") name = "offline";
  else if (s.playing) name = "speaking";
  else if (s.hearing || s.pttHeld) name = "hearing";
  else if (s.awaitingReply || s.response) name = "thinking";
  else name = s.mode === "ptt" ? "ready" : "listening";
  return { name, label: PHASE_LABELS[name], hint: PHASE_HINTS[name] };
}
