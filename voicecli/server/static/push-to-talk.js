// Push-to-talk (turn_detection null): hold the talk button (pointer) or the space bar; audio is
// sent while held plus a short tail, then the turn is committed and a response asked for.
// Too short a hold is an accidental tap. Pressing interrupts a reply that is still playing.

const PTT_TAIL_MS = 150; // keep sending this long after release: the last words are still in the graph
const MIN_PTT_MS = 200; // shorter holds are treated as accidental taps

function isTextEntry(el) {
  if (!el || el === document.body) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  return tag === "TEXTAREA" || tag === "SELECT" || tag === "INPUT";
}

function isSpace(e) { return e.code === "Space" || e.key === " "; }

export class PushToTalk {
  /** deps: {store, client, conversation, latency, settings, button (the talk button), showError} */
  constructor(deps) {
    Object.assign(this, deps);
    this.pressedAt = 0;
  }

  down() {
    const { store, client } = this;
    const s = store.state;
    if (s.mode !== "ptt" || !s.ready || s.pttHeld) return;
    if (s.playing || s.response) this.conversation.interrupt("push-to-talk");
    client.send({ type: "input_audio_buffer.clear" });
    this.pressedAt = performance.now();
    store.apply("pttPressed");
  }

  up() {
    const { store, client } = this;
    if (!store.state.pttHeld) return;
    const releasedAt = performance.now();
    if (releasedAt - this.pressedAt < MIN_PTT_MS) {
      store.apply("pttTapped");
      client.send({ type: "input_audio_buffer.clear" });
      this.settings.setStatus("");
      this.showError("Hold the button (or the space bar) while you speak.", 3000);
      return;
    }
    store.apply("pttReleased");
    setTimeout(() => {
      store.apply("pttTailSent");
      if (!store.state.ready) return;
      client.send({ type: "input_audio_buffer.commit" });
      client.send({ type: "response.create" });
      this.latency.userStopped(releasedAt, null);
    }, PTT_TAIL_MS);
  }

  /** Hold to talk with a pointer (mouse, touch, pen). */
  bindButton() {
    const { button } = this;
    button.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      button.setPointerCapture(e.pointerId);
      this.down();
    });
    for (const t of ["pointerup", "pointercancel", "lostpointercapture"]) button.addEventListener(t, () => this.up());
    button.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  /** Space anywhere except text fields and other controls; Enter or space on the button. */
  onKeyDown(e) {
    const onTalk = e.target === this.button;
    if ((isSpace(e) || (onTalk && e.key === "Enter")) && this.store.state.mode === "ptt") {
      if (isTextEntry(e.target) || this.isOtherControl(e.target)) return;
      e.preventDefault();
      if (!e.repeat) this.down();
    }
  }

  onKeyUp(e) {
    if ((isSpace(e) || e.key === "Enter") && this.store.state.pttHeld) {
      e.preventDefault();
      this.up();
    }
  }

  isOtherControl(el) {
    if (!el || el === this.button) return false;
    const tag = el.tagName;
    return tag === "BUTTON" || tag === "SUMMARY" || tag === "A";
  }
}
