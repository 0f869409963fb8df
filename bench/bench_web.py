"""The web app's budgets: initial JavaScript, and an event page with 100 photos in headless Chromium.

    .venv/bin/python bench/bench_web.py [--photos 100] [--skip-page] [--dist web/dist]

(a) Initial JavaScript, gzipped (zlib level 6, what servers and CloudFront typically send): web/dist/index.html's
    entry module(s) and modulepreloads, plus every chunk they import statically (transitively); lazy chunks
    (``import()``) are not initial. Printed against the 100 KB budget, with the biggest lazy chunks and where
    Chart.js is (it must be lazy: the dashboards load it).

(b) The event page (``/events/<id>``, grid items ``li[data-photo-id] img``) with N ready photos, in Debian's
    Chromium (headless, cold cache, a desktop and a phone viewport) against a local stack (``start_stack``):
    one user, one event, N small JPEGs sent through the bulk-upload presigned POSTs and processed by the real
    pipeline (S3 -> SQS -> processor) until ready. Measured from navigation start: the first grid thumbnail
    decoded (``img.complete``), all thumbnails in the viewport decoded, and LCP; bytes transferred (Playwright's
    ``request.sizes()``: headers + body of every response), by kind; and how many of each photo variant the
    page fetched: a grid must fetch ``thumb`` only, never ``medium`` or ``large``. When the route is not in
    the build yet the page part says so and the rest of the figures stand.

Figures are printed, never asserted; compare ratios within one run (this machine is shared).
"""

from __future__ import annotations

import argparse
import gzip
import io
import random
import re
import sys
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUDGET_BYTES = 100 * 1024
CHART_JS_MARKERS = ("Canvas is already in use", "Chart.js v")  # an error message of Chart.js; its banner
STATIC_IMPORT = re.compile(r"""(?:\bimport|\bexport)\s*(?:[\w$*{}\s,]*?\bfrom\s*)?["'](\.{1,2}/[^"']+\.js)["']""")
VARIANT = re.compile(r"/photos/[^/?]+/(thumb|medium|large|watermarked|preview|original|poster|stream)\b")
GRID_IMG = "li[data-photo-id] img"
VIEWPORTS = {"desktop 1280x860": (1280, 860), "phone 390x844": (390, 844)}


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


