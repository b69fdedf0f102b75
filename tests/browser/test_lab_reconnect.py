"""A network blip loses nothing: the panel's log stream across a server crash and offline spells.

The Python Runner panel follows a run's log over a WebSocket; when the socket drops it reconnects
by itself, with back-off, from the last byte offset it received (``stream.ts``), and at once when
the browser says it is back ``online`` (``index.ts``). These tests break the connection mid-run
under a real ``jupyter lab`` and Chromium, and check that the log ends complete: every line
once, in order, and the run's real outcome.

To see what the stream does, an init script watches (does not change) the page's ``WebSocket``:
each socket to ``/pyrunner/api/runs/…`` is recorded with the page-clock times at which it was
made, opened and closed, and so are the window's ``online`` and ``offline`` events.
"""

from __future__ import annotations

import json
import re
import time
from re import Pattern
from typing import Any

from playwright.sync_api import Locator, Page, expect

from .test_lab_extension import (
    FIRST_RUN,
    choose_zip,
    lines_program,
    log_lines,
    open_lab,
    start_dropped,
    wait_end,
    wait_until,
    zip_bytes,
)

WATCH = """(() => {
    const sockets = (window.__pyrunnerSockets = []);
    const network = (window.__pyrunnerNetwork = []);
    const Native = window.WebSocket;
    class Watched extends Native {
        constructor(url, protocols) {
            super(url, protocols);
            if (String(url).includes('/pyrunner/api/runs/')) {
                const entry = { url: String(url), created: performance.now(), opened: null,
                                closed: null, code: null, messages: 0, lastMessage: null };
                sockets.push(entry);
                this.addEventListener('open', () => { entry.opened = performance.now(); });
                this.addEventListener('message', () => {
                    entry.messages += 1;
                    entry.lastMessage = performance.now();
                });
                this.addEventListener('close', event => {
                    entry.closed = performance.now();
                    entry.code = event.code;
                });
            }
        }
    }
    window.WebSocket = Watched;
    for (const type of ['online', 'offline']) {
        window.addEventListener(type, () => network.push({ type, at: performance.now() }));
    }
})()"""

NOTICE = ".jp-PyRunner-reconnecting"
RUNNING = re.compile(r"\bjp-PyRunner-status-running\b")

#: a console error Chromium logs itself and the page cannot silence, with why it is expected
Excuse = tuple[Pattern[str], str]


def outage_noise(port: int, run_id: str) -> list[Excuse]:
    """What Chromium logs while no server listens on ``port`` (killed, not yet started again)."""
    origin = rf"127\.0\.0\.1:{port}"
    return [
        (
            re.compile(
                rf"^WebSocket connection to 'ws://{origin}/pyrunner/api/runs/{run_id}/stream"
                r"\?offset=\d+' failed: Error in connection establishment: "
                r"net::ERR_CONNECTION_REFUSED"
            ),
            "the panel's own reconnection attempts, refused while the server is down",
        ),
        (
            re.compile(
                rf"^WebSocket connection to 'ws://{origin}/api/events/subscribe' failed: "
                r"Error in connection establishment: net::ERR_CONNECTION_REFUSED"
            ),
            "JupyterLab's event bus socket reconnecting by itself while the server is down",
        ),
        (
            re.compile(
                r"^Failed to load resource: net::ERR_CONNECTION_REFUSED "
                rf"\(http://{origin}/"
            ),
            "HTTP requests made while the server is down: the panel's check that the run still "
            "exists (after its second failed reconnection), its history refresh, JupyterLab's "
            "workspace saves and service polls",
        ),
        (
            re.compile(
                r"^Failed to load resource: net::ERR_(EMPTY_RESPONSE|CONNECTION_RESET) "
                rf"\(http://{origin}/"
            ),
            "an HTTP request in flight at the instant the server was killed",
        ),
    ]


def offline_noise(port: int) -> list[Excuse]:
    """What Chromium logs for requests the page makes while the browser is offline."""
    return [
        (
            re.compile(
                r"^Failed to load resource: net::ERR_INTERNET_DISCONNECTED "
                rf"\(http://127\.0\.0\.1:{port}/"
            ),
            "HTTP requests made while offline (JupyterLab saves its workspace, polls services; "
            "the panel refreshes its history)",
        ),
        (
            re.compile(
                rf"^WebSocket connection to 'ws://127\.0\.0\.1:{port}/[^']*' failed: "
                r".*net::ERR_INTERNET_DISCONNECTED"
            ),
            "a socket opened while offline",
        ),
    ]


def assert_clean(page: Page, excused: list[tuple[int, int, list[Excuse]]]) -> None:
    """No uncaught exception; no console error but those excused, each only in its window.

    ``excused``: ``(first, end, excuses)``: console errors ``first`` … ``end - 1`` (by index in
    ``page.console_errors``, i.e. logged while the server was down or the browser offline) may
    match one of ``excuses``. Anything else, or any of those outside its window, fails.
    """
    assert page.errors == [], json.dumps(page.errors, indent=1)  # type: ignore[attr-defined]
    unexplained = [
        text
        for index, text in enumerate(page.console_errors)  # type: ignore[attr-defined]
        if not any(
            first <= index < end and any(pattern.search(text) for pattern, _ in excuses)
            for first, end, excuses in excused
        )
    ]
    assert unexplained == [], json.dumps(unexplained, indent=1)


