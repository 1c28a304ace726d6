// AudioWorklet processors for the voicecli page. They run on the audio rendering thread, so they
// only move samples: no allocation per render quantum except the blocks they hand over.
//
//   "voicecli-capture": microphone → Float32 blocks at 24 kHz (resampled if the context runs at
//                       another rate), each with its RMS and peak level.
//   "voicecli-player":  a gapless queue of 24 kHz reply chunks tagged with their item id; reports
//                       how many samples of each item were actually rendered and can flush at once.

const WIRE_RATE_HZ = 24000;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.targetRate = opts.targetRate || WIRE_RATE_HZ;
    this.blockSize = opts.blockSize || 1200; // 50 ms at 24 kHz
    this.step = sampleRate / this.targetRate; // input samples per output sample
    this.t = 0; // read position in the current input block (may be in [-1, 0): uses `last`)
    this.last = 0;
    this.block = new Float32Array(this.blockSize);
    this.fill = 0;
  }

  emit(v) {
    this.block[this.fill++] = v;
    if (this.fill === this.blockSize) {
      let sum = 0;
      let peak = 0;
      for (let i = 0; i < this.blockSize; i++) {
        const x = this.block[i];
        sum += x * x;
        const a = x < 0 ? -x : x;
        if (a > peak) peak = a;
      }
      const rms = Math.sqrt(sum / this.blockSize);
      this.port.postMessage({ type: "audio", samples: this.block, rms, peak }, [this.block.buffer]);
      this.block = new Float32Array(this.blockSize);
      this.fill = 0;
    }
  }

  process(inputs) {
    const input = inputs[0];
    const ch = input && input[0];
    if (!ch || ch.length === 0) return true; // no microphone frames yet
    const n = ch.length;
    if (this.step === 1) {
      for (let i = 0; i < n; i++) this.emit(ch[i]);
      return true;
    }
    // Linear interpolation, continuous across render quanta.
    let t = this.t;
    while (t < n - 1) {
      const i = Math.floor(t);
      const f = t - i;
      const a = i < 0 ? this.last : ch[i];
      const b = ch[i + 1];
      this.emit(a + (b - a) * f);
      t += this.step;
    }
    this.t = t - n;
    this.last = ch[n - 1];
    return true;
  }
}

class PlayerProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = WIRE_RATE_HZ / sampleRate; // source samples per output sample
    this.queue = []; // {item, data: Float32Array, off}
    this.frac = 0;
    this.played = new Map(); // item id → samples rendered (at 24 kHz)
    this.started = new Set();
    this.playing = false;
    this.quanta = 0;
    this.dirty = false;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(msg) {
    if (msg.type === "push") {
      if (msg.samples && msg.samples.length) this.queue.push({ item: msg.item, data: msg.samples, off: 0 });
    } else if (msg.type === "flush") {
      // Stop at once; say exactly what was heard of each item.
      const queued = {};
      for (const c of this.queue) queued[c.item] = (queued[c.item] || 0) + c.data.length - c.off;
      this.queue = [];
      this.frac = 0;
      const wasPlaying = this.playing;
      this.playing = false;
      this.dirty = false; // "flushed" carries the final counts: no progress report after it
      this.port.postMessage({ type: "flushed", id: msg.id, played: Object.fromEntries(this.played),
                              discarded: queued, wasPlaying });
    } else if (msg.type === "forget") {
      this.played.delete(msg.item);
      this.started.delete(msg.item);
    }
  }

  // Sample k positions ahead of the read head, across chunk boundaries (null if not queued yet).
  peek(k) {
    for (let q = 0; q < this.queue.length; q++) {
      const c = this.queue[q];
      const avail = c.data.length - c.off;
      if (k < avail) return c.data[c.off + k];
      k -= avail;
    }
    return null;
  }

  advance() {
    const c = this.queue[0];
    if (!this.started.has(c.item)) {
      this.started.add(c.item);
      this.port.postMessage({ type: "started", item: c.item, frame: currentFrame, time: currentTime });
    }
    this.played.set(c.item, (this.played.get(c.item) || 0) + 1);
    this.dirty = true;
    c.off++;
    if (c.off >= c.data.length) this.queue.shift();
  }

  process(_inputs, outputs) {
    const out = outputs[0];
    const ch0 = out[0];
    const n = ch0.length;
    let i = 0;
    for (; i < n; i++) {
      if (this.queue.length === 0) break;
      const a = this.peek(0);
      let v = a;
      if (this.frac !== 0) {
        const b = this.peek(1);
        v = b === null ? a : a + (b - a) * this.frac;
      }
      ch0[i] = v;
      this.frac += this.step;
      while (this.frac >= 1 && this.queue.length) {
        this.advance();
        this.frac -= 1;
      }
    }
    for (; i < n; i++) ch0[i] = 0;
    for (let c = 1; c < out.length; c++) out[c].set(ch0);

    const nowPlaying = this.queue.length > 0;
    if (this.playing && !nowPlaying) {
      this.port.postMessage({ type: "progress", played: Object.fromEntries(this.played) });
      this.port.postMessage({ type: "drained" });
      this.dirty = false;
    }
    this.playing = nowPlaying;
    if (++this.quanta % 8 === 0 && this.dirty) { // ≈ every 43 ms at 24 kHz
      this.dirty = false;
      this.port.postMessage({ type: "progress", played: Object.fromEntries(this.played) });
    }
    return true;
  }
}

registerProcessor("voicecli-capture", CaptureProcessor);
registerProcessor("voicecli-player", PlayerProcessor);
