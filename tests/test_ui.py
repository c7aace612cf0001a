"""The web page in a real browser: Debian's chromium driven by Playwright, fed real generated media."""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is installed by scripts/setup.sh")
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
OFFLINE_FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is installed by scripts/setup.sh")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """IPv4/IPv6 addresses with a listening socket on ``port``, from /proc/net/tcp{,6}."""
    found = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:
                continue
            if v6:
                found.add("::1" if address == "0" * 31 + "1" else address)
            else:
                found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


class Server:
    """``python -m realtime ...`` serving the page, as a user starts it."""

    def __init__(self, *args: str):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "realtime", *args, "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120
        for line in self.proc.stdout:
            if "Running on local URL" in line:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the page did not come up")
        self.url = f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def browser_page():
    """Opens pages in Debian's chromium (a new browser per call, so flags can differ); closes them after."""
    pw = playwright.sync_playwright().start()
    browsers: list = []

    def open_page(*extra_flags: str):
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=OFFLINE_FLAGS + list(extra_flags))
        browsers.append(browser)
        context = browser.new_context(permissions=["camera", "microphone"], viewport={"width": 1280, "height": 1100})
        return context.new_page()

    yield open_page
    for browser in browsers:
        browser.close()
    pw.stop()


def wait_for_scores(page, timeout_s: float = 180) -> tuple[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fused = page.locator("#fused").inner_text()
        words = page.locator("#transcript textarea").input_value()
        if "on [-3, +3]" in fused and words.strip():
            return fused, words
        page.wait_for_timeout(300)
    raise AssertionError(f"no scores or transcript within {timeout_s} s: {page.locator('#status').inner_text()}")


def test_server_side_capture_from_a_file_backed_camera(talk, browser_page):
    ARTIFACTS.mkdir(exist_ok=True)
    server = Server("--camera", str(talk["talk"]))
    try:
        page = browser_page()
        page.goto(server.url)
        fused, words = wait_for_scores(page)
        assert page.locator("#heads").inner_text().count("unavailable (not trained in the default model") == 1
        page.screenshot(path=str(ARTIFACTS / "ui-server-side.png"), full_page=True)
        # stop, then restart: the file plays again and new windows arrive
        page.click("#stop")
        page.wait_for_function("document.querySelector('#status')?.innerText.includes('stopped')")
        page.click("#start")
        page.wait_for_function("document.querySelector('#status')?.innerText.includes('running')", timeout=20_000)
        wait_for_scores(page)
        assert listening_addresses(server.port) == {"127.0.0.1"}  # nothing listens beyond the loopback interface
        with urllib.request.urlopen(server.url + "config", timeout=30) as reply:
            assert json.loads(reply.read())["analytics_enabled"] is False  # no usage reports to Gradio's makers
        page.close()  # closing the page stops the capture
        page = browser_page()
        page.goto(server.url)
        page.wait_for_function("document.querySelector('#status')?.innerText.includes('stopped')", timeout=5_000)
    finally:
        server.close()


def test_browser_capture_with_chromium_fake_devices(talk, tmp_path, browser_page):
    ARTIFACTS.mkdir(exist_ok=True)
    y4m, wav = tmp_path / "cam.y4m", tmp_path / "mic.wav"
    src = str(talk["talk"])
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", src, "-vf", "scale=320:240,fps=15", "-pix_fmt", "yuv420p", str(y4m)],
        check=True,
    )
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", src, "-vn", "-ac", "1", "-ar", "48000", "-c:a", "pcm_s16le", str(wav)],
        check=True,
    )
    server = Server("--browser", "--no-autostart")
    try:
        page = browser_page(
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}",
            f"--use-file-for-fake-audio-capture={wav}",
        )
        page.goto(server.url)
        page.click("#start")
        page.get_by_text("Click to Access Webcam").click()
        page.locator("#webcam button[aria-label='capture photo']").click()  # starts the stream
        page.locator("#mic button", has_text="Record").click()
        fused, words = wait_for_scores(page, 240)
        assert "video" in page.locator("#present").inner_text()
        page.screenshot(path=str(ARTIFACTS / "ui-browser-capture.png"), full_page=True)
    finally:
        server.close()


def test_file_tab_scores_an_upload(talk, browser_page):
    server = Server("--camera", "none", "--mic", "none", "--no-autostart")
    try:
        page = browser_page()
        page.goto(server.url)
        assert "no camera and no microphone" not in page.locator("#status").inner_text()  # nothing started yet
        page.get_by_role("tab", name="Score a file").click()
        page.locator("#upload input[type=file]").set_input_files(str(talk["talk"]))
        page.wait_for_timeout(1000)
        page.click("#score")
        page.wait_for_function("document.querySelector('#file-status')?.innerText.includes('windows')", timeout=90_000)
        listed = page.locator("#downloads").inner_text().replace("\n", "")
        assert "talk.csv" in listed and "talk.json" in listed, listed
    finally:
        server.close()