def console_mark(page: Page) -> int:
    """How many console errors there are now, once Chromium's earlier ones have all come in."""
    page.evaluate("0")  # a round trip: console events sent before its answer are in
    return len(page.console_errors)  # type: ignore[attr-defined]


def sockets(page: Page) -> list[dict[str, Any]]:
    return page.evaluate("window.__pyrunnerSockets")  # type: ignore[no-any-return]


def network_events(page: Page) -> list[dict[str, Any]]:
    return page.evaluate("window.__pyrunnerNetwork")  # type: ignore[no-any-return]


def offset_of(socket: dict[str, Any]) -> int:
    found = re.search(r"[?&]offset=(\d+)", str(socket["url"]))
    assert found, socket
    return int(found.group(1))


def failed_attempts(page: Page) -> list[dict[str, Any]]:
    """Stream sockets that never opened (refused reconnection attempts)."""
    return [s for s in sockets(page) if s["opened"] is None and s["closed"] is not None]


def start_lines_run(page: Page, lab: object, count: int, delay: float) -> tuple[Locator, str]:
    """A run started from the panel (a dropped zip) printing ``line 1`` … ``line <count>``, on
    show and live (``line 5`` is in the log), with a mark in the page to tell a reload."""
    page.add_init_script(WATCH)
    _panel, run_view = start_dropped(
        page, lab, zip_bytes({"main.py": lines_program(count, delay, outputs=False)})
    )
    run_view.locator(".jp-PyRunner-log").get_by_text("line 5", exact=True).wait_for(
        timeout=FIRST_RUN
    )
    run_id = run_view.get_attribute("data-run-id")
    assert run_id
    expect(run_view.locator(NOTICE)).to_have_count(0)
    assert len(sockets(page)) == 1, sockets(page)
    page.evaluate("window.__pyrunnerSamePage = true")
    return run_view, run_id


def program_lines(run_view: Locator) -> list[str]:
    return [line for line in log_lines(run_view) if line.startswith("line ")]


def expected_lines(count: int) -> list[str]:
    return [f"line {i}" for i in range(1, count + 1)]


def assert_complete(page: Page, run_view: Locator, count: int) -> None:
    """The run ended well, its log has every line once and in order, on the very same page."""
    assert wait_end(run_view) == "succeeded", run_view.inner_text()
    assert program_lines(run_view) == expected_lines(count)
    expect(run_view.locator(".jp-PyRunner-exitCode")).to_have_text("0")
    expect(run_view.locator(NOTICE)).to_have_count(0)
    assert page.evaluate("window.__pyrunnerSamePage === true"), "the page was reloaded"


def test_a_server_killed_mid_run_and_started_again_loses_no_line(lab, page: Page) -> None:
    count = 150  # 15 s: still running when the panel is back
    run_view, run_id = start_lines_run(page, lab, count, 0.1)
    notice = run_view.locator(NOTICE)

    down_from = console_mark(page)
    lab.kill()  # SIGKILL, like a crash; the run goes on under its own supervisor
    expect(notice).to_be_visible(timeout=5_000)
    expect(notice).to_contain_text("Connection lost; reconnecting…")
    shown = program_lines(run_view)
    assert len(shown) >= 5 and shown == expected_lines(len(shown)), shown  # kept on screen
    wait_until(lambda: len(failed_attempts(page)) >= 2, 10, "the panel did not retry")
    lab.start()  # same port, token, root, settings and PYRUNNER_HOME

    # by itself: no reload, no click; the back-off's next try finds the server
    expect(notice).to_have_count(0, timeout=20_000)
    down_to = console_mark(page)
    first, *attempts, reconnected = sockets(page)
    assert first["code"] == 1006, first  # dropped by the crash, not closed by either side
    assert attempts and all(s["opened"] is None for s in attempts), attempts
    # the handshake after the restart was authorised: the page's login cookie (from the
    # ?token= URL) stays valid, for the restarted server has the same token and cookie secret
    assert reconnected["opened"] is not None, reconnected
    assert reconnected["closed"] is None, reconnected
    # resumed from the last byte received, not replayed from the start
    assert offset_of(reconnected) > 0, reconnected
    assert {offset_of(s) for s in attempts} == {offset_of(reconnected)}, sockets(page)

    # live again: the run is still going and its lines keep coming over the new socket
    expect(run_view.locator(".jp-PyRunner-runHeader .jp-PyRunner-badge")).to_have_class(RUNNING)
    assert f"line {count}" not in program_lines(run_view), "the run ended before the reconnection"
    assert_complete(page, run_view, count)
    assert len(sockets(page)) == len(attempts) + 2, sockets(page)  # no reconnection after
    assert_clean(page, [(down_from, down_to, outage_noise(lab.port, run_id))])


