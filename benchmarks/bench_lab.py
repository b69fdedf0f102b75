"""The JupyterLab panel beside the direct paths, in one run.

    python benchmarks/bench_lab.py [--upload-mb 256] [--lines 200000] [--repeat 3] [--json PATH]

Starts ``jupyter server`` (which serves JupyterLab with the extension) and drives Debian's
Chromium with Playwright. Three comparisons:

- upload: a zip through the panel (the browser's ``PUT`` with progress events) beside a
  ``PUT`` of the same file from Python (``urllib``, streamed);
- replay: opening an ended run whose log has ``--lines`` lines, until the panel shows the last
  one, beside a Python WebSocket client reading the same stream to its end, whole and from the
  same 2 MiB tail the panel asks for;
- latency: time from the program's ``print`` to the line being in the panel's page, beside the
  same for a Python WebSocket client following the same run (p50 / p95).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench_server import TOKEN, Server, pct, project

CHROMIUM = "/usr/bin/chromium"
#: what the panel asks for when it opens a run (model/shownRun.ts, TAIL_BYTES)
TAIL = 2 * 1024 * 1024
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def in_thread(coro: Any) -> Any:
    """Run a coroutine to its end on a thread of its own (Playwright's sync API owns this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def open_panel(page: Any, server: Server) -> None:
    page.goto(f"http://127.0.0.1:{server.port}/lab?token={TOKEN}")
    page.locator(".jp-SideBar li[title='Python Runner']").first.click(timeout=60_000)
    page.locator(".jp-PyRunner-dropzone").wait_for()


def put_direct(server: Server, path: Path) -> float:
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        req = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/pyrunner/api/uploads/{path.name}", data=f,
            method="PUT",
            headers={"Authorization": f"token {TOKEN}", "Content-Length": str(path.stat().st_size),
                     "Content-Type": "application/octet-stream"},
        )  # fmt: skip
        urllib.request.urlopen(req, timeout=600).read()
    return time.perf_counter() - t0


def put_panel(page: Any, path: Path) -> float:
    page.locator("input[aria-label='Project zip']").set_input_files(str(path))
    t0 = time.perf_counter()
    page.locator(".jp-PyRunner-run").click()
    page.locator(".jp-PyRunner-upload").wait_for(state="attached", timeout=60_000)
    page.locator(".jp-PyRunner-upload").wait_for(state="detached", timeout=600_000)
    elapsed = time.perf_counter() - t0
    page.locator(".jp-PyRunner-runView").wait_for(timeout=600_000)
    return elapsed


def bench_upload(work: Path, page: Any, server: Server, mb: int, repeat: int) -> dict[str, Any]:
    archive = work / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("main.py", "print('ok')\n")
        zf.writestr("requirements.txt", "")
        with zf.open("data.bin", "w", force_zip64=True) as out:
            for _ in range(mb):
                out.write(os.urandom(1 << 20))
    size = archive.stat().st_size
    direct, panel = [], []
    for _ in range(repeat):
        direct.append(put_direct(server, archive))
        panel.append(put_panel(page, archive))
    d, p = statistics.median(direct), statistics.median(panel)
    return {"bytes": size, "direct_s": d, "panel_s": p, "ratio": p / d,
            "direct_mb_s": size / d / 1e6, "panel_mb_s": size / p / 1e6}  # fmt: skip


async def ws_replay(server: Server, run_id: str, last: str, query: str = "") -> float:
    t0 = time.perf_counter()
    seen = ""

    def on(message: dict[str, Any]) -> None:
        nonlocal seen
        if message["type"] == "log":
            seen = (seen + message["text"])[-200:]

    await server.stream(run_id, on, query)
    assert last in seen, seen
    return time.perf_counter() - t0


def panel_replay(page: Any, run_id: str, last: str) -> float:
    page.locator(".jp-PyRunner-runView [aria-label='Close this run']").click()
    item = page.locator(f".jp-PyRunner-runList li[data-run-id='{run_id}'] .jp-PyRunner-runItem")
    t0 = time.perf_counter()
    item.click()
    page.locator(".jp-PyRunner-log .jp-PyRunner-logLine", has_text=last).wait_for(timeout=600_000)
    page.locator(".jp-PyRunner-outputs").wait_for(timeout=600_000)
    return time.perf_counter() - t0


