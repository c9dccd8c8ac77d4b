/* Map geometry of the Moon for Leaflet: the three tile grids of api/tiles/grids.py as
   Leaflet CRSs, edge densification, and the graticule. No third-party code here. */
(function () {
  "use strict";
  const R = 1737400;                                   // IAU 2015 Moon sphere, metres
  const DEG = Math.PI / 180;
  const POLAR_HALF = 2 * R * Math.tan(22.5 * DEG);     // stereographic radius of 45 deg

  function polar(sign) {                               // sign: +1 north, -1 south
    return {
      bounds: L.bounds([-POLAR_HALF, -POLAR_HALF], [POLAR_HALF, POLAR_HALF]),
      project(ll) {
        const lat = Math.max(-89.999999, Math.min(89.999999, ll.lat)) * sign;
        const rho = 2 * R * Math.tan(Math.PI / 4 - lat * DEG / 2);
        return L.point(rho * Math.sin(ll.lng * DEG), -sign * rho * Math.cos(ll.lng * DEG));
      },
      unproject(p) {
        const rho = Math.hypot(p.x, p.y);
        const lat = sign * (90 - 2 * Math.atan(rho / (2 * R)) / DEG);
        return L.latLng(lat, Math.atan2(p.x, -sign * p.y) / DEG);
      },
    };
  }

  const equirect = {
    bounds: L.bounds([-Math.PI * R, -Math.PI * R / 2], [Math.PI * R, Math.PI * R / 2]),
    project: (ll) => L.point(ll.lng * DEG * R, ll.lat * DEG * R),
    unproject: (p) => L.latLng(p.y / R / DEG, p.x / R / DEG),
  };

  function crs(code, projection, half, tilesAcross) {
    // zoom 0: `tilesAcross` tiles of 256 px over the projected width (2 * half)
    const s0 = (256 * tilesAcross) / (2 * half);
    const b = projection.bounds;
    return L.extend({}, L.CRS, {
      code, projection, infinite: false, wrapLng: undefined, wrapLat: undefined,
      transformation: new L.Transformation(1, -b.min.x, -1, b.max.y),
      scale: (z) => s0 * Math.pow(2, z),
      zoom: (s) => Math.log(s / s0) / Math.LN2,
      distance: (a, b2) => R * Math.acos(Math.min(1, Math.sin(a.lat * DEG) * Math.sin(b2.lat * DEG) +
        Math.cos(a.lat * DEG) * Math.cos(b2.lat * DEG) * Math.cos((b2.lng - a.lng) * DEG))),
    });
  }

  const VIEWS = {
    equirect: { tms: "MoonEquirectangular", crs: crs("IAU_2015:30110", equirect, Math.PI * R, 2),
                center: [0, 0], zoom: 1, visible: () => true },
    north: { tms: "MoonNorthPolar", crs: crs("IAU_2015:30130", polar(1), POLAR_HALF, 1),
             center: [90, 0], zoom: 1, visible: (bbox) => bbox[3] > 30 },
    south: { tms: "MoonSouthPolar", crs: crs("IAU_2015:30135", polar(-1), POLAR_HALF, 1),
             center: [-90, 0], zoom: 1, visible: (bbox) => bbox[1] < -30 },
  };

  /* A ring of [lon, lat] with a point at least every `step` degrees, so that straight
     screen segments follow the great-circle-ish edge in every projection. */
  function densify(ring, step) {
    const out = [];
    for (let i = 0; i < ring.length - 1; i++) {
      const [x0, y0] = ring[i], [x1, y1] = ring[i + 1];
      const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0)) / step));
      for (let k = 0; k < n; k++) out.push([x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n]);
    }
    out.push(ring[ring.length - 1]);
    return out;
  }

  /* GeoJSON Polygon / MultiPolygon -> Leaflet lat/lng rings, densified (caps at a pole close
     through the pole itself, since their ring runs along it). */
  function footprintLatLngs(geometry) {
    const polys = geometry.type === "Polygon" ? [geometry.coordinates]
      : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
    return polys.map((rings) => rings.map((ring) => densify(ring, 1).map(([x, y]) => [y, x])));
  }

  function lonLabel(lon, mode) {
    if (mode === "east360") return `${((lon % 360) + 360) % 360}°E`;
    if (lon === 0 || Math.abs(lon) === 180) return `${Math.abs(lon)}°`;
    return lon > 0 ? `${lon}°E` : `${-lon}°W`;
  }

  /* Meridians every 30 deg and parallels every 15 deg with labels, for one view. */
  function graticule(viewName, lonMode) {
    const group = L.layerGroup();
    const style = { color: "#9fb3c8", weight: 1, opacity: 0.6, interactive: false };
    const view = VIEWS[viewName];
    const latMin = viewName === "north" ? 30 : -90, latMax = viewName === "south" ? -30 : 90;
    for (let lon = -180; lon < 180; lon += 30) {
      const line = densify([[lon, latMin], [lon, latMax]], 1).map(([x, y]) => [y, x]);
      group.addLayer(L.polyline(line, style));
      const at = viewName === "equirect" ? [-2, lon] : [viewName === "north" ? 50 : -50, lon];
      group.addLayer(label(at, lonLabel(lon, lonMode)));
    }
    for (let lat = -75; lat <= 75; lat += 15) {
      if (lat < latMin || lat > latMax) continue;
      const line = densify([[-180, lat], [180, lat]], 1).map(([x, y]) => [y, x]);
      group.addLayer(L.polyline(line, style));
      const at = viewName === "equirect" ? [lat, 2] : [lat, 45];
      group.addLayer(label(at, lat === 0 ? "0°" : lat > 0 ? `${lat}°N` : `${-lat}°S`));
    }
    void view;
    return group;
  }

  function label(latlng, text) {
    return L.marker(latlng, { interactive: false, keyboard: false,
      icon: L.divIcon({ className: "grat-label", html: text, iconSize: null }) });
  }

  /* A lon/lat bbox from two corners drawn on a map: in a polar view the drawn rectangle's
     densified edges are unprojected; holding the pole makes it a cap (all longitudes). */
  function boxFromCorners(map, a, b) {
    const crsObj = map.options.crs;
    const pa = crsObj.project(a), pb = crsObj.project(b);
    const x0 = Math.min(pa.x, pb.x), x1 = Math.max(pa.x, pb.x);
    const y0 = Math.min(pa.y, pb.y), y1 = Math.max(pa.y, pb.y);
    if (crsObj.code === "IAU_2015:30110") {
      const sw = crsObj.unproject(L.point(x0, y0)), ne = crsObj.unproject(L.point(x1, y1));
      return [sw.lng, sw.lat, ne.lng, ne.lat].map((v) => Math.round(v * 1000) / 1000);
    }
    const ring = densify([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], (x1 - x0 + y1 - y0) / 64);
    const lls = ring.map(([x, y]) => crsObj.unproject(L.point(x, y)));
    const lats = lls.map((ll) => ll.lat);
    const north = crsObj.code === "IAU_2015:30130";
    const round = (v) => Math.round(v * 1000) / 1000;
    if (x0 <= 0 && 0 <= x1 && y0 <= 0 && 0 <= y1) {            // a cap around the pole
      return north ? [-180, round(Math.min(...lats)), 180, 90] : [-180, -90, 180, round(Math.max(...lats))];
    }
    const lons = lls.map((ll) => ll.lng).sort((p, q) => p - q);
    let west = lons[0], east = lons[lons.length - 1], gap = 0;  // the widest gap is outside
    for (let i = 1; i < lons.length; i++) {
      if (lons[i] - lons[i - 1] > gap) { gap = lons[i] - lons[i - 1]; west = lons[i]; east = lons[i - 1]; }
    }
    if (360 - (lons[lons.length - 1] - lons[0]) > gap) { west = lons[0]; east = lons[lons.length - 1]; }
    return [round(west), round(Math.min(...lats)), round(east), round(Math.max(...lats))];
  }

  window.Moon = { R, VIEWS, densify, footprintLatLngs, graticule, boxFromCorners, lonLabel };
})();
