// Reply playback: the page's AudioContext (opened inside the Start click, so it may play; the
// microphone joins it) and the player worklet, a gapless queue of 24 kHz chunks tagged with
// their item id. Counts what was received and played per item; a flush stops at once and
// reports exactly what was heard.

import { WIRE_RATE_HZ } from "./wire.js";

const FLUSH_TIMEOUT_MS = 500; // no answer from the worklet (context closed): use the last progress

function total(counts) {
  let n = 0;
  for (const k in counts) n += counts[k];
  return n;
}

export class AudioOut {
  /**
   * hooks: onStarted(itemId) when an item's first sample is rendered, onStopped() when the queue
   * drained or was flushed, onPlayed(totalSamples), onReceived(totalSamples), onContextRate(hz).
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.ctx = null;
    this.player = null;
    this.playedBy = {}; // item id → samples played (at 24 kHz), as last reported by the worklet
    this.receivedSamples = 0; // every reply sample pushed on this page
    this.flushWaiters = new Map();
    this.nextFlush = 1;
  }

  /** Open (or resume) the context; `forceDefaultRate` reopens it at the device rate (Firefox). */
  async open(forceDefaultRate = false) {
    if (this.ctx && this.ctx.state !== "closed" && !forceDefaultRate) {
      await this.ctx.resume();
      return;
    }
    if (this.ctx) { try { await this.ctx.close(); } catch { /* ignore */ } }
    let ctx;
    if (!forceDefaultRate) {
      try { ctx = new AudioContext({ sampleRate: WIRE_RATE_HZ, latencyHint: "interactive" }); } catch { ctx = null; }
    }
    if (!ctx) ctx = new AudioContext({ latencyHint: "interactive" });
    this.ctx = ctx;
    this.hooks.onContextRate(ctx.sampleRate);
    const resumed = ctx.resume();
    await ctx.audioWorklet.addModule(new URL("./worklets.js", import.meta.url));
    const player = new AudioWorkletNode(ctx, "voicecli-player", { numberOfInputs: 0, numberOfOutputs: 1,
                                                                  outputChannelCount: [1] });
    player.port.onmessage = (m) => this.onPlayerMessage(m.data);
    player.connect(ctx.destination);
    this.player = player;
    this.playedBy = {};
    await resumed;
  }

  /** Queue reply samples of an item (the buffer is handed over to the worklet). */
  push(itemId, samples) {
    this.receivedSamples += samples.length;
    this.hooks.onReceived(this.receivedSamples);
    this.player.port.postMessage({ type: "push", item: itemId, samples }, [samples.buffer]);
  }

  /** Stop at once. Resolves to {played, discarded, wasPlaying}: samples per item. */
  flush() {
    if (!this.player) return Promise.resolve({ played: {}, discarded: {}, wasPlaying: false });
    const id = this.nextFlush++;
    return new Promise((resolve) => {
      this.flushWaiters.set(id, resolve);
      this.player.port.postMessage({ type: "flush", id });
      setTimeout(() => {
        if (this.flushWaiters.delete(id)) resolve({ played: this.playedBy, discarded: {}, wasPlaying: false });
      }, FLUSH_TIMEOUT_MS);
    });
  }

  /** How long after rendering a sample is heard (output device + context buffering). */
  outputLatencyMs() {
    return ((this.ctx.outputLatency || 0) + (this.ctx.baseLatency || 0)) * 1000;
  }

  onPlayerMessage(msg) {
    if (msg.type === "progress") {
      this.playedBy = msg.played;
      this.hooks.onPlayed(total(msg.played));
    } else if (msg.type === "started") {
      this.hooks.onStarted(msg.item);
    } else if (msg.type === "drained") {
      this.hooks.onStopped();
    } else if (msg.type === "flushed") {
      // The final count: publish it now, before anyone acts on the flush (the interrupt truncates
      // the reply at it). Progress reports come only every few render quanta, so the last one may
      // lag behind what was played before the flush.
      this.playedBy = msg.played;
      this.hooks.onPlayed(total(msg.played));
      this.hooks.onStopped();
      const resolve = this.flushWaiters.get(msg.id);
      this.flushWaiters.delete(msg.id);
      if (resolve) resolve(msg);
    }
  }
}
