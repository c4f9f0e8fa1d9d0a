// Size arithmetic shared by the widget, the worker and the Node tests. Pure functions, no DOM.
// Mirrors model/architecture.py (fit_long_side, padded_size) so the browser sees the same shapes as Python.

/** Python's round(): half to even, so fitLongSide gives the same sizes as model.architecture.fit_long_side. */
export function roundHalfEven(x) {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Scale (height, width) so the long side equals `longSide`, keeping the aspect ratio. */
export function fitLongSide(height, width, longSide) {
  if (!(height > 0 && width > 0 && longSide > 0)) throw new RangeError(`bad size ${height}x${width} -> ${longSide}`);
  const scale = longSide / Math.max(height, width);
  return [Math.max(1, roundHalfEven(height * scale)), Math.max(1, roundHalfEven(width * scale))];
}

/** Downscale (height, width) so the long side is at most `longSide`; never upscale (Python's fit_within). */
export function fitWithin(height, width, longSide) {
  return Math.max(height, width) <= longSide ? [height, width] : fitLongSide(height, width, longSide);
}

/** The size an image is reflection-padded to (bottom/right) before the graphs see it. */
export function paddedSize(height, width, multiple = 16) {
  return [Math.ceil(height / multiple) * multiple, Math.ceil(width / multiple) * multiple];
}

/** Padding amounts [bottom, right] to reach multiples of `multiple`. */
export function padAmounts(height, width, multiple = 16) {
  const [ph, pw] = paddedSize(height, width, multiple);
  return [ph - height, pw - width];
}

/** An image too thin for the network at the size asked for; the message is for the reader. */
export class ImageSizeError extends RangeError {
  constructor(message) { super(message); this.name = 'ImageSizeError'; }
}

/**
 * Every size one stylization uses.
 * content: the content image's (height, width); style (and style2, a second style to mix in, or null): the
 * style images'; resolution: the long side asked for.
 * The output always has `resolution` on its long side (up- or downscaled: the widget's output size is the
 * reader's choice); the styles fit within min(styleMaxResolution, resolution).
 * Throws ImageSizeError with a reader-facing message when an image would be thinner than `minSide`.
 */
export function planSizes({ content, style, style2 = null, resolution, styleMaxResolution = 512, multiple = 16, minSide = 32 }) {
  const out = fitLongSide(content[0], content[1], resolution);
  const styleLong = Math.min(styleMaxResolution, resolution);
  // The styles, and the content used as a style (alpha < 1), are only ever downscaled, as in model/pipeline.py.
  const styleSize = fitWithin(style[0], style[1], styleLong);
  const style2Size = style2 ? fitWithin(style2[0], style2[1], styleLong) : null;
  const contentAsStyle = fitWithin(content[0], content[1], styleLong);
  const checks = [['photo', out], ['style image', styleSize], ['photo', contentAsStyle]];
  if (style2Size) checks.push(['second style image', style2Size]);
  for (const [what, [h, w]] of checks) {
    if (Math.min(h, w) < minSide) {
      throw new ImageSizeError(`The ${what} is too narrow: at ${Math.max(h, w)} px on its long side its short side is ` +
        `${Math.min(h, w)} px, and the model needs at least ${minSide} px. Crop it to a less extreme shape.`);
    }
  }
  return {
    output: out,
    contentPadded: paddedSize(out[0], out[1], multiple),
    style: styleSize,
    stylePadded: paddedSize(styleSize[0], styleSize[1], multiple),
    ...(style2Size && { style2: style2Size, style2Padded: paddedSize(style2Size[0], style2Size[1], multiple) }),
    contentAsStyle,
    contentAsStylePadded: paddedSize(contentAsStyle[0], contentAsStyle[1], multiple),
  };
}

/** Clamp a requested resolution into [min, max], snapped to the step. */
export function clampResolution(value, { min = 256, max = 1024, step = 32 } = {}) {
  const v = Math.round((Number(value) || min) / step) * step;
  return Math.min(max, Math.max(min, v));
}

/** The next smaller resolution to retry at after running out of memory, or null at the floor. */
export function smallerResolution(current, { min = 256, step = 32 } = {}) {
  if (current <= min) return null;
  return Math.max(min, Math.floor((current * 0.7) / step) * step);
}

/**
 * The largest resolution offered on a backend: attention at relu4_1 holds a (content/8)^2 x (style/8)^2 float
 * matrix, 268 MB at 1024 px with a 512 px style, so the ceiling follows the device's memory.
 * Running out anyway falls back to a smaller size (see backend.js fallbackAction).
 */
export function maxResolutionFor({ backend, deviceMemory = 4 } = {}) {
  const gpu = backend === 'webgpu' || backend === 'webgl';
  if (deviceMemory >= 8) return gpu ? 2048 : 1536;
  if (deviceMemory >= 4) return 1024;
  return 768;
}
