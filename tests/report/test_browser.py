"""A real browser opens ``report.html``: no console errors, no requests beyond the file, every figure (SVG) drawn.

Runs headless Chromium (Debian's ``chromium`` package; CI installs it with
``.ci/setup.d/40-chromium.sh``) and talks to it over the DevTools protocol on a loopback websocket,
with tornado's websocket client (installed with ``distributed``). No screenshots are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import Inputs, base_args, invoke

pytestmark = pytest.mark.browser

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Every image decoded and drawn at a non-zero natural size.
IMAGES_RENDERED = """
Promise.all(Array.from(document.images).map(i => i.decode().then(() => true, () => false)))
  .then(decoded => ({
    count: document.images.length,
    decoded: decoded.every(Boolean),
    sizes: Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight]),
    ok: Array.from(document.images).every(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0),
    title: document.title,
    tables: document.querySelectorAll("table").length,
  }))
"""


def chromium_binary() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "headless Chromium is needed for the browser tests and was not found on PATH "
        f"(looked for {', '.join(CHROMIUM_NAMES)}); install it with: bash .ci/setup.d/40-chromium.sh"
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start headless Chromium with a private profile; yield its DevTools browser websocket URL."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [
            chromium_binary(),
            "--headless=new",
            "--no-sandbox",  # CI containers run as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _devtools_url(process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _devtools_url(process: subprocess.Popen[str], timeout_s: float = 30.0) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line.rstrip())
        found = re.search(r"DevTools listening on (ws://\S+)", line)
        if found:
            return found.group(1)
    pytest.fail("Chromium did not start its DevTools endpoint:\n" + "\n".join(seen[-20:]))


@dataclass
class PageVisit:
    """What the browser saw while loading one page."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)


async def _visit(browser_url: str, page_url: str, timeout_s: float = 60.0) -> PageVisit:
    from tornado.websocket import websocket_connect

    visit = PageVisit()
    ids = itertools.count(1)
    pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
    loaded = asyncio.Event()
    connection = await websocket_connect(browser_url, max_message_size=64 * 1024 * 1024)

    async def reader() -> None:
        while True:
            raw = await connection.read_message()
            if raw is None:
                return
            message = json.loads(raw)
            if "id" in message and message["id"] in pending:
                pending.pop(message["id"]).set_result(message)
                continue
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                visit.console_errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                described = details.get("exception", {}).get("description", "")
                visit.console_errors.append(f"{details.get('text', 'exception')} {described}".strip())
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                visit.console_errors.append(f"{params['entry']['text']} ({params['entry'].get('url', '')})")
            elif method == "Network.requestWillBeSent":
                visit.requests.append(params["request"]["url"])
            elif method == "Page.loadEventFired":
                loaded.set()

    async def send(method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        message_id = next(ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        pending[message_id] = future
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await connection.write_message(json.dumps(message))
        reply = await asyncio.wait_for(future, timeout_s)
        if "error" in reply:
            raise AssertionError(f"DevTools {method} failed: {reply['error']}")
        return dict(reply.get("result", {}))

    reading = asyncio.create_task(reader())
    try:
        target = await send("Target.createTarget", url="about:blank")
        session = (await send("Target.attachToTarget", targetId=target["targetId"], flatten=True))["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            await send(f"{domain}.enable", session)
        await send("Page.navigate", session, url=page_url)
        await asyncio.wait_for(loaded.wait(), timeout_s)
        evaluated = await send(
            "Runtime.evaluate", session, expression=IMAGES_RENDERED, awaitPromise=True, returnByValue=True
        )
        visit.result = evaluated["result"]["value"]
        await asyncio.sleep(0.2)  # let late console messages arrive
        await send("Target.closeTarget", targetId=target["targetId"])
    finally:
        # close the websocket and wait for the reader to see it closed, so the socket is released here
        # and not in a later test's garbage collection
        connection.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(reading, timeout_s)
        connection.close()
    return visit


def visit(browser_url: str, page: Path) -> PageVisit:
    return asyncio.run(_visit(browser_url, page.resolve().as_uri()))


@pytest.fixture(scope="module")
def report_page(inputs: Inputs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser-report")
    result = invoke(
        *base_args(inputs, root / "out", root / "cache"), "--policy", "thr-mmt-0.8", "--policy", "lr-mmt-1.2"
    )
    assert result.exit_code == 0, result.output
    return root / "out" / "report.html"


def test_report_loads_cleanly_and_every_image_renders(browser: str, report_page: Path) -> None:
    seen = visit(browser, report_page)
    assert seen.console_errors == []
    # the page itself and its inline data: images, nothing from the network or other files
    assert [url for url in seen.requests if not url.startswith("data:")] == [report_page.resolve().as_uri()]
    assert len(seen.requests) == 6
    assert seen.result["title"].startswith("neat report: 4 policies on 2 days")
    assert seen.result["count"] == 5  # the figures, as SVG
    assert seen.result["decoded"] is True
    assert seen.result["ok"] is True, seen.result["sizes"]
    assert all(width >= 600 and height >= 200 for width, height in seen.result["sizes"])
    assert seen.result["tables"] >= 5


def test_the_check_catches_a_broken_page(browser: str, tmp_path: Path) -> None:
    """The same check fails on a page with a broken image and a script error, so a pass means something."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!doctype html><html><head><title>broken</title><link rel="icon" href="data:,"></head><body>'
        '<img src="data:image/png;base64,bm90IGEgcG5n"><script>undefinedFunction()</script></body></html>'
    )
    seen = visit(browser, page)
    assert seen.result["ok"] is False
    assert any("undefinedFunction" in error for error in seen.console_errors)
