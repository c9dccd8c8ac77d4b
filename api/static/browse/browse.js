/* The browse page: search panel, footprints, item details, partner key. Talks only to this
   API (base URL in <body data-api>), sending the key as `Authorization: Bearer` and never in
   a URL. Leaflet draws; moon.js holds the lunar geometry; strings.js the words. */
(function () {
  "use strict";
  const API = document.body.dataset.api;
  const BASEMAP = document.body.dataset.basemap;
  const KEY = "datacenter-api-key";
  const state = { view: "equirect", lonMode: "pm180", lang: "en", bbox: null, items: [],
                  next: null, prev: null, map: null, layers: {}, drawing: null, overlay: null,
                  basemapOk: true };
  const $ = (id) => document.getElementById(id);
  const S = () => STRINGS[state.lang] || STRINGS.en;
  const el = (tag, attrs = {}, ...kids) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    kids.forEach((kid) => node.append(kid));
    return node;
  };

  // --- the API, always with the key in a header ---------------------------------------------
  function headers(extra = {}) {
    const key = sessionStorage.getItem(KEY);
    return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
  }
  async function api(path, options = {}) {
    const url = path.startsWith("http") ? path : API + path;
    const response = await fetch(url, { ...options, headers: headers(options.headers || {}) });
    if (!response.ok) {
      let text = `${response.status}`;
      try { text = (await response.json()).description || text; } catch (e) { /* not JSON */ }
      const err = new Error(text); err.status = response.status; err.response = response; throw err;
    }
    return response;
  }
  const json = async (path, options) => (await api(path, options)).json();
  function show(message) { $("message").textContent = message || ""; }

  /* Tiles fetched with the key (an <img src> could not carry the header). */
  const AuthTiles = L.TileLayer.extend({
    createTile(coords, done) {
      const img = document.createElement("img");
      img.alt = "";
      fetch(this.getTileUrl(coords), { headers: headers() })
        .then((r) => (r.ok ? r.blob() : null))
        .then((blob) => {
          if (!blob) { done(null, img); return; }
          const url = URL.createObjectURL(blob);
          img.onload = () => { URL.revokeObjectURL(url); done(null, img); };
          img.src = url;
        }).catch(() => done(null, img));
      return img;
    },
  });

  // --- the map ---------------------------------------------------------------------------------
  function buildMap() {
    const view = Moon.VIEWS[state.view];
    if (state.map) state.map.remove();
    const map = L.map("map", { crs: view.crs, center: view.center, zoom: view.zoom, minZoom: 0,
                               maxZoom: 12, attributionControl: false, keyboard: true });
    state.map = map;
    state.layers = {};
    if (BASEMAP && state.basemapOk) {
      state.layers.basemap = new AuthTiles(`${API}collections/${encodeURIComponent(BASEMAP)}/tiles/${view.tms}/{z}/{x}/{y}.png`,
        { maxNativeZoom: 6, maxZoom: 12, noWrap: true, bounds: null }).addTo(map);
    }
    state.layers.graticule = Moon.graticule(state.view, state.lonMode).addTo(map);
    map.on("click", onMapClick);
    drawFootprints();
    drawBox();
    if (state.overlay) showTiles(state.overlay);
  }

  function drawFootprints() {
    const map = state.map;
    if (state.layers.footprints) state.layers.footprints.remove();
    const group = L.layerGroup().addTo(map);
    state.layers.footprints = group;
    const visible = Moon.VIEWS[state.view].visible;
    for (const item of state.items) {
      // the basemap's own footprint (the whole Moon) would only cover the map
      if (!item.geometry || item.collection === BASEMAP || (item.bbox && !visible(item.bbox))) continue;
      const polygon = L.polygon(Moon.footprintLatLngs(item.geometry),
        { color: "#ffcc4d", weight: 2, fillOpacity: 0.12, className: "footprint" });
      polygon.on("click", () => showItem(item));
      polygon.on("mouseover", () => highlight(item.id, true));
      polygon.on("mouseout", () => highlight(item.id, false));
      polygon.bindTooltip(item.properties.title || item.id, { sticky: true });
      group.addLayer(polygon);
      const path = polygon.getElement();
      if (path) { path.dataset.itemId = item.id; path.dataset.collection = item.collection; }
    }
  }

  function highlight(id, on) {
    const button = document.querySelector(`#results button[data-item-id="${CSS.escape(id)}"]`);
    if (button) button.classList.toggle("active", on);
  }

  function boxRings(b) {
    const [w, s, e, n] = b;
    const east = e < w ? e + 360 : e;
    const ring = Moon.densify([[w, s], [east, s], [east, n], [w, n], [w, s]], 1);
    return [ring.map(([x, y]) => [y, x > 180 ? x - 360 : x])];
  }
  function drawBox() {
    if (state.layers.box) state.layers.box.remove();
    if (!state.bbox) return;
    state.layers.box = L.polygon(boxRings(state.bbox), { color: "#4dd2ff", dashArray: "4 4",
      fill: false, interactive: false, className: "search-box" }).addTo(state.map);
  }

  function onMapClick(event) {
    if (!state.drawing) return;
    state.drawing.push(event.latlng);
    if (state.drawing.length === 2) {
      state.bbox = Moon.boxFromCorners(state.map, state.drawing[0], state.drawing[1]);
      state.drawing = null;
      $("f-bbox").value = state.bbox.join(",");
      show("");
      drawBox();
    }
  }

  function showTiles(item) {
    state.overlay = item;
    if (state.layers.overlay) state.layers.overlay.remove();
    const tms = Moon.VIEWS[state.view].tms;
    state.layers.overlay = new AuthTiles(`${API}collections/${encodeURIComponent(item.collection)}/items/${encodeURIComponent(item.id)}/tiles/${tms}/{z}/{x}/{y}.png`,
      { maxZoom: 12, noWrap: true }).addTo(state.map);
  }

  // --- search ----------------------------------------------------------------------------------
  function searchBody() {
    const body = { limit: 20, sortby: [{ field: "datetime", direction: $("f-sort").value === "datetime" ? "asc" : "desc" }] };
    const collections = [...$("f-collections").selectedOptions].map((o) => o.value);
    if (collections.length) body.collections = collections;
    const from = $("f-from").value, to = $("f-to").value;
    if (from || to) body.datetime = `${from ? from + "T00:00:00Z" : ".."}/${to ? to + "T23:59:59Z" : ".."}`;
    if ($("f-q").value.trim()) body.q = $("f-q").value.trim();
    const bbox = $("f-bbox").value.trim();
    if (bbox) body.bbox = bbox.split(",").map(Number);
    const args = [];
    for (const input of document.querySelectorAll("#queryable-fields input")) {
      const value = input.value.trim();
      if (!value) continue;
      const prop = { property: input.dataset.property };
      args.push(input.dataset.array ? { op: "a_overlaps", args: [prop, [value]] } : { op: "=", args: [prop, value] });
    }
    if (args.length) { body.filter = args.length === 1 ? args[0] : { op: "and", args }; body["filter-lang"] = "cql2-json"; }
    return body;
  }

  function keepInUrl(body) {
    const p = new URLSearchParams();
    if (body.collections) p.set("collections", body.collections.join(","));
    if (body.datetime) p.set("datetime", body.datetime);
    if (body.q) p.set("q", body.q);
    if (body.bbox) p.set("bbox", body.bbox.join(","));
    if ($("f-sort").value !== "-datetime") p.set("sortby", $("f-sort").value);
    for (const input of document.querySelectorAll("#queryable-fields input")) {
      if (input.value.trim()) p.set(input.dataset.property, input.value.trim());
    }
    p.set("view", state.view);
    history.replaceState(null, "", `${location.pathname}?${p}`);
  }

  function readUrl() {
    const p = new URLSearchParams(location.search);
    if (p.get("view") && Moon.VIEWS[p.get("view")]) state.view = p.get("view");
    $("view").value = state.view;
    if (p.get("q")) $("f-q").value = p.get("q");
    if (p.get("bbox")) { $("f-bbox").value = p.get("bbox"); state.bbox = p.get("bbox").split(",").map(Number); }
    if (p.get("sortby")) $("f-sort").value = p.get("sortby");
    const dt = (p.get("datetime") || "").split("/");
    if (dt[0] && dt[0] !== "..") $("f-from").value = dt[0].slice(0, 10);
    if (dt[1] && dt[1] !== "..") $("f-to").value = dt[1].slice(0, 10);
    return p;
  }

  async function search(request) {
    show("");
    $("matched").textContent = S().loading;
    const body = request || searchBody();
    if (!request) keepInUrl(body);
    try {
      const page = await json("search", { method: "POST", headers: { "Content-Type": "application/json" },
                                           body: JSON.stringify(body) });
      state.items = page.features;
      state.next = (page.links || []).find((l) => l.rel === "next") || null;
      state.prev = (page.links || []).find((l) => l.rel === "prev" || l.rel === "previous") || null;
      const matched = page.numberMatched ?? page.context?.matched ?? null;
      $("matched").textContent = state.items.length ? S().matched(matched, state.items.length) : S().noResults;
      listResults();
      drawFootprints();
    } catch (err) { $("matched").textContent = ""; show(`${S().error}: ${err.message}`); }
  }

  function follow(link) {
    if (!link) return;
    if ((link.method || "GET").toUpperCase() === "POST") search(link.body);
    else json(link.href).then((page) => { state.items = page.features; listResults(); drawFootprints(); });
  }

  function listResults() {
    const list = $("results");
    list.replaceChildren(...state.items.map((item) => el("li", {},
      el("button", { type: "button", "data-item-id": item.id, onclick: () => showItem(item),
                     onmouseover: () => highlight(item.id, true), onmouseout: () => highlight(item.id, false) },
         `${item.properties.title || item.id} · ${(item.properties.datetime || item.properties.start_datetime || "").slice(0, 10)}`))));
    $("next-page").disabled = !state.next;
    $("prev-page").disabled = !state.prev;
  }

  // --- one item --------------------------------------------------------------------------------
  const human = (n) => (n == null ? "" : n > 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`);
  function resolution(p) {
    if (p.gsd) return `${p.gsd} m`;
    const t = p["proj:transform"];
    if (!t) return "";
    const geographic = String(p["proj:code"] || "").endsWith("30100");
    return geographic ? `${(Math.abs(t[0]) * Math.PI / 180 * Moon.R).toFixed(0)} m (${Math.abs(t[0]).toPrecision(3)}°)` : `${Math.abs(t[0])} m`;
  }

  async function blobUrl(href) { return URL.createObjectURL(await (await api(href)).blob()); }
  async function download(href, name) {
    try {
      const a = el("a", { href: await blobUrl(href), download: name });
      document.body.append(a); a.click(); a.remove();
    } catch (err) { show(`${S().error}: ${err.message}`); }
  }

  // STAC's lower-case identifier, with the label's own spelling beside it when it differs
  function named(id, label) {
    return label && label !== id ? `${id || ""} (${label})` : (id || "");
  }

  function showItem(item) {
    const s = S(), p = item.properties;
    $("details").hidden = false;
    $("details-h").textContent = p.title || item.id;
    const rows = [[s.item, `${item.collection} / ${item.id}`],
      [s.time, p.datetime || `${p.start_datetime} – ${p.end_datetime}`],
      [s.mission, named(p.mission, p["dc:label_mission"])],
      [s.instrument, named((p.instruments || []).join(", "), (p["dc:label_instruments"] || []).join(", "))],
      [s.target, (p["ssys:targets"] || []).join(", ")],
      [s.level, p["processing:level"] || ""], [s.resolution, resolution(p)]];
    const body = $("details-body");
    body.replaceChildren(el("table", {}, ...rows.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: v })))));
    const thumb = item.assets && item.assets.thumbnail;
    if (thumb) {
      const img = el("img", { class: "thumb", alt: `${s.thumbnail}: ${p.title || item.id}`, id: "thumbnail" });
      body.append(img);
      blobUrl(thumb.href).then((url) => { img.src = url; }).catch((err) => show(err.message));
    }
    body.append(el("button", { type: "button", text: s.showTiles, onclick: () => showTiles(item) }));
    body.append(el("h3", { text: s.assets }));
    const assets = el("ul", { id: "assets" });
    for (const [key, asset] of Object.entries(item.assets || {})) {
      const name = asset.href.split("/").pop();
      assets.append(el("li", {}, `${key} (${asset.type || ""}) ${human(asset["file:size"])} `,
        el("a", { href: asset.href, "data-asset": key, text: s.download,
                  onclick: (e) => { e.preventDefault(); download(asset.href, `${item.id}-${name}`); } })));
    }
    body.append(assets, subsetForm(item));
    $("details").focus();
  }

  function subsetForm(item) {
    const s = S();
    const status = el("p", { role: "status", id: "job-status" });
    const format = el("select", { id: "s-format" }, ...["netcdf", "geotiff", "zarr"].map((f) => el("option", { value: f, text: f })));
    const vars = el("input", { id: "s-vars", type: "text" });
    const useBox = el("input", { id: "s-box", type: "checkbox" });
    const form = el("form", { id: "subset-form" }, el("h3", { text: s.subset }),
      el("label", { for: "s-format", text: s.format }), format,
      el("label", { for: "s-vars", text: s.bands }), vars,
      el("label", { for: "s-box" }, useBox, ` ${s.useBox}`),
      el("button", { type: "submit", text: s.submit }), status);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const q = new URLSearchParams({ format: format.value });
      if (vars.value.trim()) q.set("variables", vars.value.trim());
      if (useBox.checked && state.bbox) q.set("bbox", state.bbox.join(","));
      const href = `collections/${encodeURIComponent(item.collection)}/items/${encodeURIComponent(item.id)}/subset?${q}`;
      try { await download(href, `${item.id}-subset`); } catch (err) {
        if (err.status !== 413) { status.textContent = err.message; return; }
        const job = await json("jobs", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ collections: [item.collection], ids: [item.id], format: format.value,
                                 ...(useBox.checked && state.bbox ? { bbox: state.bbox } : {}) }) });
        pollJob(job.id || job.jobID, status);
      }
    });
    return form;
  }

  async function pollJob(id, status) {
    const job = await json(`jobs/${encodeURIComponent(id)}`);
    status.textContent = `${S().jobStatus}: ${job.status}${job.progress != null ? ` (${job.progress}%)` : ""}`;
    if (!["successful", "failed", "dismissed"].includes(job.status)) setTimeout(() => pollJob(id, status), 1500);
  }

  // --- collections, queryables, identity --------------------------------------------------------
  async function loadCollections() {
    const data = await json("collections?limit=100");
    const select = $("f-collections"), chosen = new Set((new URLSearchParams(location.search).get("collections") || "").split(",").filter(Boolean));
    select.replaceChildren(...data.collections.map((c) => {
      const option = el("option", { value: c.id, text: c.title || c.id });
      option.selected = chosen.has(c.id);
      return option;
    }));
    state.basemapOk = data.collections.some((c) => c.id === BASEMAP);
    $("collections").replaceChildren(...data.collections.map((c) => el("li", {},
      el("strong", { text: c.title || c.id }),
      el("div", { class: "help", text: `${S().license}: ${c.license || ""} · ${S().providers}: ${(c.providers || []).map((p) => p.name).join(", ")}` }),
      el("div", { class: "help", text: Object.entries(c.summaries || {}).map(([k, v]) => `${k}: ${[].concat(v).slice(0, 3).join(", ")}`).join(" · ") }),
      el("button", { type: "button", text: S().extent, onclick: () => drawExtent(c) }))));
    if (!state.basemapOk) show(S().basemapMissing);
  }

  function drawExtent(collection) {
    if (state.layers.extent) state.layers.extent.remove();
    const boxes = ((collection.extent || {}).spatial || {}).bbox || [];
    state.layers.extent = L.layerGroup(boxes.map((b) => L.polygon(boxRings(b), { color: "#7cff9b", fill: false, interactive: false }))).addTo(state.map);
  }

  async function loadQueryables() {
    const schema = await json("queryables");
    const wanted = [["mission", "mission"], ["instruments", "instrument"], ["processing:level", "level"]];
    const box = $("queryable-fields");
    box.replaceChildren();
    // facet values for the fields, counted by the Aggregation extension for this viewer
    const facets = await json("aggregate?aggregations=mission_frequency,instrument_frequency,processing_level_frequency")
      .then((a) => Object.fromEntries(a.aggregations.map((g) => [g.name, g.buckets.map((b) => b.key)])))
      .catch(() => ({}));
    const facetOf = { mission: "mission_frequency", instruments: "instrument_frequency", "processing:level": "processing_level_frequency" };
    for (const [property, label] of wanted) {
      const def = (schema.properties || {})[property];
      if (!def) continue;
      const id = `f-${property.replace(":", "-")}`;
      const input = el("input", { id, type: "text", "data-property": property, list: `${id}-values` });
      const values = el("datalist", { id: `${id}-values` }, ...(facets[facetOf[property]] || []).map((v) => el("option", { value: v })));
      if (def.type === "array") input.dataset.array = "1";
      const value = new URLSearchParams(location.search).get(property);
      if (value) input.value = value;
      box.append(el("label", { for: id, "data-s": label, text: S()[label] }), input, values);
    }
  }

  async function identity() {
    const key = sessionStorage.getItem(KEY);
    $("identity").textContent = key ? S().signedIn : S().anonymous;
  }

  async function useKey(event) {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    $("api-key").value = "";
    try { await api(""); } catch (err) {
      sessionStorage.removeItem(KEY); show(`${S().badKey}: ${err.message}`);
    }
    await refresh();
  }
  async function forgetKey() { sessionStorage.removeItem(KEY); await refresh(); }

  async function refresh() {
    identity();
    $("details").hidden = true;
    state.overlay = null;
    await Promise.all([loadCollections(), loadQueryables()]);
    buildMap();
    await search();
  }

  function translate() {
    const s = S();
    document.documentElement.lang = state.lang;
    document.title = s.title;
    for (const node of document.querySelectorAll("[data-s]")) {
      const text = s[node.dataset.s];
      if (typeof text === "string") node.textContent = text;
    }
    identity();
  }

  // --- wiring ------------------------------------------------------------------------------------
  $("view").addEventListener("change", () => { state.view = $("view").value; buildMap(); keepInUrl(searchBody()); });
  $("lon-mode").addEventListener("change", () => { state.lonMode = $("lon-mode").value; buildMap(); });
  $("lang").addEventListener("change", () => { state.lang = $("lang").value; translate(); });
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); state.bbox = $("f-bbox").value.trim() ? $("f-bbox").value.split(",").map(Number) : null; drawBox(); search(); });
  $("search-form").addEventListener("reset", () => { state.bbox = null; setTimeout(() => { drawBox(); search(); }, 0); });
  $("draw-box").addEventListener("click", () => { state.drawing = []; show(S().drawHint); });
  $("clear-box").addEventListener("click", () => { state.bbox = null; $("f-bbox").value = ""; drawBox(); });
  $("next-page").addEventListener("click", () => follow(state.next));
  $("prev-page").addEventListener("click", () => follow(state.prev));
  $("key-form").addEventListener("submit", useKey);
  $("forget-key").addEventListener("click", forgetKey);
  $("close-details").addEventListener("click", () => { $("details").hidden = true; });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") { $("details").hidden = true; state.drawing = null; show(""); } });

  window.browse = { state, search, refresh, ready: null };
  readUrl();
  translate();
  window.browse.ready = refresh().then(() => { document.body.dataset.ready = "1"; });
})();
