// The glass-to-glass barcode (see loadtest/g2g-publish.sh): 40 square blocks across the top of
// the picture, white = 1; blocks 0-35 the publisher's wall clock in ms modulo 2^36, most
// significant first, blocks 36-39 that number modulo 13.
//
// `readStamp` is shared by the browser page (it is sent there as source text, so it must not
// use anything from this module's scope) and by g2g-check.mjs.

/** The stamp (ms modulo 2^36) in a frame, or null when its check fails. `luma(x, y)` gives
 * 0-255 at a pixel; `width` is the picture's width. Each block is read as the mean of a patch
 * in its middle, away from the edges that compression blurs. */
export function readStamp(luma, width) {
  const BLOCKS = 40;
  const size = width / BLOCKS;
  const half = Math.max(1, Math.floor(size / 5));
  const bits = [];
  for (let block = 0; block < BLOCKS; block++) {
    const cx = Math.floor(block * size + size / 2);
    const cy = Math.floor(size / 2);
    let sum = 0;
    let count = 0;
    for (let y = cy - half; y <= cy + half; y++) {
      for (let x = cx - half; x <= cx + half; x++) {
        sum += luma(x, y);
        count++;
      }
    }
    bits.push(sum / count >= 128 ? 1 : 0);
  }
  let stamp = 0;
  for (let i = 0; i < 36; i++) stamp = stamp * 2 + bits[i];
  let check = 0;
  for (let i = 36; i < 40; i++) check = check * 2 + bits[i];
  return stamp % 13 === check ? stamp : null;
}

/** `now - stamp` in ms, the stamp being the wall clock modulo 2^36 nearest below or just
 * above `now` (a stamp a little ahead of `now` gives a small negative number). */
export function msBehind(now, stamp) {
  const WRAP = 68719476736; // 2^36
  let behind = (now - stamp) % WRAP;
  if (behind < 0) behind += WRAP;
  if (behind > WRAP / 2) behind -= WRAP;
  return behind;
}

/** p50/p99/min/max of a list of numbers (nearest-rank percentiles), rounded to ms. */
export function summarize(values) {
  if (!values.length) return { count: 0, p50: null, p99: null, min: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  return {
    count: sorted.length,
    p50: Math.round(rank(0.5)),
    p99: Math.round(rank(0.99)),
    min: Math.round(sorted[0]),
    max: Math.round(sorted[sorted.length - 1]),
  };
}