class _Entry(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.preloads: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("type") == "module" and a.get("src"):
            self.scripts.append(a["src"] or "")
        elif tag == "link" and a.get("rel") == "modulepreload" and a.get("href"):
            self.preloads.append(a["href"] or "")
        elif tag == "link" and a.get("rel") == "stylesheet" and a.get("href"):
            self.styles.append(a["href"] or "")


def initial_javascript(dist: Path) -> dict:
    parser = _Entry()
    parser.feed((dist / "index.html").read_text())
    initial: list[Path] = []
    queue = [dist / src.lstrip("/") for src in parser.scripts + parser.preloads]
    while queue:
        path = queue.pop(0).resolve()
        if path in initial or not path.is_file():
            continue
        initial.append(path)
        queue.extend(path.parent / rel for rel in STATIC_IMPORT.findall(path.read_text(errors="replace")))
    every = sorted((dist / "assets").glob("*.js"))
    lazy = [p for p in every if p.resolve() not in initial]

    def chart(p: Path) -> bool:
        text = p.read_text(errors="replace")
        return any(marker in text for marker in CHART_JS_MARKERS)

    return {
        "initial": [(p.name, p.stat().st_size, gz(p.read_bytes())) for p in initial],
        "lazy": sorted(((p.name, p.stat().st_size, gz(p.read_bytes())) for p in lazy), key=lambda t: -t[2]),
        "css": [
            (s, gz((dist / s.lstrip("/")).read_bytes())) for s in parser.styles if (dist / s.lstrip("/")).is_file()
        ],
        "chart_initial": [p.name for p in initial if chart(p)],
        "chart_lazy": [p.name for p in lazy if chart(p)],
    }


def report_js(dist: Path) -> None:
    print("== (a) initial JavaScript (gzip -6) ==")
    if not (dist / "index.html").is_file():
        print(f"  {dist}/index.html is missing: run `make web`")
        return
    js = initial_javascript(dist)
    total = sum(g for _, _, g in js["initial"])
    for name, raw, g in js["initial"]:
        print(f"  initial {name:<40} {raw / 1024:8.1f} KB raw {g / 1024:7.1f} KB gzip")
    verdict = "within" if total <= BUDGET_BYTES else "OVER"
    print(f"  initial JS total: {total / 1024:.1f} KB gzip, budget 100 KB: {verdict} ({total / BUDGET_BYTES:.0%})")
    for href, g in js["css"]:
        print(f"  initial CSS {href}: {g / 1024:.1f} KB gzip (not counted in the JS budget)")
    lazy_total = sum(g for _, _, g in js["lazy"])
    print(f"  lazy chunks: {len(js['lazy'])}, {lazy_total / 1024:.1f} KB gzip in all; the biggest:")
    for name, raw, g in js["lazy"][:8]:
        print(f"    {name:<42} {raw / 1024:8.1f} KB raw {g / 1024:7.1f} KB gzip")
    if js["chart_initial"]:
        print(f"  Chart.js is in the INITIAL JS ({', '.join(js['chart_initial'])}): it must be a lazy chunk")
    elif js["chart_lazy"]:
        print(f"  Chart.js: lazy ({', '.join(js['chart_lazy'])})")
    else:
        print("  Chart.js: not in this build (no screen imports it yet)")


# ---- (b) the event page ---------------------------------------------------------------------------------------


def _jpeg(seed: int) -> bytes:
    """A small photo-like JPEG (noise over a gradient, 1024x768), so the variants have real sizes."""
    from PIL import Image

    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((1024, 768)).convert("RGB")
    tint = Image.new("RGB", (1024, 768), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    noise = Image.effect_noise((1024, 768), 40).convert("RGB")
    image = Image.blend(Image.blend(base, tint, 0.5), noise, 0.25)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


def make_event(stack, photos: int) -> tuple[object, str, float]:
    import requests

    from tests.web.kit import call, make_user

    user = make_user(stack, "bench")
    event = call(stack, "POST", "/events", {"name": "Bench", "visibility": "public"}, token=user.token).json()
    datas = [_jpeg(n) for n in range(min(photos, 8))]  # a few distinct images, reused
    started = time.monotonic()
    ids: list[str] = []
    for offset in range(0, photos, 100):  # the bulk upload takes up to 100 files
        batch = [datas[(offset + n) % len(datas)] for n in range(min(100, photos - offset))]
        files = [
            {"filename": f"p{offset + n}.jpg", "content_type": "image/jpeg", "size": len(d)}
            for n, d in enumerate(batch)
        ]
        r = call(stack, "POST", f"/events/{event['id']}/photos/bulk-upload", {"files": files}, token=user.token)
        r.raise_for_status()
        for slot, data in zip(r.json()["uploads"], batch, strict=True):
            up = slot["upload"]
            requests.post(
                up["url"], data=up["fields"], files={"file": ("p.jpg", data, "image/jpeg")}, timeout=60
            ).raise_for_status()
            ids.append(slot["photo_id"])
    deadline = time.monotonic() + 60 + photos * 3
    while True:  # one listing page per poll (not a GET per photo: that would load the API the processor shares)
        statuses: Counter[str] = Counter()
        cursor = None
        while True:
            query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
            page = call(stack, "GET", f"/events/{event['id']}/photos{query}", token=user.token).json()
            statuses.update(item["status"] for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if statuses["rejected"]:
            raise RuntimeError(f"{statuses['rejected']} photos were rejected")
        if statuses["ready"] >= len(ids):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"photos not ready in time: {dict(statuses)}")
        time.sleep(1.0)
    return user, event["id"], time.monotonic() - started


FIRST_THUMB = f"""() => {{
  const imgs = [...document.querySelectorAll({GRID_IMG!r})];
  return imgs.some((i) => i.complete && i.naturalWidth > 0) ? performance.now() : false;
}}"""
VISIBLE_THUMBS = f"""() => {{
  const imgs = [...document.querySelectorAll({GRID_IMG!r})].filter((i) => {{
    const r = i.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
  }});
  return imgs.length && imgs.every((i) => i.complete && i.naturalWidth > 0)
    ? {{ t: performance.now(), visible: imgs.length, total: document.querySelectorAll({GRID_IMG!r}).length }}
    : false;
}}"""
LCP_OBSERVER = """window.__lcp = 0;
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__lcp = e.startTime; })
  .observe({ type: "largest-contentful-paint", buffered: true });"""


def kind_of(url: str, resource_type: str) -> str:
    if VARIANT.search(url):
        return "photos"
    if resource_type in ("script", "stylesheet", "document"):
        return resource_type
    if resource_type in ("fetch", "xhr"):
        return "api"
    return resource_type


def measure_page(browser, stack, user, event_id: str, viewport: tuple[int, int], timeout_ms: int = 30_000) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(base_url=stack.web_url, viewport={"width": viewport[0], "height": viewport[1]})
    context.add_init_script(LCP_OBSERVER)
    page = context.new_page()
    try:
        page.goto("/login")
        page.get_by_label("Email or username").fill(user.username)
        page.get_by_label("Password").fill(user.password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/login" not in url, timeout=timeout_ms)  # (phones: the nav is a menu)
        # Cold cache for the measured load (the refresh cookie stays: the app restores the session from it, as
        # for someone opening a link to the event).
        cdp = context.new_cdp_session(page)
        cdp.send("Network.clearBrowserCache")
        finished: list[tuple[str, str, int]] = []

        def on_finished(request) -> None:
            sizes = request.sizes()
            finished.append(
                (request.url, request.resource_type, sizes["responseHeadersSize"] + sizes["responseBodySize"])
            )

        page.on("requestfinished", on_finished)
        page.goto(f"/events/{event_id}", wait_until="commit")
        try:
            first = page.wait_for_function(FIRST_THUMB, polling="raf", timeout=timeout_ms).json_value()
        except PlaywrightTimeout:
            text = page.locator("main").inner_text(timeout=2000) if page.locator("main").count() else ""
            return {"missing": True, "text": " ".join(text.split())[:160]}
        visible = page.wait_for_function(VISIBLE_THUMBS, polling="raf", timeout=timeout_ms).json_value()
        page.wait_for_load_state("networkidle")
        lcp = page.evaluate("window.__lcp")
        kinds: Counter[str] = Counter()
        variants: Counter[str] = Counter()
        for url, resource_type, size in finished:
            kinds[kind_of(url, resource_type)] += size
            found = VARIANT.search(url)
            if found:
                variants[found.group(1)] += 1
        return {
            "missing": False,
            "first": first,
            "visible": visible,
            "lcp": lcp,
            "bytes": sum(kinds.values()),
            "kinds": dict(kinds),
            "variants": dict(variants),
            "requests": len(finished),
        }
    finally:
        context.close()


def report_page(photos: int) -> None:
    print(f"== (b) event page with {photos} photos (headless Chromium, cold cache) ==")
    from playwright.sync_api import sync_playwright

    from infrastructure.local.stack import start_stack
    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        print(f"  {CHROMIUM} is missing: run `make chromium`")
        return
    started = time.monotonic()
    with start_stack() as stack:
        print(f"  local stack up in {time.monotonic() - started:.1f} s")
        user, event_id, took = make_event(stack, photos)
        print(f"  {photos} photos uploaded (bulk-upload presigned POSTs) and ready in {took:.1f} s")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                for label, viewport in VIEWPORTS.items():
                    m = measure_page(browser, stack, user, event_id, viewport)
                    if m["missing"]:
                        print(
                            f"  {label}: the event page is not in this build yet (no {GRID_IMG} at /events/<id> "
                            f"within 30 s; the page shows: {m['text']!r}): no page figures"
                        )
                        break
                    v = m["visible"]
                    print(
                        f"  {label}: first thumbnail {m['first']:.0f} ms, all {v['visible']} visible thumbnails "
                        f"{v['t']:.0f} ms ({v['total']} in the grid), LCP {m['lcp']:.0f} ms"
                    )
                    kinds = ", ".join(
                        f"{k} {b / 1024:.0f} KB" for k, b in sorted(m["kinds"].items(), key=lambda t: -t[1])
                    )
                    print(f"    {m['bytes'] / 1024:.0f} KB transferred in {m['requests']} requests: {kinds}")
                    variants = m["variants"]
                    counts = ", ".join(f"{k} {n}" for k, n in sorted(variants.items())) or "none"
                    bad = variants.get("large", 0) + variants.get("medium", 0)
                    verdict = "thumbnails only" if not bad else f"{bad} medium/large fetched by the grid: a defect"
                    print(f"    variants fetched: {counts} ({verdict})")
            finally:
                browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dist", type=Path, default=ROOT / "web" / "dist")
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--skip-page", action="store_true", help="only the JavaScript sizes")
    args = parser.parse_args(argv)
    report_js(args.dist)
    if not args.skip_page:
        report_page(args.photos)
    return 0


if __name__ == "__main__":
    sys.exit(main())
