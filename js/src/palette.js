// Palettes and the colour look-up table (LUT) the renderer indexes with mask values.
// Pure functions on arrays: no DOM.

/**
 * @typedef {number[][]} Palette  list of [r, g, b], 0..255
 * @typedef {Record<string, Palette>} Palettes  colormap name -> palette (from `ready`)
 */

/**
 * The Pascal VOC colour map (the bit-interleaving one every VOC tool uses). A fallback for
 * when `ready` brought no palettes.
 * @param {number} [n]
 * @returns {Palette}
 */
export function vocPalette(n = 256) {
  const out = [];
  for (let i = 0; i < n; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 7; j >= 0; j--) {
      r |= (c & 1) << j;
      g |= ((c >> 1) & 1) << j;
      b |= ((c >> 2) & 1) << j;
      c >>= 3;
    }
    out.push([r, g, b]);
  }
  return out;
}

const FALLBACK = vocPalette();

/**
 * The palette for a colormap setting: `custom_palette` for "custom", else the server's
 * palette of that name, else the VOC colour map.
 * @param {string | null | undefined} colormap
 * @param {Palettes | null | undefined} palettes
 * @param {Palette | null | undefined} customPalette
 * @returns {Palette}
 */
export function resolvePalette(colormap, palettes, customPalette) {
  if (colormap === "custom" && customPalette && customPalette.length) return customPalette;
  const named = colormap && palettes ? palettes[colormap] : undefined;
  return named && named.length ? named : FALLBACK;
}

/**
 * The class indices a `class_filter` keeps, or null when it keeps every class (empty list).
 * Names that are not labels are ignored.
 * @param {string[] | null | undefined} classFilter
 * @param {string[]} labels
 * @returns {Set<number> | null}
 */
export function filterIndices(classFilter, labels) {
  if (!classFilter || !classFilter.length) return null;
  const wanted = new Set(classFilter);
  const keep = new Set();
  labels.forEach((name, i) => {
    if (wanted.has(name)) keep.add(i);
  });
  return keep;
}

/**
 * RGBA LUT for the 256 possible mask values: entry c is `palette[c % palette.length]`
 * with alpha 255, or fully transparent [0, 0, 0, 0] when the class filter hides c.
 * Only filtered-out classes are transparent (background included, it is a class too).
 * @param {Palette} palette
 * @param {Set<number> | null} keep  from filterIndices
 * @returns {Uint8Array}  length 1024
 */
export function buildLut(palette, keep) {
  const lut = new Uint8Array(256 * 4);
  for (let c = 0; c < 256; c++) {
    if (keep && !keep.has(c)) continue;
    const [r, g, b] = palette[c % palette.length];
    lut[c * 4] = r;
    lut[c * 4 + 1] = g;
    lut[c * 4 + 2] = b;
    lut[c * 4 + 3] = 255;
  }
  return lut;
}

/**
 * CSS colour of class c in a palette.
 * @param {Palette} palette
 * @param {number} c
 */
export function cssColor(palette, c) {
  const [r, g, b] = palette[c % palette.length];
  return `rgb(${r}, ${g}, ${b})`;
}