def test_offline_for_two_seconds_mid_run_loses_no_line(lab, page: Page) -> None:
    count = 80
    run_view, _run_id = start_lines_run(page, lab, count, 0.1)
    notice = run_view.locator(NOTICE)

    offline_from = console_mark(page)
    page.context.set_offline(True)
    assert page.evaluate("navigator.onLine") is False
    time.sleep(2)
    page.context.set_offline(False)
    offline_to = console_mark(page)
    events = network_events(page)
    assert [e["type"] for e in events] == ["offline", "online"], events
    offline_at, online_at = (float(e["at"]) for e in events)

    first = sockets(page)[0]
    if first["closed"] is None or float(first["closed"]) > online_at:
        # What Chromium 156 does (seen every time): offline emulation fails new requests
        # (ERR_INTERNET_DISCONNECTED) and fires offline/online, but does not close an open
        # WebSocket: no frame arrives on it while offline, and the held ones come once back
        # online. Nothing to reconnect: one socket, never a notice, and the log still complete.
        assert len(sockets(page)) == 1, sockets(page)
        expect(notice).to_have_count(0)
    else:
        # Chromium dropped the socket: the panel reconnects, at once once back online
        assert float(first["closed"]) >= offline_at, first
        wait_until(
            lambda: any(s["opened"] is not None for s in sockets(page)[1:]),
            10,
            f"no reconnection after the browser came back online: {sockets(page)}",
        )
        reconnected = next(s for s in sockets(page)[1:] if s["opened"] is not None)
        assert float(reconnected["created"]) - online_at < 1_000, (online_at, sockets(page))
        expect(notice).to_have_count(0, timeout=5_000)
    assert_complete(page, run_view, count)
    assert_clean(page, [(offline_from, offline_to, offline_noise(lab.port))])


def test_back_online_the_panel_reconnects_at_once_not_after_its_back_off(lab, page: Page) -> None:
    """The ``online`` handler: a stream waiting out its back-off retries when the network is back.

    Chromium keeps WebSockets open while offline (see the test above), so the socket is dropped
    by killing the server; once the server is up again the stream is left waiting for its next
    try, 8 s away, and the browser goes offline and back online.
    """
    count = 250  # 25 s: still running when the panel is back
    run_view, run_id = start_lines_run(page, lab, count, 0.1)
    notice = run_view.locator(NOTICE)

    down_from = console_mark(page)
    lab.kill()
    # tries after 0.25, 0.5, 1, 2 and 4 s (stream.ts backoff); after 5 refusals it waits 8 s
    wait_until(lambda: len(failed_attempts(page)) >= 5, 20, f"too few retries: {sockets(page)}")
    last_refusal = float(failed_attempts(page)[-1]["closed"])
    lab.start()
    down_to = console_mark(page)
    waited = page.evaluate("performance.now()") - last_refusal
    tries = len(sockets(page))
    assert waited < 6_000, f"the restart took {waited:.0f} ms: the back-off may be over already"
    expect(notice).to_be_visible()  # still waiting out its back-off

    offline_from = console_mark(page)
    page.context.set_offline(True)
    time.sleep(0.3)
    page.context.set_offline(False)
    offline_to = console_mark(page)
    online_at = float(network_events(page)[-1]["at"])
    assert [e["type"] for e in network_events(page)] == ["offline", "online"]
    wait_until(
        lambda: any(s["opened"] is not None for s in sockets(page)[tries:]),
        5,
        f"no reconnection after the browser came back online: {sockets(page)}",
    )
    reconnected = next(s for s in sockets(page)[tries:] if s["opened"] is not None)
    delay = float(reconnected["created"]) - online_at
    # at once: well before the back-off's own next try (8 s after the last refusal)
    assert 0 <= delay < 1_000, (online_at, sockets(page))
    assert float(reconnected["created"]) < last_refusal + 8_000 - 1_000, sockets(page)
    assert offset_of(reconnected) > 0, reconnected
    expect(notice).to_have_count(0)

    assert f"line {count}" not in program_lines(run_view), "the run ended before the reconnection"
    assert_complete(page, run_view, count)
    assert_clean(
        page,
        [
            (down_from, down_to, outage_noise(lab.port, run_id)),
            (offline_from, offline_to, offline_noise(lab.port)),
        ],
    )


def test_a_run_asked_for_while_the_server_is_down_says_it_is_unreachable(lab, page: Page) -> None:
    panel = open_lab(page, lab)
    choose_zip(page, panel, zip_bytes({"main.py": lines_program(1, 0.01, outputs=False)}))
    first = console_mark(page)
    lab.kill()
    panel.locator(".jp-PyRunner-run").click()
    alert = panel.locator(".jp-PyRunner-error[role=alert]")
    expect(alert).to_contain_text(re.compile("unreachable"), timeout=15_000)
    expect(panel.locator(".jp-PyRunner-run")).to_be_enabled()  # one can try again
    lab.start()
    end = console_mark(page)  # the outage: from the kill until the server is back
    panel.locator(".jp-PyRunner-run").click()  # and it works once the server is back
    run_view = panel.locator(".jp-PyRunner-runView")
    assert wait_end(run_view, FIRST_RUN) == "succeeded", run_view.inner_text()
    assert_clean(page, [(first, end, outage_noise(lab.port, r"[^/]+"))])
