// Antialiased bilinear resize with half-pixel centres: the same filter as the Python pipeline
// (torch.nn.functional.interpolate(mode="bilinear", antialias=True, align_corners=False), which is PIL's
// BILINEAR), so the browser and Python feed the network the same pixels. Pure JS, no DOM.

/** Per-output-index taps for resizing `inSize` samples to `outSize`: {start, weights} per output index. */
export function filterTaps(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle filter has support 1, widened when downscaling
  const taps = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const weights = new Float64Array(Math.max(hi - lo, 0));
    let sum = 0;
    for (let j = 0; j < weights.length; j++) {
      const x = (j + lo - center + 0.5) / filterScale;
      const w = Math.max(0, 1 - Math.abs(x));
      weights[j] = w;
      sum += w;
    }
    if (sum > 0) for (let j = 0; j < weights.length; j++) weights[j] /= sum;
    taps.push({ start: lo, weights });
  }
  return taps;
}

/**
 * Resize interleaved float pixels (height*width*channels, row-major) to (outH, outW).
 * Separable: horizontal pass, then vertical. Returns a new Float32Array; the input is untouched.
 */
export function resizeBilinearAA(src, height, width, channels, outH, outW) {
  if (outH === height && outW === width) return Float32Array.from(src);
  const tx = filterTaps(width, outW);
  const ty = filterTaps(height, outH);
  const mid = new Float32Array(height * outW * channels);
  for (let y = 0; y < height; y++) {
    const row = y * width * channels;
    for (let x = 0; x < outW; x++) {
      const { start, weights } = tx[x];
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < weights.length; k++) acc += weights[k] * src[row + (start + k) * channels + c];
        mid[(y * outW + x) * channels + c] = acc;
      }
    }
  }
  const out = new Float32Array(outH * outW * channels);
  const stride = outW * channels;
  for (let y = 0; y < outH; y++) {
    const { start, weights } = ty[y];
    for (let i = 0; i < stride; i++) {
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += weights[k] * mid[(start + k) * stride + i];
      out[y * stride + i] = acc;
    }
  }
  return out;
}

/** RGBA bytes (ImageData.data) -> interleaved RGB floats in [0, 1]. */
export function rgbaToRgbFloat(rgba) {
  const n = rgba.length / 4;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = rgba[i * 4] / 255;
    out[i * 3 + 1] = rgba[i * 4 + 1] / 255;
    out[i * 3 + 2] = rgba[i * 4 + 2] / 255;
  }
  return out;
}

/** Interleaved RGB floats in [0, 1] -> opaque RGBA bytes (rounded, clamped), for ImageData. */
export function rgbFloatToRgba(rgb) {
  const n = rgb.length / 3;
  const out = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    out[i * 4] = Math.round(rgb[i * 3] * 255);
    out[i * 4 + 1] = Math.round(rgb[i * 3 + 1] * 255);
    out[i * 4 + 2] = Math.round(rgb[i * 3 + 2] * 255);
    out[i * 4 + 3] = 255;
  }
  return out;
}
