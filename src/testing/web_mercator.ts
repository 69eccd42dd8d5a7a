/**
 * WGS84 ⇄ Web Mercator (EPSG:3857 / 102100) for points, as the fake's `outSR`/`inSR` handling uses them.
 *
 * @module
 */

/** Earth radius of Web Mercator, metres. */
const _R = 6378137;

/**
 * Longitude/latitude to Web Mercator.
 *
 * @param lon Longitude, degrees.
 * @param lat Latitude, degrees.
 * @returns Web Mercator metres.
 */
export function toWebMercator(lon: number, lat: number): { x: number; y: number } {
  const clampedLat = Math.max(-85.05112878, Math.min(85.05112878, lat));
  return {
    x: (lon * Math.PI / 180) * _R,
    y: _R * Math.log(Math.tan(Math.PI / 4 + (clampedLat * Math.PI) / 360)),
  };
}

/**
 * Web Mercator to longitude/latitude.
 *
 * @param x Web Mercator easting, metres.
 * @param y Web Mercator northing, metres.
 * @returns `x` longitude and `y` latitude, degrees.
 */
export function fromWebMercator(x: number, y: number): { x: number; y: number } {
  return {
    x: (x / _R) * 180 / Math.PI,
    y: (2 * Math.atan(Math.exp(y / _R)) - Math.PI / 2) * 180 / Math.PI,
  };
}
