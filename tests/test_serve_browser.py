"""``seqlab serve``'s page in a real headless browser (Debian's chromium, driven by Selenium):
upload a wav and see its transcript; type a sentence and see its translation; vocode a mel and
get an <audio> element that plays (its source loads and is a wav).

Skips, saying why, only where no chromium + chromedriver is found (``make setup-dev`` installs
them with apt-get when it can). ``SEQLAB_SERVE_SCREENSHOT=docs/img/serve.png`` saves the page
after the transcript is shown (README.md's screenshot).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio", reason="seqlab serve needs the serve extra: pip install '.[serve]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium (the dev extra)")
httpx = pytest.importorskip("httpx")

import seqlab  # noqa: E402
from seqlab.serve import Server, load_models  # noqa: E402

# Gradio's Dataframe calls pandas 3 in ways it deprecates: not ours to fix
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints_v0"
INPUTS = Path(__file__).parent / "fixtures" / "inputs"
ASR, MT, VOC = FIXTURES / "asr_bilstm", FIXTURES / "mt_transformer", FIXTURES / "vocoder_demo"
WAIT = 60  # seconds a page element may take to appear (a loaded 2-core machine)


def _chromium() -> tuple[str, str] | None:
    """Paths of a chromium binary and its chromedriver, or None."""
    browser = next(
        (
            shutil.which(n)
            for n in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(n)
        ),
        None,
    )
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def server():
    models = load_models([f"asr={ASR}", f"mt={MT}", f"voc={VOC}"])
    running = Server(models, host="127.0.0.1", port=0).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser(server):
    found = _chromium()
    if found is None:
        pytest.skip(
            "no chromium + chromedriver on PATH: `apt-get install chromium chromium-driver` "
            "(make setup-dev does it where apt-get can run)"
        )
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1500",
    ):
        options.add_argument(arg)
    options.add_argument("--autoplay-policy=no-user-gesture-required")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(found[1]))
    driver.get(f"{server.url}/")
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements("css selector", "#asr-run"))
    yield driver
    driver.quit()


def _wait(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.2).until(condition, message=what)


def _tab(driver, label: str) -> None:
    for button in driver.find_elements("css selector", "button[role=tab]"):
        if button.text.strip() == label:
            button.click()
            return
    raise AssertionError(f"no tab {label!r}")


def _value(driver, css: str) -> str:
    found = driver.find_elements("css selector", css)
    return found[0].get_attribute("value") if found else ""


def test_upload_a_wav_and_see_its_transcript(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    _tab(browser, "asr (asr)")
    browser.find_element("css selector", "#asr-audio input[type=file]").send_keys(
        str(INPUTS / "speech.wav")
    )
    _wait(
        browser,
        lambda d: d.find_elements(
            "css selector",
            "#asr-audio audio, #asr-audio .waveform-container, #asr-audio [data-testid=waveform-Speech] button",
        ),
        "the upload shows",
    )
    for label in browser.find_elements("css selector", "#asr-decoder label"):
        if label.text.strip() == "beam":
            label.click()
    nbest = browser.find_element("css selector", "#asr-nbest input[type=number]")
    nbest.send_keys(Keys.CONTROL, "a")
    nbest.send_keys("3", Keys.TAB)
    browser.find_element("css selector", "#asr-run").click()
    want = seqlab.load(ASR, overrides=["decoder=ctc_beam", "decoder.nbest=3"])
    want = want.transcribe_nbest(str(INPUTS / "speech.wav"))
    _wait(
        browser, lambda d: _value(d, "#asr-transcript textarea") == want[0].text, "the transcript"
    )
    _wait(
        browser,
        lambda d: want[1].text in d.find_element("css selector", "#asr-nbest-list").text,
        "the n-best list",
    )
    assert "beam10" in browser.find_element("css selector", "#asr-timing").text
    shot = os.environ.get("SEQLAB_SERVE_SCREENSHOT") or str(tmp_path / "serve.png")
    Path(shot).parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(shot)


def test_type_a_sentence_and_see_its_translation(browser):
    sentence = "ein mann liest ein buch ."
    _tab(browser, "mt (mt)")
    source = _wait(
        browser, lambda d: d.find_element("css selector", "#mt-source textarea"), "the source box"
    )
    source.send_keys(sentence)
    browser.find_element("css selector", "#mt-run").click()
    want = seqlab.load(MT).translate([sentence])[0]
    assert want  # the tiny model says something (a wrong translation, but the same one)
    _wait(browser, lambda d: _value(d, "#mt-translation textarea") == want, "the translation")


# every <audio> of the page, in shadow roots too (Gradio's player is wavesurfer's, in one):
# [src, readyState, duration] of those with a source
AUDIO_ELEMENTS = """
const found = [];
const walk = (root) => root.querySelectorAll("*").forEach((e) => {
  if (e.tagName === "AUDIO" && e.currentSrc) found.push([e.currentSrc, e.readyState, e.duration]);
  if (e.shadowRoot) walk(e.shadowRoot);
});
walk(document.querySelector("#voc-audio"));
return found;
"""


def test_vocode_a_mel_and_play_it(browser):
    _tab(browser, "voc (vocoder)")
    upload = _wait(
        browser,
        lambda d: d.find_element("css selector", "#voc-input input[type=file]"),
        "the file input",
    )
    upload.send_keys(str(INPUTS / "mel_80.npy"))
    _wait(
        browser,
        lambda d: "mel_80" in d.find_element("css selector", "#voc-input").text,
        "the upload",
    )
    browser.find_element("css selector", "#voc-run").click()
    # the player has loaded a source (readyState >= 1: its metadata) of the vocoded length
    players = _wait(
        browser,
        lambda d: [a for a in d.execute_script(AUDIO_ELEMENTS) if a[1] >= 1],
        "an <audio> element with a loaded source",
    )
    assert players[0][2] == pytest.approx(12 * 256 / 22050, abs=2e-3)
    # what it plays is the vocoded wav: the same samples as seqlab.load(...).vocode
    link = browser.find_element("css selector", "#voc-audio a[data-testid=download-link]")
    response = httpx.get(link.get_attribute("href"), timeout=30)
    assert response.status_code == 200 and response.content[:4] == b"RIFF"
    import io

    import soundfile as sf

    wave, rate = sf.read(io.BytesIO(response.content), dtype="float32")
    want = seqlab.load(VOC).vocode(str(INPUTS / "mel_80.npy"))
    assert rate == 22050 and len(wave) == len(want) == 12 * 256
    assert np.abs(wave - want).max() < 1e-4  # 16-bit quantisation of the same samples
