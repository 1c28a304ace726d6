// The conversation's server events (user speech and transcripts, responses, reply audio,
// truncation) as a dispatch table, and barge-in: interrupting a reply cancels the response,
// flushes the player and truncates the assistant item at what was actually played.

import { base64Pcm16ToFloat, samplesToMs } from "./wire.js";

// Errors about these are expected races (the response ended meanwhile, …): not shown.
export const QUIET_ERRORS = new Set(["response.cancel", "conversation.item.truncate", "conversation.item.retrieve"]);

export class Conversation {
  /** deps: {store, client, transcript, latency, audioOut, app (the #app element), showError} */
  constructor(deps) {
    Object.assign(this, deps);
    // response id → {id, itemId, dropAudio, done, truncates: [{item, ms}]}, while it is active
    this.responses = new Map();
    this.turns = 0;
  }

  /** The active response's record, or null. */
  active() {
    const id = this.store.state.response;
    return (id && this.responses.get(id)) || null;
  }

  /** The session ended. */
  reset() { this.responses.clear(); }

  /** Stop the reply: cancel it, flush the player, truncate what was not played. */
  async interrupt(why) {
    const resp = this.active();
    if (this.client.rtc) {
      // WebRTC: the server plays the reply, so it stops it and truncates to what was played.
      if (resp && !resp.dropAudio) { resp.dropAudio = true; this.client.send({ type: "response.cancel" }); }
      this.client.send({ type: "output_audio_buffer.clear" });
      this.store.apply("interrupted");
      return;
    }
    if (resp && !resp.dropAudio) {
      resp.dropAudio = true; // audio still in flight for it is not played
      this.client.send({ type: "response.cancel" });
    }
    const flushed = await this.audioOut.flush();
    const items = new Set(Object.keys(flushed.discarded || {}).filter((k) => flushed.discarded[k] > 0));
    if (resp && resp.itemId) items.add(resp.itemId);
    for (const itemId of items) {
      const item = this.transcript.get(itemId);
      if (!item || item.role !== "assistant" || item.truncated) continue;
      const played = (flushed.played && flushed.played[itemId]) || 0;
      const ofResponse = !!resp && resp.itemId === itemId;
      if (played >= item.received && !ofResponse) continue; // all of it was heard
      const ms = samplesToMs(played);
      item.truncated = true;
      this.transcript.markInterrupted(item);
      if (ofResponse && !resp.done) {
        // The server registers the item's audio when the response ends: truncate after response.done
        // (unless it came while the player was answering the flush).
        resp.truncates.push({ item: itemId, ms });
      } else {
        this.sendTruncate(itemId, ms);
      }
    }
    this.store.apply("interrupted");
    if (why) console.debug("interrupted:", why);
  }

  sendTruncate(itemId, ms) {
    this.client.send({ type: "conversation.item.truncate", item_id: itemId, content_index: 0, audio_end_ms: ms });
    this.app.dataset.lastTruncateMs = String(ms);
  }

  /** The dispatch table: server event type → handler. */
  handlers() {
    return {
      "input_audio_buffer.speech_started": (e) => this.onSpeechStarted(e),
      "input_audio_buffer.speech_stopped": (e) => {
        this.store.apply("speechStopped");
        this.latency.userStopped(performance.now(), e.item_id);
      },
      "input_audio_buffer.committed": (e) => {
        this.transcript.user(e.item_id);
        this.latency.committed(e.item_id);
      },
      "conversation.item.input_audio_transcription.delta": (e) => {
        this.transcript.appendText(this.transcript.user(e.item_id), e.delta || "");
      },
      "conversation.item.input_audio_transcription.completed": (e) => this.onTranscribed(e),
      "conversation.item.input_audio_transcription.failed": (e) => this.transcript.remove(e.item_id),
      "response.created": (e) => {
        this.latency.responseCreated(e.response.id);
        this.responses.set(e.response.id, { id: e.response.id, itemId: null, dropAudio: false, done: false,
                                            truncates: [] });
        this.store.apply("responseCreated", e.response.id);
      },
      "response.output_item.added": (e) => {
        const resp = this.active();
        if (resp && e.response_id === resp.id && e.item) {
          resp.itemId = e.item.id;
          this.transcript.assistant(e.item.id, e.response_id);
        }
      },
      "response.output_audio_transcript.delta": (e) => this.onReplyText(e),
      "response.output_text.delta": (e) => this.onReplyText(e),
      "response.output_audio.delta": (e) => this.onReplyAudio(e),
      "response.output_audio_transcript.done": (e) => {
        const it = this.transcript.get(e.item_id);
        if (it && typeof e.transcript === "string" && e.transcript && !it.truncated) {
          this.transcript.setText(it, e.transcript);
        }
      },
      "response.done": (e) => this.onResponseDone(e.response || {}),
      // WebRTC only: the server's player.
      "output_audio_buffer.started": () => this.store.apply("playbackStarted"),
      "output_audio_buffer.stopped": () => this.store.apply("playbackStopped"),
      "output_audio_buffer.cleared": () => this.store.apply("playbackStopped"),
      "conversation.item.truncated": (e) => {
        this.app.dataset.truncatedMs = String(e.audio_end_ms);
        this.client.send({ type: "conversation.item.retrieve", item_id: e.item_id });
      },
      "conversation.item.retrieved": (e) => {
        const it = this.transcript.get(e.item?.id);
        const heard = e.item?.content?.[0]?.transcript;
        if (it && it.role === "assistant" && typeof heard === "string") this.transcript.showHeard(it, heard);
      },
    };
  }

  onSpeechStarted(e) {
    this.store.apply("speechStarted");
    const resp = this.active();
    if (this.store.state.playing || (resp && !resp.dropAudio)) this.interrupt("speech started");
    this.transcript.user(e.item_id);
  }

  onTranscribed(e) {
    const it = this.transcript.user(e.item_id);
    const text = (e.transcript || "").trim();
    if (!text) {
      this.transcript.remove(e.item_id);
      if (this.latency.awaits(e.item_id) && !this.store.state.response) this.store.apply("emptyTurnDropped");
    } else {
      this.transcript.setText(it, text);
      this.transcript.finish(it);
    }
    this.latency.transcribed(e.item_id);
  }

  onReplyText(e) {
    this.transcript.appendText(this.transcript.assistant(e.item_id, e.response_id), e.delta || "");
  }

  onReplyAudio(e) {
    const resp = this.active();
    if (!resp || resp.id !== e.response_id || resp.dropAudio) return;
    const samples = base64Pcm16ToFloat(e.delta);
    this.transcript.assistant(e.item_id, e.response_id).received += samples.length;
    this.store.apply("audioReceived");
    this.latency.audioReceived(e.response_id);
    this.audioOut.push(e.item_id, samples);
  }

  onResponseDone(r) {
    const resp = this.responses.get(r.id);
    this.store.apply("responseDone", r.id);
    const status = r.status;
    for (const out of r.output || []) {
      const it = this.transcript.get(out.id);
      if (it) {
        this.transcript.finish(it);
        if (status === "cancelled") this.transcript.markInterrupted(it);
      }
    }
    if (resp) {
      resp.done = true;
      for (const t of resp.truncates) this.sendTruncate(t.item, t.ms);
      resp.truncates = [];
      this.responses.delete(r.id);
    }
    if (status === "completed" || status === "cancelled") {
      this.turns += 1;
      this.app.dataset.turns = String(this.turns);
    }
    if (status === "failed") this.showError(r.status_details?.error?.message || "The reply failed.");
    this.latency.render(r.id);
  }
}
