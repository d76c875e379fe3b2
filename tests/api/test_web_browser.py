"""The page in a real headless Chromium against a live `qa serve` over the seed index.

Needs Debian's `chromium` (`.ci/run` installs it) and the `playwright` package (test extra);
set QA_SKIP_BROWSER=1 to skip where no browser is installed. Screenshots go to the test's
temp folder (its path is printed). The read-only tests share one server; a test that adds a
document gets a fresh server of its own, so no test sees another's writes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import live_server

pytestmark = pytest.mark.integration

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ARABIC_QUESTION = "ماذا أكد عمران خان؟"
ENGLISH_QUESTION = "What did Imran Khan emphasize?"
UNANSWERABLE = "What is the boiling point of liquid nitrogen?"


def _chromium() -> str:
    if os.environ.get("QA_SKIP_BROWSER") == "1":
        pytest.skip("QA_SKIP_BROWSER=1: browser tests skipped")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "chromium not found: install Debian's chromium "
            "(apt-get install -y --no-install-recommends chromium; .ci/run does) "
            "or set QA_SKIP_BROWSER=1 to skip the browser tests",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, seed_index_dir: Path) -> Iterator[str]:
    """A real `qa serve` subprocess over a private copy of the seed index (never written)."""
    _chromium()  # skip or fail before spending time on the server
    with live_server(seed_index_dir, tmp_path_factory.mktemp("web")) as running:
        yield running.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download)."""
    path = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[test]'", pytrace=False)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def _open(browser: Any, server: str, viewport: dict[str, int]) -> Iterator[Any]:
    """A fresh page; afterwards it must have had no script errors and no outside requests."""
    context = browser.new_context(viewport=viewport, locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)  # answers take seconds on a busy 2-core machine
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/")
        yield page
    finally:
        context.close()
    assert not errors, f"script errors on the page: {errors}"
    outside = [u for u in requests if not u.startswith((server + "/", "data:"))]
    assert not outside, f"the page fetched from elsewhere: {outside}"


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A desktop-sized page on the shared read-only server."""
    with _open(browser, server, DESKTOP) as desktop_page:
        yield desktop_page


@pytest.fixture
def fresh_page(browser: Any, seed_index_dir: Path, tmp_path: Path) -> Iterator[Any]:
    """A desktop-sized page on a server of its own, for a test that adds documents."""
    with (
        live_server(seed_index_dir, tmp_path / "server") as running,
        _open(browser, running.url, DESKTOP) as desktop_page,
    ):
        yield desktop_page


def submit(page: Any, question: str) -> Any:
    """Type a question, press Enter, wait until the page has shown the reply; the response."""
    page.get_by_label("Your question").fill(question)
    with page.expect_response(lambda r: r.url.endswith("/v1/ask")) as reply:
        page.get_by_label("Your question").press("Enter")
    page.wait_for_function("() => !document.getElementById('ask-button').disabled")
    return reply.value


def ask(page: Any, question: str) -> dict[str, Any]:
    """submit(), and the JSON body the page received."""
    body: dict[str, Any] = submit(page, question).json()
    return body


SHOWN_SOURCES = """() => Array.from(document.querySelectorAll('[data-testid=source]')).map(e => ({
  id: e.dataset.sourceId,
  text: e.textContent,
  passage: e.querySelector('.passage').textContent,
  marks: Array.from(e.querySelectorAll('mark')).map(m => {
    const before = document.createRange();
    before.setStart(e.querySelector('.passage'), 0);
    before.setEndBefore(m);
    return {text: m.textContent, start: Array.from(before.toString()).length};
  }),
}))"""


def check_sources(page: Any, body: dict[str, Any]) -> None:
    """Every source is shown best first with title, score and its full text; the answer's
    span is the only highlight, at its exact code-point offsets."""
    shown = page.evaluate(SHOWN_SOURCES)
    assert [s["id"] for s in shown] == [s["id"] for s in body["sources"]]
    answer = body["answer"]
    for item, source in zip(shown, body["sources"], strict=True):
        assert item["passage"] == source["text"]
        assert (source["title"] or source["document_id"]) in item["text"]
        assert f"Score {source['score']:.2f}" in item["text"]
        if answer is not None and source["id"] == answer["source_id"]:
            assert item["marks"] == [{"text": answer["text"], "start": answer["start"]}]
        else:
            assert item["marks"] == []


SHOWN_CONTEXT = """() => {
  const box = document.querySelector('[data-testid=answer-context]');
  return {hidden: box.hidden, text: box.textContent, marks: Array.from(box.querySelectorAll('mark'))
    .map(m => {
      const before = document.createRange();
      before.setStart(box, 0);
      before.setEndBefore(m);
      return {text: m.textContent, start: Array.from(before.toString()).length};
    })};
}"""


def check_context(page: Any, answer: dict[str, Any]) -> None:
    """The context under the answer, with the span its only highlight at its exact offset;
    hidden when the context is the span itself (clause answers, QA_READER=off)."""
    shown = page.evaluate(SHOWN_CONTEXT)
    context = answer.get("context")
    if context is None or context["text"] == answer["text"]:
        assert shown["hidden"]
        return
    assert not shown["hidden"] and shown["text"] == context["text"]
    assert shown["marks"] == [{"text": answer["text"], "start": answer["start"] - context["start"]}]


def resolved_direction(page: Any, selector: str) -> str:
    """The direction the browser resolved for an element (dir=auto looks at its text)."""
    return str(page.eval_on_selector(selector, "e => e.matches(':dir(rtl)') ? 'rtl' : 'ltr'"))


def test_arabic_question_shows_answer_with_exact_highlight(page: Any) -> None:
    body = ask(page, ARABIC_QUESTION)
    answer = body["answer"]
    assert answer is not None and "الدعم الواسع" in answer["text"]
    assert page.get_by_test_id("answer").text_content() == answer["text"]
    check_sources(page, body)
    check_context(page, answer)
    mark = page.locator("[data-testid=source] mark")
    assert mark.count() == 1 and "الدعم الواسع" in mark.text_content()
    assert resolved_direction(page, "[data-testid=answer]") == "rtl"
    assert resolved_direction(page, "input[name=question]") == "rtl"
    assert resolved_direction(page, "[data-testid=source] .passage") == "rtl"


def test_english_question_lays_out_arabic_text_right_to_left(page: Any) -> None:
    body = ask(page, ENGLISH_QUESTION)
    assert body["sources"], "the seed index always has nearest passages"
    check_sources(page, body)  # a non-null answer: the <mark> equals answer.text at its offsets
    assert resolved_direction(page, "input[name=question]") == "ltr"
    assert resolved_direction(page, "[data-testid=source] .passage") == "rtl"
    if body["answer"] is None:
        assert "No answer was found" in page.get_by_test_id("answer").text_content()
    else:
        assert resolved_direction(page, "[data-testid=answer]") == "rtl"


def test_abstention_says_no_answer_and_lists_nearest_passages(page: Any) -> None:
    body = ask(page, UNANSWERABLE)
    assert body["answer"] is None and body["sources"]
    answer_box = page.get_by_test_id("answer")
    assert "No answer was found" in answer_box.text_content()
    assert answer_box.get_attribute("data-state") == "abstained"
    assert page.get_by_role("heading", name="Nearest passages").is_visible()
    assert page.get_by_test_id("source").count() == len(body["sources"])
    check_sources(page, body)


def test_api_and_network_errors_are_readable_messages(page: Any) -> None:
    # A real API error: an over-long question is refused with a 422 and a JSON message.
    question = page.get_by_label("Your question")
    question.evaluate("e => e.removeAttribute('maxlength')")
    body = ask(page, "why " * 600)
    assert body["error"]["code"]
    status = page.locator("#ask-status")
    assert status.get_attribute("role") == "alert"
    assert body["error"]["message"] in status.text_content()
    assert "HTTP 422" in status.text_content()  # InvalidInputError
    # A failure with no JSON body, and a service that cannot be reached at all.
    page.route("**/v1/ask", lambda route: route.fulfill(status=502, body="Bad gateway"))
    submit(page, ENGLISH_QUESTION)
    assert "HTTP 502" in status.text_content()
    page.unroute("**/v1/ask")
    page.route("**/v1/ask", lambda route: route.abort())
    question.fill(ENGLISH_QUESTION)
    question.press("Enter")
    page.wait_for_function("() => /Could not reach/.test(document.body.innerText)")
    assert page.locator("h1").is_visible() and question.is_visible()


def test_passage_markup_stays_text_and_astral_offsets_hold(page: Any) -> None:
    # A reply crafted to probe the page alone: markup in a passage and emoji before the span.
    text = '🎉🎈 <img src=x onerror="window.pwned=1"> 𝒜 then the answer, then more 🎉.'
    start = text.index("the answer")
    reply = {
        "question": "q",
        "answer": {"text": "the answer", "source_id": "p1", "start": start, "end": start + 10,
                   "score": 0.9},
        "sources": [{"id": "p1", "document_id": "d1", "title": "<b>T</b>", "text": text,
                     "score": 1.0, "rank": 1, "metadata": {}}],
    }  # fmt: skip
    page.route(
        "**/v1/ask",
        lambda route: route.fulfill(content_type="application/json", body=json.dumps(reply)),
    )
    ask(page, "q")
    assert page.locator("mark").text_content() == "the answer"
    check_sources(page, reply)
    assert page.locator("[data-testid=source] img, [data-testid=source] b").count() == 0
    assert page.evaluate("() => window.pwned") is None
    assert "<b>T</b>" in page.get_by_test_id("source").text_content()


def test_context_shows_the_span_highlighted_at_code_point_offsets(page: Any) -> None:
    # A reader's reply crafted to probe the page alone: emoji before the span in the context.
    text = "Intro. 🎉 The fair is held in 𝒜 Tarnwick every May. Lanterns <b>glow</b>."
    c_start, start = text.index("🎉"), text.index("Tarnwick")
    c_end = text.index(" Lanterns")
    reply: dict[str, Any] = {
        "question": "q",
        "answer": {"text": "Tarnwick", "source_id": "p1", "start": start, "end": start + 8,
                   "score": 0.9, "context": {"text": text[c_start:c_end], "start": c_start,
                                             "end": c_end}},
        "sources": [{"id": "p1", "document_id": "d1", "title": "Fair", "text": text,
                     "score": 1.0, "rank": 1, "metadata": {}}],
    }  # fmt: skip
    page.route(
        "**/v1/ask",
        lambda route: route.fulfill(content_type="application/json", body=json.dumps(reply)),
    )
    ask(page, "q")
    assert page.get_by_test_id("answer").text_content() == "Tarnwick"
    check_context(page, reply["answer"])
    check_sources(page, reply)
    # offsets that disagree with the text: no highlight rather than a wrong one
    reply["answer"]["context"]["start"] = c_start + 1
    ask(page, "q")
    assert page.get_by_test_id("answer-context").is_hidden()


def test_keyboard_alone(page: Any) -> None:
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.name")
    assert focused == "question"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "keyboard focus must be visible"
    page.keyboard.type(ARABIC_QUESTION)
    with page.expect_response(lambda r: r.url.endswith("/v1/ask")):
        page.keyboard.press("Enter")
    page.get_by_test_id("answer").filter(has_text="الدعم الواسع").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Ask"
    for field in page.locator("input, textarea").all():
        assert field.evaluate("e => e.labels.length") == 1
    assert page.get_by_test_id("answer").get_attribute("aria-live") == "polite"


def test_pasted_document_answers_the_next_question(fresh_page: Any) -> None:
    page = fresh_page
    page.get_by_label("Title").fill("Fair notes")
    page.get_by_label("Text").fill(
        "The Glimmerfold fair is held in the village of Tarnwick every May. "
        "Visitors bring lanterns made of paper."
    )
    page.get_by_role("button", name="Add text").click()
    page.locator("#add-status").filter(has_text="Added “Fair notes”").wait_for()
    body = ask(page, "Where is the Glimmerfold fair held?")
    top = page.get_by_test_id("source").first
    assert "Fair notes" in top.text_content() and "Tarnwick" in top.text_content()
    assert body["sources"][0]["title"] == "Fair notes"
    check_sources(page, body)
    if body["answer"] is not None:
        assert body["answer"]["source_id"] == body["sources"][0]["id"]


def test_uploaded_file_answers_with_exact_offsets_after_emoji(
    fresh_page: Any, tmp_path: Path
) -> None:
    page = fresh_page
    upload = tmp_path / "festival.txt"
    upload.write_text(
        "🎉🎈 كانت الأمسية مليئة بالموسيقى والأضواء الملونة ورقص الأطفال وأكشاك الطعام والمهرجين "
        "والوجوه المرسومة والضحك في كل مكان من الساحة القديمة للمدينة، ولم يرغب أحد في العودة "
        "إلى البيت قبل منتصف الليل. يقام مهرجان زوربلات في مدينة كويلمير كل شهر أكتوبر.\n",
        encoding="utf-8",
    )
    page.get_by_label("File").set_input_files(upload)
    page.get_by_role("button", name="Upload file").click()
    page.locator("#add-status").filter(has_text="Added “festival.txt”").wait_for()
    body = ask(page, "أين يقام مهرجان زوربلات؟")
    answer = body["answer"]
    assert answer is not None and "كويلمير" in answer["text"]
    source = next(s for s in body["sources"] if s["id"] == answer["source_id"])
    assert source["document_id"] == "festival"
    assert "🎉" in source["text"][: answer["start"]], "the test needs an emoji before the span"
    check_sources(page, body)


def test_unsupported_upload_shows_the_api_message(page: Any, tmp_path: Path) -> None:
    upload = tmp_path / "table.xyz"
    upload.write_text("a,b\n1,2\n", encoding="utf-8")
    page.get_by_label("File").set_input_files(upload)
    with page.expect_response(lambda r: r.url.endswith("/v1/documents")) as reply:
        page.get_by_role("button", name="Upload file").click()
    message = reply.value.json()["error"]["message"]
    status = page.locator("#add-status")
    status.filter(has_text="HTTP 415").wait_for()
    assert message in status.text_content()


@pytest.mark.parametrize(("name", "size"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots_and_no_sideways_scrolling(
    browser: Any, server: str, name: str, size: dict[str, int], tmp_path: Path
) -> None:
    shot = tmp_path / f"{name}.png"
    with _open(browser, server, size) as view:
        body = ask(view, ARABIC_QUESTION)
        assert body["answer"] is not None
        width = view.evaluate("() => document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name}: the page scrolls sideways ({width}px)"
        view.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_api_docs_render_with_the_network_blocked(browser: Any, server: str) -> None:
    # An air-gapped machine: every request that leaves the service is refused.
    context = browser.new_context(viewport=DESKTOP)
    blocked: list[str] = []

    def local_only(route: Any) -> None:
        if route.request.url.startswith(server + "/"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    try:
        context.route("**/*", local_only)
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/docs")
        page.locator(".opblock").first.wait_for()
        paths = page.locator(".opblock-summary-path").evaluate_all(
            "els => els.map(e => e.dataset.path)"
        )
        assert {"/v1/ask", "/v1/search", "/v1/documents", "/readyz"} <= set(paths)
        page.locator(".opblock-summary", has_text="/v1/ask").first.click()
        request_body = page.locator(".opblock-section-request-body").first
        request_body.wait_for()
        assert "application/json" in request_body.text_content()
        assert '"question"' in page.locator(".body-param__example").first.text_content()
        assert page.title().endswith("Swagger UI")
    finally:
        context.close()
    assert not blocked, f"/docs fetched from elsewhere: {blocked}"
    assert not errors, f"script errors on /docs: {errors}"
