/**
 * Recognizes a proxy URL that a map client mangled: a client that appends its own query to a URL it was given
 * adds `&name=value` when that URL already has a `?`. Given `{mount}/proxy?https://host/…/MapServer`, OpenLayers'
 * `TileArcGISRest` asks for `{mount}/proxy?https://host/…/MapServer/export&f=image&…`: the target then has its
 * parameters in the path. ArcGIS would answer that with an error nobody can act on; the broker answers 400 with
 * the configuration that works.
 *
 * @module
 */

// `&name=` in the target's path: a query appended with "&" to a target that had no "?" of its own.
const _APPENDED_QUERY = /&[A-Za-z_][A-Za-z0-9_.\-]*=/;

/**
 * The problem with a proxy request URL whose target has query parameters appended with `&` but no `?`, in words
 * that say how to configure the client; `undefined` for every other URL (the proxy checks those itself). The
 * message never contains the URL.
 */
export function mangledProxyUrlProblem(requestUrl: string): string | undefined {
  const start = requestUrl.indexOf("?");
  if (start < 0) return undefined;
  const end = requestUrl.indexOf("?", start + 1);
  const targetPath = end < 0 ? requestUrl.slice(start + 1) : requestUrl.slice(start + 1, end);
  if (!_APPENDED_QUERY.test(targetPath)) return undefined;
  return 'The proxy target has parameters after "&" but no "?" of its own: the map client appended its query ' +
    'to the proxy URL. Give the client a target that already has its "?" (OpenLayers TileArcGISRest: url ' +
    '"<proxy>?<service>/MapServer/export?f=image"; OpenLayers XYZ: "<proxy>?<service>/MapServer/tile/{z}/{y}/{x}"; ' +
    'esri-leaflet: the layer\'s "proxy" option)';
}
