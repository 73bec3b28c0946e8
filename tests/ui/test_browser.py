"""The real dashboard in a real browser: `automl.dashboard.launch` serves it, Debian's Chromium drives it.

Logs in with the password, checks the leaderboard and the estimate of the test study, then uploads a
CSV through the New study form (held-out test fraction left at "by size": none for 60 rows) and
waits until that study, run by a real `automl run` process, shows as completed with its out-of-fold
estimate.
Screenshots go to test-output/ui/. Playwright only drives /usr/bin/chromium: `playwright install`
(which downloads a browser) is never needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.conftest import COMPLETED, PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "ui"
NEW_STUDY = "browser-study"
STUDY_TIMEOUT_S = 180

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent: apt-get install chromium"),
]
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the dashboard exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the dashboard did not become healthy in {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def dashboard(ui_store, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """(base URL, store) of a dashboard started by automl.dashboard.launch on a copy of the test study."""
    root = tmp_path_factory.mktemp("browser") / "store"
    shutil.copytree(ui_store.root / COMPLETED, root / COMPLETED)
    port, log = _free_port(), root.parent / "dashboard.log"
    env = dict(os.environ, AUTOML_DASHBOARD_PASSWORD=PASSWORD)
    code = "import sys; from automl.dashboard import launch; sys.exit(launch(sys.argv[1], port=int(sys.argv[2])))"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(root), str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url, root
    finally:
        process.send_signal(signal.SIGINT)  # launch() stops Streamlit on Ctrl+C
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        _stop_study_processes(root)


def _stop_study_processes(root: Path) -> None:
    """End the `automl run` processes this test's form started, if any is still running (by pid)."""
    for job in (root / "_uploads").glob("*/job.json"):
        pid = json.loads(job.read_text()).get("pid")
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)  # its own session: the study and its Ray workers


@pytest.fixture(scope="module")
def page(dashboard):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        yield context.new_page()
        context.close()
        browser.close()


def _open(page, url: str) -> None:
    """Load a URL (a new Streamlit session) and log in with the password."""
    page.goto(url)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Open dashboard").click()
    page.get_by_role("link", name="Studies").first.wait_for(timeout=30_000)


def _wait_for_text(page, text: str, root: Path, timeout_ms: int = 90_000) -> None:
    """Wait for a text; on a timeout, fail with what the page showed and the dashboard's log."""
    try:
        page.get_by_text(text).first.wait_for(timeout=timeout_ms)
    except playwright_api.TimeoutError:
        page.screenshot(path=str(SHOTS / "timeout.png"), full_page=True)
        log = (root.parent / "dashboard.log").read_text(errors="replace")[-3000:]
        pytest.fail(
            f"{text!r} did not appear at {page.url}; the page shows:\n"
            f"{page.inner_text('body')[-2000:]}\n--- dashboard log ---\n{log}"
        )


def _cells(page) -> list[str]:
    """Texts of the visible data grid cells (Streamlit mirrors its canvas grid in an accessible table)."""
    return page.locator("[role=gridcell]").all_text_contents()


def _wait_for_cell(page, text: str, timeout_s: float = 30) -> None:
    deadline = time.time() + timeout_s
    while text not in _cells(page):
        if time.time() > deadline:
            pytest.fail(f"no table cell {text!r} after {timeout_s}s; cells: {_cells(page)[:20]}")
        page.wait_for_timeout(500)


def _row(page, study: str) -> list[str]:
    cells = _cells(page)
    return cells[cells.index(study) : cells.index(study) + 6] if study in cells else []


def test_leaderboard_in_the_browser(dashboard, page, ui_store):
    url, _ = dashboard
    page.goto(url)
    expect = playwright_api.expect
    expect(page.get_by_role("textbox", name="Password")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(SHOTS / "01-login.png"))
    _open(page, url)
    _wait_for_cell(page, COMPLETED)
    assert _row(page, COMPLETED)[1] == "completed"
    page.screenshot(path=str(SHOTS / "02-studies.png"), full_page=True)

    manifest = ui_store.store.read_manifest(COMPLETED)
    chosen, total = manifest["selection"]["trial"], manifest["trials"]["total"]
    _open(page, f"{url}/study?study={COMPLETED}")
    expect(page.get_by_text(f"{total} of {total} trials")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"Chosen: trial {chosen}")).to_be_visible()
    _wait_for_cell(page, chosen)
    page.screenshot(path=str(SHOTS / "03-leaderboard.png"), full_page=True)
    for number, tab in enumerate(
        ["Learning curves", "Validation vs gap", "What helped", "Estimate", "Model"]
    ):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(1500)  # let Vega draw
        if tab == "Estimate":
            expect(page.get_by_text("Estimated balanced_accuracy on new data")).to_be_visible()
            expect(page.get_by_text("Calibration, out of fold")).to_be_visible()
            expect(page.get_by_text("Confusion matrix, out of fold")).to_be_visible()
        page.screenshot(
            path=str(SHOTS / f"{number + 4:02d}-{tab.lower().replace(' ', '-')}.png"), full_page=True
        )
    expect(page.get_by_role("button", name="Download the model")).to_be_visible()
    expect(page.get_by_text("Estimate on new data:")).to_be_visible()  # the model card


def test_new_study_from_the_form_runs_to_completion(dashboard, page, ui_store, tmp_path):
    from automl.datasets import write

    url, root = dashboard
    data = tmp_path / "small penguins.csv"
    target = write("penguins", data, n_rows=60, seed=1)
    _open(page, f"{url}/new")
    _wait_for_text(page, "Choose a file to start.", root)
    page.locator("input[type=file]").set_input_files(str(data))
    page.get_by_role("combobox", name="Target column (what to predict)").click()
    page.get_by_role("option", name=target, exact=True).click()
    page.get_by_role("textbox", name="Budget (wall clock of the study)").fill("60s")
    page.get_by_role("spinbutton", name="Trials", exact=True).fill("2")
    page.get_by_text("Advanced options").click()
    page.get_by_role("spinbutton", name="Inner folds").fill("3")
    page.get_by_role("spinbutton", name="Max epochs per trial").fill("5")
    page.get_by_role("textbox", name="Study name (optional)").fill(NEW_STUDY)
    page.screenshot(path=str(SHOTS / "09-new-study-form.png"), full_page=True)
    page.get_by_role("button", name="Start study").click()
    playwright_api.expect(page.get_by_text(f"Started study {NEW_STUDY}")).to_be_visible(timeout=30_000)
    assert list(root.glob("_uploads/*/small_penguins.csv")), "the upload is stored inside the store"

    page.get_by_role("link", name="Studies").first.click()  # same session: no new login
    deadline, seen = time.time() + STUDY_TIMEOUT_S, []
    while time.time() < deadline:
        row = _row(page, NEW_STUDY)
        seen.append(row[1] if row else "absent")
        if seen[-1] == "running" and seen.count("running") == 1:
            page.screenshot(path=str(SHOTS / "10-studies-while-running.png"), full_page=True)
        if row and row[1] in ("completed", "failed"):
            break
        page.wait_for_timeout(2000)  # the table refreshes itself while a study runs
    page.screenshot(path=str(SHOTS / "11-studies-after-run.png"), full_page=True)
    logs = "\n".join(p.read_text()[-2000:] for p in root.glob("_uploads/*/run.log"))
    assert _row(page, NEW_STUDY)[1] == "completed", f"states seen: {sorted(set(seen))}\n{logs}"
    assert "95% CI" in " ".join(_row(page, NEW_STUDY))  # the estimate, out of fold: nothing held out
    assert "out of fold (BBC-CV), 60 rows" in _row(page, NEW_STUDY)
