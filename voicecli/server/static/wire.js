// The realtime wire audio format: 24 kHz mono PCM16, base64-encoded inside JSON events.

export const WIRE_RATE_HZ = 24000;

/** Milliseconds of wire audio in `samples` samples, rounded down (conversation.item.truncate). */
export function samplesToMs(samples) {
  return Math.floor((samples * 1000) / WIRE_RATE_HZ);
}

/** Float32 samples in [-1, 1] → base64 PCM16 little-endian (input_audio_buffer.append). */
export function floatToBase64Pcm16(f32) {
  const pcm = new Int16Array(f32.length);
  for (let i = 0; i < f32.length; i++) {
    const s = Math.max(-1, Math.min(1, f32[i]));
    pcm[i] = s < 0 ? s * 0x8000 : s * 0x7fff;
  }
  const bytes = new Uint8Array(pcm.buffer);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** base64 PCM16 little-endian (response.output_audio.delta) → Float32 samples. */
export function base64Pcm16ToFloat(b64) {
  const bin = atob(b64);
  const n = bin.length >> 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
    if (v >= 0x8000) v -= 0x10000;
    out[i] = v / 0x8000;
  }
  return out;
}
