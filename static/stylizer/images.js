// Reading the reader's images: checks with clear messages, EXIF-aware decoding, downscaling huge images.

export const MAX_SOURCE_SIDE = 2048; // larger images are downscaled on decode (the model never needs more)

export class ImageInputError extends Error {}

/** A reader-facing message if `file` cannot be an image we accept, else null. Pure. */
export function checkFile(file) {
  if (!file) return 'No file was given.';
  const name = file.name ? `“${file.name}”` : 'The file';
  if (file.size === 0) return `${name} is empty (0 bytes). Choose an image file.`;
  if (file.type && !file.type.startsWith('image/')) {
    return `${name} is not an image (${file.type}). Choose a JPEG, PNG, WebP or GIF file.`;
  }
  return null;
}

/** Size to downscale (height, width) to so the long side is at most `max`; the same size if it fits. Pure. */
export function capSize(height, width, max = MAX_SOURCE_SIDE) {
  const long = Math.max(height, width);
  if (long <= max) return [height, width];
  const s = max / long;
  return [Math.max(1, Math.round(height * s)), Math.max(1, Math.round(width * s))];
}

/** Decode a File/Blob to an ImageBitmap honouring EXIF orientation; throws ImageInputError with a message. */
export async function decodeImage(file) {
  const problem = checkFile(file);
  if (problem) throw new ImageInputError(problem);
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    const name = file.name ? `“${file.name}”` : 'The file';
    throw new ImageInputError(`${name} could not be decoded as an image. It may be damaged or in a format this browser cannot read.`);
  }
  const [h, w] = capSize(bitmap.height, bitmap.width);
  if (h !== bitmap.height || w !== bitmap.width) {
    const small = await createImageBitmap(bitmap, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high' });
    bitmap.close();
    bitmap = small;
  }
  return bitmap;
}

/** A reader-facing message for a failed getUserMedia (by the DOMException's name). Pure. */
export function cameraMessage(err) {
  switch (err && err.name) {
    case 'NotAllowedError': case 'SecurityError': case 'PermissionDeniedError':
      return 'Camera access was refused. Allow the camera for this page in the browser’s site settings, or choose a photo file instead.';
    case 'NotFoundError': case 'OverconstrainedError': case 'DevicesNotFoundError':
      return 'No camera was found on this device. Choose a photo file instead.';
    case 'NotReadableError': case 'TrackStartError': case 'AbortError':
      return 'The camera could not be started: another application may be using it. Close it and try again, or choose a photo file.';
    case 'NotSupportedError':
      return 'This browser offers no camera to this page (camera access needs a secure https:// page). Choose a photo file instead.';
    default:
      return `The camera could not be used (${(err && (err.message || err.name)) || 'unknown error'}). Choose a photo file instead.`;
  }
}
