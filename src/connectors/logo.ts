import type { ProviderLogo } from './catalog.ts';

const SIZE = 64;

/**
 * A provider's logo as Trellis draws it (SVG): the catalog's monogram in white on a rounded tile
 * of the catalog's colour. Both come from the catalog, whose values are checked where they are
 * written, so nothing in the picture comes from a request.
 */
export function logoSvg(logo: ProviderLogo): string {
  const fontSize = logo.monogram.length > 1 ? 26 : 34;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}" role="img">`,
    `<rect width="${SIZE}" height="${SIZE}" rx="14" fill="${logo.background}"/>`,
    `<text x="50%" y="50%" dy="0.35em" text-anchor="middle" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif"`,
    ` font-size="${fontSize}" font-weight="600" fill="#ffffff">${logo.monogram}</text>`,
    '</svg>',
  ].join('');
}
