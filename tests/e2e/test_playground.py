"""The playground at `/` in a real headless Chromium against a real service on loopback: key,
every model's generated form, live price against /v1/quote, submit, live progress, the video
played and decoded, cancel, past jobs, usage, field errors, a phone-sized screen, and no request
outside the service's own origin. Screenshots: STILLMOTION_SCREENSHOTS=docs/screenshots."""

from __future__ import annotations

import time

import pytest
import requests

from stillmotion.media.video import probe
from tests.e2e.browser import Page, browser, screenshot_dir  # noqa: F401 - fixture
from tests.helpers import KEY, ROOT, auth

CAT = ROOT / "examples" / "cat.jpg"
WATCH_PROGRESS = """() => {
  window.__progress = [];
  const text = document.querySelector('#job-progress-text');
  new MutationObserver(() => window.__progress.push(parseInt(text.textContent, 10)))
    .observe(text, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture()
def page(browser, service):  # noqa: F811
    p = Page(browser, service.base, viewport={"width": 1280, "height": 900})
    yield p
    p.close()


def enter_key(pg) -> None:
    pg.fill("#key", KEY)
    pg.press("#key", "Enter")  # the keyboard submits the key form
    pg.wait_for_selector("#f-prompt")


def expected_quote(base: str, model: dict, **changes: object) -> str:
    """What /v1/quote says for the model's defaults plus `changes` (images stand in as strings)."""
    entry = {**model["defaults"], "prompt": "The camera zooms in slowly.", **changes}
    for name in ("image", "image_tail"):
        if name in model["input_schema"]["properties"]:
            entry[name] = "x"
    if "images" in model["input_schema"]["properties"]:
        entry["images"] = ["x"]
    r = requests.post(f"{base}/v1/quote", json={"model": model["id"], "input": entry}, headers=auth(), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["amount"]


def wait_price(pg, amount: str) -> None:
    pg.wait_for_function("a => document.querySelector('#price').dataset.amount === a", arg=amount, timeout=10_000)


def choose_model(pg, model_id: str) -> None:
    pg.select_option("#model", model_id)
    pg.wait_for_function("id => document.querySelector('#model').value === id "
                         "&& document.querySelector('#fields').children.length > 0", arg=model_id)


def test_playground_creates_watches_plays_and_cancels(page, service, tmp_path):
    shots = screenshot_dir(tmp_path)
    pg = page.page
    pg.goto(service.base + "/")
    pg.screenshot(path=str(shots / "playground-1-open.png"))
    enter_key(pg)
    models = requests.get(f"{service.base}/v1/models", headers=auth(), timeout=10).json()["data"]
    by_id = {m["id"]: m for m in models}
    assert len(models) == 5

    # Every model family: the form follows its schema (defaults, ranges, options), the price follows the form.
    for model in models:
        choose_model(pg, model["id"])
        props = model["input_schema"]["properties"]
        for name, prop in props.items():
            node = pg.locator(f"#f-{name}")
            assert node.count() == 1, f"{model['id']}: no control for {name}"
            assert pg.evaluate("n => document.getElementById('f-' + n).labels.length", name) >= 1, name
            if name in ("image", "image_tail", "images"):
                assert node.get_attribute("type") == "file"
            elif "enum" in prop and "default" in prop:
                assert node.input_value() == str(prop["default"]), name
                shown = pg.eval_on_selector_all(f"#f-{name} option", "os => os.map(o => o.value)")
                assert [v for v in prop["enum"] if isinstance(v, str) and not v.isdigit()] == shown
            elif prop.get("type") in ("integer", ["integer", "string"]) and "default" in prop:
                assert node.input_value() == str(prop["default"])
                assert node.get_attribute("max") == str(prop["maximum"])
        for name in ("image", "images", "image_tail"):
            if name in props:
                pg.set_input_files(f"#f-{name}", str(CAT))
                pg.wait_for_selector(f"#preview-{name}:not([hidden])")
        wait_price(pg, expected_quote(service.base, model))
        pg.fill("#f-duration", "2")
        pg.select_option("#f-resolution", "1080p")
        wait_price(pg, expected_quote(service.base, model, duration=2, resolution="1080p"))
        if "off_peak" in props:
            pg.check("#f-off_peak")
            wait_price(pg, expected_quote(service.base, model, duration=2, resolution="1080p", off_peak=True))
        pg.screenshot(path=str(shots / f"playground-2-form-{model['id'].replace('/', '_')}.png"), full_page=True)

    # An error is shown next to the field it names.
    pg.fill("#f-duration", "40")
    pg.wait_for_function("() => document.querySelector('#err-duration').textContent.includes('between 1 and 16')")
    assert pg.get_attribute("#f-duration", "aria-invalid") == "true"
    pg.screenshot(path=str(shots / "playground-3-field-error.png"), full_page=True)

    # Submit a 4 s clip and watch it: status, progress rising, then the video with its cover.
    choose_model(pg, "vidu/vidu-q3/image-to-video")
    pg.set_input_files("#f-image", str(CAT))
    pg.fill("#f-duration", "4")
    pg.select_option("#f-mode", "pro")
    wait_price(pg, expected_quote(service.base, by_id["vidu/vidu-q3/image-to-video"], duration=4, mode="pro"))
    pg.evaluate(WATCH_PROGRESS)
    pg.click("#submit")
    pg.wait_for_selector("#current:not([hidden])")
    pg.wait_for_function("() => ['processing', 'succeeded'].includes(document.querySelector('#job-status').textContent)")
    pg.screenshot(path=str(shots / "playground-4-running.png"), full_page=True)
    pg.wait_for_function("() => document.querySelector('#job-status').textContent === 'succeeded'", timeout=120_000)
    seen = pg.evaluate("window.__progress")
    assert seen == sorted(seen) and seen[-1] == 100, seen
    assert any(0 < p < 100 for p in seen), f"no progress between 0 and 100 shown: {seen}"
    job_id = pg.inner_text("#job-id")

    video = "document.querySelector('#job-video')"
    pg.wait_for_function(f"() => {video}.readyState >= 2", timeout=30_000)
    duration = pg.evaluate(f"{video}.duration")
    assert abs(duration - 4) <= 1 / 24 + 1e-6, duration
    assert pg.evaluate(f"{video}.poster").split("?")[0].endswith(".jpg")
    pg.evaluate(f"() => {{ {video}.muted = true; return {video}.play(); }}")
    pg.wait_for_function(f"() => {video}.currentTime > 0.2 && !{video}.paused")
    assert pg.evaluate(f"{video}.videoWidth") == 1082
    assert "zoom_in" in pg.inner_text("#job-facts")  # the motion plan from the prompt
    href = pg.get_attribute("#job-download", "href")
    assert href.startswith("/files/")
    clip = tmp_path / "downloaded.mp4"
    clip.write_bytes(requests.get(service.base + href, timeout=30).content)
    assert probe(clip).frames == 96
    pg.screenshot(path=str(shots / "playground-5-done.png"), full_page=True)

    # A second, long job, canceled from the page: refunded.
    pg.fill("#f-duration", "16")
    pg.select_option("#f-resolution", "1080p")
    pg.click("#submit")
    pg.wait_for_function("id => document.querySelector('#job-id').textContent !== id", arg=job_id)
    second = pg.inner_text("#job-id")
    pg.wait_for_selector("#job-cancel:not([hidden])")
    pg.click("#job-cancel")
    pg.wait_for_function("() => document.querySelector('#job-status').textContent === 'canceled'", timeout=30_000)
    canceled = requests.get(f"{service.base}/v1/jobs/{second}", headers=auth(), timeout=10).json()
    assert canceled["status"] == "canceled" and canceled["refunded"] is True
    pg.screenshot(path=str(shots / "playground-6-canceled.png"), full_page=True)

    # Past jobs, filtered; balance and ledger.
    pg.select_option("#filter-status", "canceled")
    pg.click("#jobs-filter button[type=submit]")
    pg.wait_for_function("id => [...document.querySelectorAll('#jobs-table tbody tr')].length > 0 && "
                         "[...document.querySelectorAll('#jobs-table tbody tr')].every(r => "
                         "r.querySelector('.badge').textContent === 'canceled')", arg=second)
    assert pg.locator(f"#jobs-table tr[data-job='{second}']").count() == 1
    assert pg.locator(f"#jobs-table tr[data-job='{job_id}']").count() == 0
    pg.wait_for_function("() => [...document.querySelectorAll('#ledger td')].some(td => td.textContent === 'refund')")
    assert pg.inner_text("#balance") == "unlimited"
    pg.locator("#jobs").scroll_into_view_if_needed()
    pg.screenshot(path=str(shots / "playground-7-jobs-and-usage.png"), full_page=True)

    assert page.outside == [], f"requests outside the service's origin: {page.outside}"
    assert page.errors == [], page.errors
    assert any(u.endswith("/v1/jobs/" + job_id + "/events") for u in page.requests)  # watched live (SSE)


def test_playground_on_a_phone_with_the_keyboard(browser, service, tmp_path):  # noqa: F811
    shots = screenshot_dir(tmp_path)
    p = Page(browser, service.base, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        pg = p.page
        pg.goto(service.base + "/")
        pg.keyboard.press("Tab")  # the skip link first, then the key field
        pg.keyboard.press("Tab")
        assert pg.evaluate("document.activeElement.id") == "key"
        pg.keyboard.type(KEY)
        pg.keyboard.press("Enter")
        pg.wait_for_selector("#f-prompt")
        pg.wait_for_function("() => document.querySelector('#price').dataset.amount !== undefined")
        unlabeled = pg.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.id)""")
        assert unlabeled == []
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways on a phone"
        pg.screenshot(path=str(shots / "playground-8-phone.png"), full_page=True)
        # A refused key is said next to the key field.
        pg.fill("#key", "wrong-key")
        pg.press("#key", "Enter")
        pg.wait_for_function("() => document.querySelector('#key-error').textContent.includes('refused')")
        assert p.outside == [] and p.errors == []
    finally:
        p.close()


def test_playground_start_end_job_runs(page, service):
    """The start-end model takes two images from the page and renders between them."""
    pg = page.page
    pg.goto(service.base + "/")
    enter_key(pg)
    choose_model(pg, "vidu/vidu-q2/start-end-to-video")
    pg.set_input_files("#f-image", str(CAT))
    pg.set_input_files("#f-image_tail", str(CAT))
    pg.wait_for_selector("#preview-image_tail:not([hidden])")
    pg.select_option("#f-mode", "turbo")
    pg.fill("#f-duration", "1")
    pg.select_option("#f-resolution", "540p")
    pg.click("#submit")
    started = time.monotonic()
    pg.wait_for_function("() => document.querySelector('#job-status').textContent === 'succeeded'", timeout=120_000)
    pg.wait_for_function("() => document.querySelector('#job-video').readyState >= 2")
    assert abs(pg.evaluate("document.querySelector('#job-video').duration") - 1) <= 1 / 24 + 1e-6
    assert time.monotonic() - started < 120
    assert page.outside == []
