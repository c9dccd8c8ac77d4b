"""What a scientist sees on /browse in a real browser: the south-polar DEM drawn around the
pole, a drawn-box + time search listing exactly the API's ids, an item's thumbnail, and a
partner key that adds restricted items (and, removed, takes them away). An anonymous page
never receives a restricted record (checked on the network, not only in the DOM)."""

from __future__ import annotations

import httpx

from tests.api.browse_site import RESTRICTED_COLLECTION, RESTRICTED_ID, Site

from .conftest import open_browse, shot


def _listed(page) -> list[str]:
    return page.eval_on_selector_all("#results button", "bs => bs.map(b => b.dataset.itemId)")


def _api_ids(site: Site, body: dict, key: str | None = None) -> list[str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    page = httpx.post(f"{site.url}search", json=body, headers=headers, timeout=30).json()
    return [f["id"] for f in page["features"]]


DEFAULT = {"limit": 20, "sortby": [{"field": "datetime", "direction": "desc"}]}


def test_the_page_lists_what_the_api_lists_and_is_linked_from_the_landing_page(page, site: Site) -> None:
    landing = httpx.get(site.url, timeout=10).json()
    alternate = [link for link in landing["links"] if link["rel"] == "alternate"]
    assert alternate and alternate[0]["type"] == "text/html" and alternate[0]["href"].endswith("/browse")
    open_browse(page, site)
    assert _listed(page) == _api_ids(site, DEFAULT)
    assert RESTRICTED_ID not in _listed(page)
    assert page.locator("path.footprint").count() >= 6
    assert page.locator(".grat-label").count() > 10  # a labelled graticule
    missions = page.eval_on_selector_all("#f-mission-values option", "os => os.map(o => o.value)")
    assert "selene" in missions and "change-7" not in missions  # facets for this viewer (STAC ids)
    for field in ("#f-collections", "#f-from", "#f-to", "#f-q", "#f-bbox", "#f-sort", "#api-key"):
        assert page.locator(f"label[for='{field[1:]}']").count() >= 1, field  # every input labelled
    shot(page, "browse-global")


def test_the_south_polar_view_draws_the_polar_dem_around_the_pole(page, site: Site) -> None:
    open_browse(page, site)
    page.select_option("#view", "south")
    footprint = page.locator("path.footprint[data-item-id='ldem_87s_40m']")
    footprint.wait_for(state="attached")
    page.evaluate("browse.state.map.setView([-90, 0], 7)")
    page.wait_for_timeout(500)
    box = footprint.bounding_box()
    pole = page.evaluate("""() => { const m = browse.state.map, p = m.latLngToContainerPoint([-90, 0]),
                                    r = m.getContainer().getBoundingClientRect();
                                    return {x: p.x + r.left, y: p.y + r.top}; }""")
    assert box["width"] > 20 and box["height"] > 20
    assert box["x"] < pole["x"] < box["x"] + box["width"]
    assert box["y"] < pole["y"] < box["y"] + box["height"]
    # a closed cap: the outline is round about the pole (as wide as it is tall)
    assert abs(box["width"] - box["height"]) < 0.1 * box["width"]
    assert "view=south" in page.url
    shot(page, "browse-south-pole")


def test_a_drawn_box_and_time_range_list_exactly_the_apis_ids(page, site: Site) -> None:
    open_browse(page, site)
    page.fill("#f-from", "2008-01-01")
    page.fill("#f-to", "2009-12-31")
    page.evaluate("browse.state.map.setView([0, 0], 0)")
    page.wait_for_timeout(300)
    page.click("#draw-box")
    for lat, lon in ((35, 10), (-15, 175)):
        point = page.evaluate(f"browse.state.map.latLngToContainerPoint([{lat}, {lon}])")
        page.locator("#map").click(position={"x": point["x"], "y": point["y"]})
    bbox = [float(v) for v in page.input_value("#f-bbox").split(",")]
    assert abs(bbox[0] - 10) < 1 and abs(bbox[2] - 175) < 1 and abs(bbox[1] + 15) < 1 and abs(bbox[3] - 35) < 1
    page.click("#run-search")
    page.wait_for_function("!document.querySelector('#matched').textContent.includes('…')")
    page.wait_for_timeout(300)
    body = {**DEFAULT, "bbox": bbox, "datetime": "2008-01-01T00:00:00Z/2009-12-31T23:59:59Z"}
    expected = _api_ids(site, body)
    assert expected and _listed(page) == expected
    assert "kaguya_tc_ortho_n05e020" in expected and "wac_mosaic_e180_643m" not in expected
    assert "bbox=" in page.url and "datetime=" in page.url  # the search is shareable
    page.goto(page.url)  # and reloading it gives the same list
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("!document.querySelector('#matched').textContent.includes('…')")
    page.wait_for_timeout(300)
    assert _listed(page) == expected


def test_opening_an_item_shows_its_thumbnail_and_assets(page, site: Site) -> None:
    open_browse(page, site)
    page.click("#results button[data-item-id='ldem_87s_40m']")
    page.wait_for_function("document.querySelector('#thumbnail') && document.querySelector('#thumbnail').naturalWidth > 0")
    assert page.evaluate("document.querySelector('#thumbnail').naturalWidth") == 256
    assets = page.inner_text("#assets")
    assert "data" in assets and "thumbnail" in assets and "KiB" in assets
    assert "lola (Lunar Orbiter Laser Altimeter)" in page.inner_text("#details-body")  # id and label
    shot(page, "browse-item")


def test_a_partner_key_adds_restricted_items_and_forgetting_it_removes_them(page, site: Site) -> None:
    requests: list[tuple[str, dict]] = []
    page.on("request", lambda r: requests.append((r.url, r.headers)))
    open_browse(page, site)
    assert RESTRICTED_ID not in _listed(page)
    page.fill("#api-key", site.esa_key)
    page.click("#use-key")
    page.wait_for_function(f"[...document.querySelectorAll('#results button')].some(b => b.dataset.itemId === '{RESTRICTED_ID}')")
    assert _listed(page) == _api_ids(site, DEFAULT, site.esa_key)
    assert page.evaluate("sessionStorage.getItem('datacenter-api-key')") == site.esa_key
    assert page.input_value("#api-key") == ""
    page.wait_for_function("[...document.querySelectorAll('#f-instruments-values option')].some(o => o.value === 'mcam')")
    keyed = [h for u, h in requests if u.startswith(f"{site.url}search")]
    assert any(h.get("authorization") == f"Bearer {site.esa_key}" for h in keyed)
    assert not any(site.esa_key in u for u, _ in requests)  # never in a URL
    page.click(f"#results button[data-item-id='{RESTRICTED_ID}']")
    page.wait_for_function("document.querySelector('#thumbnail') && document.querySelector('#thumbnail').naturalWidth > 0")
    shot(page, "browse-partner")
    page.click("#forget-key")
    page.wait_for_function(f"![...document.querySelectorAll('#results button')].some(b => b.dataset.itemId === '{RESTRICTED_ID}')")
    assert _listed(page) == _api_ids(site, DEFAULT)
    assert page.evaluate("sessionStorage.getItem('datacenter-api-key')") is None


def test_an_anonymous_page_never_receives_a_restricted_record(page, site: Site) -> None:
    bodies: list[tuple[str, bytes]] = []

    def keep(response) -> None:
        try:
            bodies.append((response.url, response.body()))
        except Exception:  # a redirect or an aborted request has no body
            bodies.append((response.url, b""))

    page.on("response", keep)
    open_browse(page, site)
    for view in ("south", "north", "equirect"):
        page.select_option("#view", view)
        page.wait_for_timeout(800)
    page.fill("#f-q", "shackleton")
    page.click("#run-search")
    page.wait_for_timeout(800)
    page.evaluate("browse.state.map.setView([-90, 0], 6)")
    page.wait_for_timeout(800)
    assert len(bodies) > 10
    for url, body in bodies:
        assert RESTRICTED_ID.encode() not in body, url
        assert RESTRICTED_COLLECTION.encode() not in body, url
        assert b"MCAM" not in body, url  # not even its instrument, through the facets
    # and the server did refuse when asked directly (the record exists)
    hidden = httpx.get(f"{site.url}collections/{RESTRICTED_COLLECTION}/items/{RESTRICTED_ID}", timeout=10)
    assert hidden.status_code == 404
