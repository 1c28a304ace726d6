// Microphone capture: getUserMedia (echo cancellation on), the capture worklet that cuts 50 ms
// Float32 blocks at the 24 kHz wire rate (resampling when the context runs at the device
// rate), and the level meter. Each block goes to `onBlock`; whether it is sent is not our call.

import { WIRE_RATE_HZ } from "./wire.js";

const CAPTURE_BLOCK = 1200; // samples at 24 kHz = 50 ms per input_audio_buffer.append
const CONSTRAINTS = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
};

/** The browser (or the user) refused the microphone; `cause` is getUserMedia's error. */
export class MicrophoneRefused extends Error {
  constructor(cause) {
    super(cause && cause.message ? cause.message : String(cause));
    this.name = "MicrophoneRefused";
    this.cause = cause;
  }
}

export class Microphone {
  /** audioOut: owns the AudioContext; meter: the <meter>; onBlock(samples): every captured block. */
  constructor(audioOut, meter, onBlock) {
    this.audioOut = audioOut;
    this.meter = meter;
    this.onBlock = onBlock;
    this.stream = null;
    this.source = null;
    this.capture = null;
    this.level = 0; // 0 … 1 (−60 … 0 dBFS), smoothed
  }

  /**
   * Ask for the microphone and start capturing. Throws MicrophoneRefused if the browser refuses
   * it; returns false if `stillWanted()` says the session ended while the permission prompt was open.
   */
  async start(stillWanted) {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(CONSTRAINTS);
    } catch (err) {
      throw new MicrophoneRefused(err);
    }
    if (!stillWanted()) { stream.getTracks().forEach((t) => t.stop()); return false; }
    let source;
    try {
      source = this.audioOut.ctx.createMediaStreamSource(stream);
    } catch {
      // Firefox refuses to mix a microphone into a context at another rate: run at the device
      // rate and let the capture worklet resample to 24 kHz.
      await this.audioOut.open(true);
      source = this.audioOut.ctx.createMediaStreamSource(stream);
    }
    const capture = new AudioWorkletNode(this.audioOut.ctx, "voicecli-capture", {
      numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: "explicit",
      processorOptions: { targetRate: WIRE_RATE_HZ, blockSize: CAPTURE_BLOCK },
    });
    capture.port.onmessage = (m) => this.onCaptured(m.data);
    source.connect(capture);
    Object.assign(this, { stream, source, capture });
    return true;
  }

  stop() {
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    if (this.source) { try { this.source.disconnect(); } catch { /* ignore */ } }
    if (this.capture) { this.capture.port.onmessage = null; }
    this.stream = this.source = this.capture = null;
    this.level = 0;
    this.meter.value = 0;
  }

  onCaptured(msg) {
    if (msg.type !== "audio") return;
    // Level meter: −60 dBFS … 0 dBFS → 0 … 1, fast attack, slow release.
    const db = 20 * Math.log10(Math.max(msg.rms, 1e-6));
    const target = Math.min(1, Math.max(0, (db + 60) / 60));
    this.level = target > this.level ? target : this.level * 0.8 + target * 0.2;
    this.meter.value = this.level.toFixed(3);
    this.onBlock(msg.samples);
  }
}
