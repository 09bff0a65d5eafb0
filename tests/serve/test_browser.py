"""The page in a real browser (Playwright driving Debian's chromium): type, press, read the prediction and
the heatmaps from the page; screenshots (PNG) are saved as test artefacts.

Skips, saying why, where Playwright or chromium is missing (``.ci/run`` installs chromium with apt-get).
Screenshots go to a temporary folder, or to ``$RNNKIT_SCREENSHOTS`` when it is set.
"""

import os
import shutil
from pathlib import Path

import httpx
import pytest

from rnnkit.serve import ServeConfig
from tests.serve.live import LiveServer

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is missing: pip install playwright")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip(
        f"no chromium at {CHROMIUM}: apt-get install -y chromium (see .ci/run)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ.get("RNNKIT_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"the page's script failed: {errors}"


def api(server, name, route, body):
    answer = httpx.post(f"{server.url}/v1/models/{name}/{route}", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def open_model(page, server, name):
    page.goto(server.url + "/")
    page.wait_for_selector(f"#model option[value='{name}']", state="attached")
    page.select_option("#model", name)


def predict(page, text):
    page.fill("#input", text)
    page.click("#run")
    page.wait_for_selector("#prediction h2")
    page.wait_for_function("!document.querySelector('#run').disabled")


def test_classifier_page_shows_label_probability_heatmaps_and_saliency(page, server, shots):
    open_model(page, server, "classification")
    assert page.input_value("#input")  # the model's example is filled in
    for k, text in enumerate(["what is your favorite food?", "오늘 기분이 좋아"]):
        predict(page, text)
        expected = api(server, "classification", "predict", {"inputs": [text]})["outputs"][0]
        assert page.inner_text("#prediction .label") == expected["label"]
        assert float(page.inner_text("#prediction .probability")) == pytest.approx(
            expected["probability"], abs=1e-3
        )
        view = api(server, "classification", "inspect", {"input": text})
        forget = page.locator(".heatmap[data-gate='f']")
        forget.wait_for()
        assert forget.locator(".col-label").count() == len(view["layers"][0]["steps"])  # a column per step
        assert page.locator(".heatmap").count() == len(view["layers"][0]["values"])  # i f g o h c
        tokens = page.locator("#saliency .token").all_inner_texts()
        assert tokens == view["saliency"]["tokens"] and tokens[0] == text[0]
        page.screenshot(path=str(shots / f"classifier_{k}.png"), full_page=True)
    assert page.locator("#layer option").count() == 2
    page.select_option("#layer", "1")  # the backward direction
    assert "layer 0 reverse" in page.inner_text("#summary")
    page.select_option("#order", "activity")
    assert page.locator(".heatmap[data-gate='c'] canvas").count() == 1
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.screenshot(path=str(shots / "classifier_phone.png"), full_page=True)
    assert (shots / "classifier_0.png").read_bytes().startswith(b"\x89PNG")


def test_tagger_page_colours_a_tag_over_each_word(page, server, shots):
    open_model(page, server, "tagging")
    text = "the big dog sees a cat ."
    predict(page, text)
    expected = api(server, "tagging", "predict", {"inputs": [text]})["outputs"][0]
    assert page.locator(".tagged .word .text").all_inner_texts() == expected["tokens"]
    assert page.locator(".tagged .word .tag").all_inner_texts() == expected["tags"]
    page.wait_for_selector(".heatmap[data-gate='i']")
    assert page.locator(".heatmap[data-gate='i'] .col-label").count() == 7
    assert page.locator("#layer option").count() == 4  # 2 layers x 2 directions
    page.select_option("#layer", "3")
    assert "layer 1 reverse" in page.inner_text("#summary")
    page.screenshot(path=str(shots / "tagger.png"), full_page=True)


def test_seq2seq_page_shows_the_translation_and_its_attention(page, server, shots):
    open_model(page, server, "translation")
    text = "one two three"
    predict(page, text)
    expected = api(server, "translation", "predict", {"inputs": [text]})["outputs"][0]
    assert page.inner_text("#prediction .translation") == expected["translation"]
    view = api(server, "translation", "inspect", {"input": text})
    page.wait_for_selector("table.attention")
    assert page.locator("table.attention tr").count() == 1 + len(view["attention"]["weights"])
    assert page.locator("table.attention tr:first-child th").all_inner_texts()[1:] == ["one", "two", "three"]
    labels = page.locator("#layer option").all_inner_texts()
    assert any("encoder" in label for label in labels) and any("decoder" in label for label in labels)
    page.screenshot(path=str(shots / "seq2seq.png"), full_page=True)


def test_forecast_page_draws_the_forecast_and_its_quantile_band(page, server, shots):
    open_model(page, server, "forecasting")
    history = ",".join(str(20 + (t % 12)) for t in range(30))
    predict(page, history)
    assert page.locator("#prediction svg path.line").count() == 1
    assert page.locator("#prediction svg path.band").count() == 1
    view = api(server, "forecasting", "inspect", {"input": history})  # the encoder's gates over the history
    page.wait_for_selector(".heatmap[data-gate='i']")
    steps = len(view["layers"][0]["steps"])
    assert page.locator(".heatmap[data-gate='i'] .col-label").count() == steps
    page.screenshot(path=str(shots / "forecast.png"), full_page=True)


def test_a_keyed_server_asks_for_the_key(page, toy_runs):
    with LiveServer([toy_runs["classification"]], ServeConfig(api_key="pw")) as live:
        page.goto(live.url + "/")
        page.wait_for_selector("#key-row:not([hidden])")
        page.fill("#key", "pw")
        page.click("#key-save")
        page.wait_for_selector("#model option[value='classification']", state="attached")
        predict(page, "hello")
        assert page.inner_text("#prediction .label")