def bench_replay(page: Any, server: Server, lines: int, repeat: int) -> dict[str, Any]:
    name = project(server, "chatty", f"""
        import sys
        out = sys.stdout
        for i in range(1, {lines} + 1):
            out.write(f"line {{i}} of a log that is long enough to be realistic\\n")
        """)  # fmt: skip
    record = server.run({"path": name})
    server.wait(record["id"])
    last = f"line {lines} of"
    page.locator(".jp-PyRunner-runView").wait_for()  # a run is on show (the upload's)
    page.locator("[aria-label='Refresh the runs']").click()
    page.locator(f".jp-PyRunner-runList li[data-run-id='{record['id']}']").wait_for()
    direct, tail, panel = [], [], []
    for _ in range(repeat):
        direct.append(in_thread(ws_replay(server, record["id"], last)))
        tail.append(in_thread(ws_replay(server, record["id"], last, f"?tail={TAIL}")))
        panel.append(panel_replay(page, record["id"], last))
    d, t, p = (statistics.median(x) for x in (direct, tail, panel))
    return {"lines": lines, "direct_s": d, "tail_s": t, "panel_s": p, "ratio": p / d,
            "tail_ratio": p / t}  # fmt: skip


LATENCY_PROBE = """
window.__arrivals = [];
const log = document.querySelector('.jp-PyRunner-log');
new MutationObserver(() => {
  const now = performance.timeOrigin + performance.now();
  for (const line of log.querySelectorAll('.jp-PyRunner-logLine')) {
    const m = /^t=(\\d+\\.\\d+)$/.exec(line.textContent);
    if (m && !line.dataset.seen) { line.dataset.seen = '1'; window.__arrivals.push([+m[1], now / 1000]); }
  }
}).observe(log, {childList: true, subtree: true, characterData: true});
"""


def bench_latency(page: Any, server: Server) -> dict[str, Any]:
    name = project(server, "ticker", """
        import time
        time.sleep(3.0)
        for i in range(100):
            print(f"t={time.time():.6f}", flush=True)
            time.sleep(0.05)
        """)  # fmt: skip
    record = server.run({"path": name})
    page.locator("[aria-label='Refresh the runs']").click()
    page.locator(
        f".jp-PyRunner-runList li[data-run-id='{record['id']}'] .jp-PyRunner-runItem"
    ).click()
    page.locator(f".jp-PyRunner-runView[data-run-id='{record['id']}']").wait_for()
    page.evaluate(LATENCY_PROBE)
    direct: list[float] = []

    def on(message: dict[str, Any]) -> None:
        if message["type"] == "log":
            now = time.time()
            for line in message["text"].splitlines():
                if line.startswith("t="):
                    direct.append(now - float(line[2:]))

    in_thread(server.stream(record["id"], on))
    page.locator(".jp-PyRunner-outputs").wait_for(timeout=60_000)
    arrivals = page.evaluate("window.__arrivals")
    panel = [seen - printed for printed, seen in arrivals]
    return {
        "lines": len(panel),
        "direct_p50_ms": 1000 * pct(direct, 0.5), "direct_p95_ms": 1000 * pct(direct, 0.95),
        "panel_p50_ms": 1000 * pct(panel, 0.5), "panel_p95_ms": 1000 * pct(panel, 0.95),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upload-mb", type=int, default=256)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        work = Path(tmp)
        settings = work / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        server = Server(work / "lab", f"--LabApp.workspaces_dir={work / 'workspaces'}",
                        f"--LabApp.user_settings_dir={work / 'settings'}",
                        "--PyRunnerApp.max_upload_size=4294967296")  # fmt: skip
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_panel(page, server)
            results["upload"] = bench_upload(work, page, server, args.upload_mb, args.repeat)
            results["replay"] = bench_replay(page, server, args.lines, args.repeat)
            results["latency"] = bench_latency(page, server)
        finally:
            browser.close()
            server.stop()
    u, r, lat = results["upload"], results["replay"], results["latency"]
    print("\n### JupyterLab panel\n")
    print("| case | direct | panel | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| upload {u['bytes'] / 1e6:.0f} MB (s) | {u['direct_s']:.2f} ({u['direct_mb_s']:.0f} MB/s) "
        f"| {u['panel_s']:.2f} ({u['panel_mb_s']:.0f} MB/s) | {u['ratio']:.2f}x |"
    )
    print(
        f"| open a run of {r['lines']:,} log lines (s) vs whole replay | {r['direct_s']:.2f} "
        f"| {r['panel_s']:.2f} | {r['ratio']:.2f}x |\n"
        f"| open a run of {r['lines']:,} log lines (s) vs 2 MiB tail | {r['tail_s']:.2f} "
        f"| {r['panel_s']:.2f} | {r['tail_ratio']:.2f}x |"
    )
    print(f"| print → screen p50 / p95 (ms) | {lat['direct_p50_ms']:.0f} / {lat['direct_p95_ms']:.0f} "
          f"| {lat['panel_p50_ms']:.0f} / {lat['panel_p95_ms']:.0f} | |")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
