"""The JupyterLab extension (the Python Runner side panel) in a real `jupyter lab` and Chromium.

Every test drives the panel as a user would (drops, clicks, the file browser, a reload) against
real runs in the test's own store, and ends by checking that the page logged no error.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import struct
import textwrap
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from ..conftest import marker_processes, run_cli, write_project
from .conftest import open_runner_panel, show_side_panel

#: where screenshots go (docs/screenshots when refreshing the documentation's pictures)
SCREENSHOTS = os.environ.get("PYRUNNER_SCREENSHOTS")

#: the first run of a test builds its environment (no requirements: quick, but not instant)
FIRST_RUN = 60_000

#: console errors that are not ours, each with the reason it is harmless. Empty: none were seen.
KNOWN_NOISE: list[tuple[re.Pattern[str], str]] = []


# -- projects -------------------------------------------------------------------------------------


def png(width: int, height: int, pixel: Callable[[int, int], tuple[int, int, int]]) -> bytes:
    """A valid RGB PNG, written by hand (zlib and struct, no imaging library)."""
    rows = b"".join(
        b"\0" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


IMAGE = png(48, 32, lambda x, y: (x * 255 // 48, y * 255 // 32, 180))
CSV = "x,y\n1,2\n3,4\n"


def lines_program(count: int, delay: float, outputs: bool = True) -> str:
    """Prints ``line 1`` … ``line <count>`` with a pause after each, then writes a PNG and a CSV."""
    write = f"""
        (out / "plot.png").write_bytes(bytes.fromhex("{IMAGE.hex()}"))
        (out / "data.csv").write_text({CSV!r})
    """
    return textwrap.dedent(f"""
        import os, pathlib, time
        out = pathlib.Path(os.environ["OUTPUT_FOLDER"])
        for i in range(1, {count} + 1):
            print(f"line {{i}}", flush=True)
            time.sleep({delay})
    """) + (textwrap.dedent(write) if outputs else "")


def zip_bytes(files: dict[str, str | bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def format_bytes(size: float) -> str:
    """The panel's wording for a size (format.ts)."""
    units = ["B", "KB", "MB", "GB", "TB"]
    unit = 0
    while size >= 1024 and unit < len(units) - 1:
        size /= 1024
        unit += 1
    return f"{int(size)} B" if unit == 0 else f"{size:.1f} {units[unit]}"


# -- the page -------------------------------------------------------------------------------------


def open_lab(page: Page, lab: object) -> Locator:
    """JupyterLab loaded, with the Python Runner panel shown."""
    page.goto(lab.url("lab"))  # type: ignore[attr-defined]
    return open_runner_panel(page)  # type: ignore[return-value]


def drop_file(page: Page, zone: Locator, data: bytes, name: str) -> None:
    """A desktop drag and drop of one file onto ``zone``: dragenter, dragover, then drop."""
    handle = zone.element_handle()
    accepted = page.evaluate(
        """([zone, b64, name]) => {
            const binary = atob(b64);
            const bytes = new Uint8Array(binary.length);
            for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
            const data = new DataTransfer();
            data.items.add(new File([bytes], name, { type: 'application/zip' }));
            window.__pyrunnerDrag = data;
            return ['dragenter', 'dragover'].map(type => !zone.dispatchEvent(
                new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data })));
        }""",
        [handle, base64.b64encode(data).decode(), name],
    )
    assert accepted == [True, True], "the drop zone did not accept the drag (no preventDefault)"
    expect(zone).to_have_class(re.compile(r"\bjp-mod-dropTarget\b"))  # highlighted while hovered
    dropped = page.evaluate(
        """zone => !zone.dispatchEvent(new DragEvent('drop',
            { bubbles: true, cancelable: true, dataTransfer: window.__pyrunnerDrag }))""",
        handle,
    )
    assert dropped, "the drop zone did not take the drop (no preventDefault)"
    expect(zone).not_to_have_class(re.compile(r"\bjp-mod-dropTarget\b"))


def choose_zip(page: Page, panel: Locator, data: bytes, name: str = "proj.zip") -> None:
    """Drop a zip on the panel; its name and size show as the chosen project."""
    drop_file(page, panel.locator(".jp-PyRunner-dropzone"), data, name)
    expect(panel.locator(".jp-PyRunner-chosenName")).to_have_text(name)
    expect(panel.locator(".jp-PyRunner-chosen .jp-PyRunner-muted")).to_have_text(
        format_bytes(len(data))
    )


def start_dropped(page: Page, lab: object, data: bytes) -> tuple[Locator, Locator]:
    """Lab opened, the zip ``data`` dropped on the panel and run: the panel and the run's view."""
    panel = open_lab(page, lab)
    choose_zip(page, panel, data)
    panel.locator(".jp-PyRunner-run").click()
    return panel, panel.locator(".jp-PyRunner-runView")


ENDED = (
    ".jp-PyRunner-runHeader .jp-PyRunner-badge:not(.jp-PyRunner-status-queued)"
    ":not(.jp-PyRunner-status-preparing):not(.jp-PyRunner-status-running)"
)


def wait_end(run_view: Locator, timeout: float = FIRST_RUN) -> str:
    """The status label once the run on show has ended."""
    badge = run_view.locator(ENDED)
    badge.wait_for(timeout=timeout)
    return badge.inner_text()


def log_lines(run_view: Locator) -> list[str]:
    return run_view.locator(".jp-PyRunner-log .jp-PyRunner-logLine").all_inner_texts()


def assert_clean(page: Page, refused: int | None = None) -> None:
    """No uncaught exception and no console error, except known noise that is not ours.

    ``refused``: the HTTP status of a request to the runner API that the test makes fail on
    purpose. Chromium logs every such response as a console error of its own ("Failed to load
    resource"); that one line, and only for that status on the runner's API, is expected.
    """
    assert page.errors == [], json.dumps(page.errors, indent=1)  # type: ignore[attr-defined]
    expected = re.compile(
        rf"^Failed to load resource: the server responded with a status of {refused} "
        r".*/pyrunner/api/"
    )
    errors = [
        text
        for text in page.console_errors  # type: ignore[attr-defined]
        if not any(pattern.search(text) for pattern, _reason in KNOWN_NOISE)
        and not (refused is not None and expected.search(text))
    ]
    assert errors == [], json.dumps(errors, indent=1)


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def wait_saved_in_workspace(tmp_path: Path, run_id: str) -> None:
    """JupyterLab writes its state database (the run on show) into the workspace file,
    debounced: a reload before that would not know the run."""
    workspaces = tmp_path / "lab-workspaces"

    def saved() -> bool:
        for path in workspaces.glob("*.jupyterlab-workspace"):
            try:
                if run_id in path.read_text():
                    return True
            except OSError:  # being replaced right now
                pass
        return False

    wait_until(saved, 10, "the run on show was never saved in the workspace")


# -- the tests ------------------------------------------------------------------------------------


def test_a_dropped_zip_runs_with_a_live_log_outputs_and_previews(lab, page: Page) -> None:
    panel = open_lab(page, lab)
    choose_zip(page, panel, zip_bytes({"main.py": lines_program(12, 0.3)}))
    panel.locator(".jp-PyRunner-run").click()

    run_view = panel.locator(".jp-PyRunner-runView")
    log = run_view.locator(".jp-PyRunner-log")
    log.get_by_text("line 2", exact=True).wait_for(timeout=FIRST_RUN)
    live = log_lines(run_view)
    badge = run_view.locator(".jp-PyRunner-runHeader .jp-PyRunner-badge")
    assert "line 12" not in live, "the log was only seen once the run had ended"
    expect(badge).to_have_class(re.compile(r"\bjp-PyRunner-status-running\b"))
    expect(run_view.get_by_role("button", name="Cancel")).to_be_visible()

    assert wait_end(run_view) == "succeeded", run_view.inner_text()
    assert [line for line in log_lines(run_view) if line.startswith("line ")] == [
        f"line {i}" for i in range(1, 13)
    ]
    expect(run_view.locator(".jp-PyRunner-exitCode")).to_have_text("0")

    tree = run_view.locator(".jp-PyRunner-tree")
    expect(tree.locator(".jp-PyRunner-treeName")).to_have_text(["data.csv", "plot.png"])
    for name, size in (("data.csv", len(CSV)), ("plot.png", len(IMAGE))):
        item = tree.locator(".jp-PyRunner-treeItem", has_text=name)
        expect(item.locator(".jp-PyRunner-treeSize")).to_have_text(format_bytes(size))
    expect(run_view.locator(".jp-PyRunner-outputs h3")).to_contain_text("2 files")

    tree.locator(".jp-PyRunner-treeItem", has_text="plot.png").click()
    image = run_view.locator("img.jp-PyRunner-previewImage")
    image.wait_for(timeout=10_000)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=10_000
    )
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [48, 32]

    tree.locator(".jp-PyRunner-treeItem", has_text="data.csv").click()
    table = run_view.locator(".jp-PyRunner-table")
    expect(table.locator("th")).to_have_text(["x", "y"])
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody td")).to_have_text(["1", "2", "3", "4"])
    assert_clean(page)


CANCEL_PROGRAM = """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(f"child {child.pid}", flush=True)
    i = 0
    while True:
        i += 1
        print(f"tick {i}", flush=True)
        time.sleep(0.2)
"""


def test_cancel_stops_the_run_and_its_processes(lab, page: Page) -> None:
    panel, run_view = start_dropped(
        page, lab, zip_bytes({"main.py": textwrap.dedent(CANCEL_PROGRAM)})
    )
    run_view.locator(".jp-PyRunner-log").get_by_text("tick 3", exact=True).wait_for(
        timeout=FIRST_RUN
    )
    run_id = run_view.get_attribute("data-run-id")
    assert run_id
    child = int(run_view.locator(".jp-PyRunner-logLine", has_text="child ").inner_text().split()[1])
    alive = marker_processes(run_id)
    assert child in alive, f"the program's child {child} is not among the run's processes {alive}"

    run_view.get_by_role("button", name="Cancel").click()
    assert wait_end(run_view, timeout=15_000) == "cancelled", run_view.inner_text()
    expect(run_view.get_by_role("button", name="Cancel")).to_have_count(0)
    wait_until(
        lambda: marker_processes(run_id) == [],
        10,
        f"processes of the cancelled run remain: {marker_processes(run_id)}",
    )
    history = panel.locator(f'.jp-PyRunner-runList li[data-run-id="{run_id}"]')
    expect(history.locator(".jp-PyRunner-badge")).to_have_class(
        re.compile(r"\bjp-PyRunner-status-cancelled\b"), timeout=10_000
    )
    assert_clean(page)


def test_run_with_python_runner_from_the_file_browser_context_menu(lab, page: Page) -> None:
    write_project(lab.root / "rcproj", {"main.py": "print('hello from the context menu')\n"})
    page.goto(lab.url("lab"))
    show_side_panel(page, "filebrowser")
    item = page.locator("#filebrowser .jp-DirListing-item", has_text="rcproj")
    item.click(button="right")
    page.locator(".lm-Menu-item", has_text="Run with Python Runner").click()

    panel = page.locator("#jp-pyrunner-panel")
    expect(panel).to_be_visible()
    run_view = panel.locator(".jp-PyRunner-runView")
    expect(run_view.locator(".jp-PyRunner-runName")).to_have_text("rcproj", timeout=10_000)
    assert wait_end(run_view) == "succeeded", run_view.inner_text()
    expect(run_view.locator(".jp-PyRunner-log")).to_contain_text("hello from the context menu")
    expect(run_view.locator(".jp-PyRunner-exitCode")).to_have_text("0")
    assert_clean(page)


def test_a_reload_mid_run_shows_the_same_run_with_its_whole_log_once(
    lab, page: Page, tmp_path: Path
) -> None:
    count = 40
    panel, run_view = start_dropped(
        page, lab, zip_bytes({"main.py": lines_program(count, 0.15, outputs=False)})
    )
    run_view.locator(".jp-PyRunner-log").get_by_text("line 5", exact=True).wait_for(
        timeout=FIRST_RUN
    )
    run_id = run_view.get_attribute("data-run-id")
    assert run_id
    wait_saved_in_workspace(tmp_path, run_id)
    assert f"line {count}" not in log_lines(run_view), "the run ended before the reload"

    page.reload()
    panel = open_runner_panel(page)
    run_view = panel.locator(".jp-PyRunner-runView")
    expect(run_view).to_have_attribute("data-run-id", run_id, timeout=20_000)
    assert wait_end(run_view) == "succeeded", run_view.inner_text()
    program = [line for line in log_lines(run_view) if line.startswith("line ")]
    assert program == [f"line {i}" for i in range(1, count + 1)]
    assert_clean(page)


def test_a_cli_run_shows_in_the_history_opens_and_is_deleted(
    lab, page: Page, home: Path, tmp_path: Path
) -> None:
    folder = write_project(tmp_path / "cliproj", {"main.py": "print('from the command line')\n"})
    panel = open_lab(page, lab)
    history = panel.locator(".jp-PyRunner-history")
    expect(history).to_contain_text("No runs yet")

    result = run_cli("run", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["id"]
    item = panel.locator(f'.jp-PyRunner-runList li[data-run-id="{run_id}"]')
    item.wait_for(timeout=15_000)  # the list refreshes itself every 5 s
    expect(item.locator(".jp-PyRunner-badge")).to_have_class(
        re.compile(r"\bjp-PyRunner-status-succeeded\b")
    )
    expect(item.locator(".jp-PyRunner-runItemName")).to_have_text("cliproj")

    item.locator(".jp-PyRunner-runItem").click()
    run_view = panel.locator(".jp-PyRunner-runView")
    expect(run_view).to_have_attribute("data-run-id", run_id)
    expect(run_view.locator(".jp-PyRunner-log")).to_contain_text("from the command line")
    expect(item).to_have_class(re.compile(r"\bjp-mod-selected\b"))

    item.get_by_role("button", name="Delete run cliproj").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(run_id)
    dialog.get_by_role("button", name="Delete").click()
    expect(item).to_have_count(0)
    expect(run_view).to_have_count(0)  # it was on show: closed with it
    assert not (home / "runs" / run_id).exists()
    assert run_cli("show", run_id).returncode != 0
    panel.get_by_role("button", name="Refresh the runs").click()
    expect(history).to_contain_text("No runs yet")
    assert_clean(page)


def test_error_a_zip_without_python_shows_the_intake_message(lab, page: Page) -> None:
    panel = open_lab(page, lab)
    choose_zip(page, panel, zip_bytes({"readme.txt": "no program here\n"}), "nothing.zip")
    panel.locator(".jp-PyRunner-run").click()
    alert = panel.locator(".jp-PyRunner-error[role=alert]")
    expect(alert).to_contain_text("no Python file found in the project", timeout=15_000)
    expect(alert).to_contain_text("main.py")
    expect(panel.locator(".jp-PyRunner-runView")).to_have_count(0)
    expect(panel.locator(".jp-PyRunner-run")).to_be_enabled()
    alert.get_by_role("button", name="Dismiss the message").click()
    expect(alert).to_have_count(0)
    assert_clean(page, refused=400)


@pytest.mark.lab(args=["--PyRunnerApp.max_upload_size=1000"])
def test_error_an_upload_over_the_limit_says_so(lab, page: Page) -> None:
    panel = open_lab(page, lab)
    big = zip_bytes({"main.py": "print('hi')\n", "data.bin": os.urandom(5000)}, zipfile.ZIP_STORED)
    choose_zip(page, panel, big, "big.zip")
    panel.locator(".jp-PyRunner-run").click()
    alert = panel.locator(".jp-PyRunner-error[role=alert]")
    expect(alert).to_be_visible(timeout=15_000)
    text = alert.inner_text()
    assert re.search(r"larger|limit", text), text
    assert "unreachable" not in text, text
    expect(panel.locator(".jp-PyRunner-upload")).to_have_count(0)
    expect(panel.locator(".jp-PyRunner-runView")).to_have_count(0)
    expect(panel.locator(".jp-PyRunner-run")).to_be_enabled()
    assert_clean(page, refused=413)


@pytest.mark.network
def test_error_an_environment_that_cannot_be_built_shows_the_installer_message(
    lab, page: Page
) -> None:
    missing = "this-package-does-not-exist-pyrunner"
    panel = open_lab(page, lab)
    choose_zip(
        page,
        panel,
        zip_bytes({"main.py": "print('never')\n", "requirements.txt": f"{missing}==1.0\n"}),
    )
    panel.locator(".jp-PyRunner-run").click()
    run_view = panel.locator(".jp-PyRunner-runView")
    status = wait_end(run_view)
    assert status in ("error", "failed"), run_view.inner_text()
    message = run_view.locator(".jp-PyRunner-message")
    expect(message).to_be_visible()
    expect(message).to_have_class(re.compile(r"\bjp-mod-failed\b"))
    shown = message.inner_text() + "\n" + run_view.locator(".jp-PyRunner-details").inner_text()
    assert missing in shown, shown
    assert "not found in the package registry" in shown, shown  # the installer's own words
    expect(run_view.locator(".jp-PyRunner-log")).not_to_contain_text("never")
    assert_clean(page)


def test_copy_to_workspace_puts_the_outputs_in_the_lab_root(lab, page: Page) -> None:
    _panel, run_view = start_dropped(page, lab, zip_bytes({"main.py": lines_program(2, 0.01)}))
    assert wait_end(run_view) == "succeeded", run_view.inner_text()
    run_view.get_by_role("button", name="Copy to workspace").click()

    # the file browser is shown, in the folder of the copy
    listing = page.locator("#filebrowser .jp-DirListing-content")
    expect(listing).to_be_visible(timeout=10_000)
    expect(page.locator("#filebrowser .jp-BreadCrumbs")).to_contain_text("proj-outputs")
    for name in ("data.csv", "plot.png"):
        expect(listing.locator(".jp-DirListing-item", has_text=name)).to_have_count(1)

    copy = lab.root / "proj-outputs"
    assert (copy / "plot.png").read_bytes() == IMAGE
    assert (copy / "data.csv").read_text() == CSV
    # exactly what the tree listed: not the run's empty port folders (OUTPUT_1 … OUTPUT_4)
    assert sorted(p.name for p in copy.iterdir()) == ["data.csv", "plot.png"]

    show_side_panel(page, "jp-pyrunner-panel")
    expect(run_view.locator(".jp-PyRunner-copied")).to_contain_text(
        re.compile(r"Copied 2 files to\s*proj-outputs")
    )
    assert_clean(page)


def test_a_folder_chosen_with_the_button_is_zipped_in_the_page_and_runs(
    lab, page: Page, tmp_path: Path, home: Path
) -> None:
    folder = tmp_path / "desk" / "myproj"
    write_project(
        folder,
        {
            "main.py": "from helpers.text import greet\nprint(greet())\n",
            "helpers/__init__.py": "",
            "helpers/text.py": "def greet():\n    return 'hello from a chosen folder'\n",
        },
    )
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "junk.pyc").write_bytes(b"\0" * 1000)  # left out of the zip
    panel = open_lab(page, lab)
    panel.locator("input[aria-label='Project folder']").set_input_files(str(folder))
    expect(panel.locator(".jp-PyRunner-chosenName")).to_have_text("myproj.zip")
    panel.locator(".jp-PyRunner-run").click()
    run_view = panel.locator(".jp-PyRunner-runView")
    assert wait_end(run_view) == "succeeded", run_view.inner_text()
    assert "hello from a chosen folder" in log_lines(run_view)
    (run_dir,) = (p for p in (home / "runs").iterdir() if p.is_dir())
    placed = {p.relative_to(run_dir / "inputs" / "input_1").as_posix()
              for p in (run_dir / "inputs" / "input_1").rglob("*") if p.is_file()}  # fmt: skip
    assert not any(p.endswith("junk.pyc") for p in placed), placed
    assert any(p.endswith("helpers/text.py") for p in placed), placed
    assert_clean(page)


@pytest.mark.lab(settings={"jupyter-pyrunner:plugin": {"area": "right"}})
def test_a_folder_dragged_from_the_file_browser_becomes_the_project(lab, page: Page) -> None:
    write_project(lab.root / "dragproj", {"main.py": "print('dragged from the file browser')\n"})
    page.goto(lab.url("lab"))
    # the panel in the right side bar, so that both it and the file browser are in view
    page.locator('.jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id="jp-pyrunner-panel"]').wait_for(
        timeout=30_000
    )
    panel = open_runner_panel(page)
    show_side_panel(page, "filebrowser")
    item = page.locator("#filebrowser .jp-DirListing-item", has_text="dragproj")
    zone = panel.locator(".jp-PyRunner-dropzone")
    item.wait_for(timeout=10_000)
    start, end = item.bounding_box(), zone.bounding_box()
    assert start and end
    page.mouse.move(start["x"] + 20, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + 40, start["y"] + start["height"] / 2, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=20)
    expect(zone).to_have_class(re.compile(r"\bjp-mod-dropTarget\b"))  # highlighted under the drag
    page.mouse.up()

    expect(panel.locator(".jp-PyRunner-chosenName")).to_have_text("dragproj")
    expect(panel.locator(".jp-PyRunner-chosen .jp-PyRunner-muted")).to_have_text("in the workspace")
    assert (lab.root / "dragproj" / "main.py").exists()  # nothing was moved
    panel.locator(".jp-PyRunner-run").click()
    run_view = panel.locator(".jp-PyRunner-runView")
    assert wait_end(run_view) == "succeeded", run_view.inner_text()
    expect(run_view.locator(".jp-PyRunner-log")).to_contain_text("dragged from the file browser")
    assert_clean(page)


MEAN_LUMINANCE = """async b64 => {
    const image = new Image();
    image.src = 'data:image/png;base64,' + b64;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) {
        sum += 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2];
    }
    return sum / (data.length / 4);
}"""


def test_screenshots_of_the_panel_in_the_light_and_the_dark_theme(
    lab, page: Page, tmp_path: Path
) -> None:
    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    panel, run_view = start_dropped(page, lab, zip_bytes({"main.py": lines_program(6, 0.01)}))
    assert wait_end(run_view) == "succeeded", run_view.inner_text()
    run_view.locator(".jp-PyRunner-treeItem", has_text="plot.png").click()
    image = run_view.locator("img.jp-PyRunner-previewImage")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=10_000
    )
    image.scroll_into_view_if_needed()

    background = "el => getComputedStyle(el).backgroundColor"
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true")
    light_background = panel.evaluate(background)
    light = shots / "lab-panel-light.png"
    panel.screenshot(path=str(light))
    contrasts = {"light": readable_contrasts(panel)}

    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Dark$")).click()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false", timeout=20_000)
    # JupyterLab covers the page with its splash screen while it changes themes: wait it out
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=20_000)
    dark_background = panel.evaluate(background)
    assert dark_background != light_background, light_background
    expect(image).to_be_visible()  # the run on show is kept across the theme change
    dark = shots / "lab-panel-dark.png"
    panel.screenshot(path=str(dark))
    contrasts["dark"] = readable_contrasts(panel)

    luminance = {
        name: page.evaluate(MEAN_LUMINANCE, base64.b64encode(path.read_bytes()).decode())
        for name, path in (("light", light), ("dark", dark))
    }
    assert luminance["light"] > 170 and luminance["dark"] < 90, luminance

    # and readable: text against what is behind it, in both themes (3:1, WCAG's floor for UI)
    poor = {
        f"{theme}: {what}": round(ratio, 2)
        for theme, ratios in contrasts.items()
        for what, ratio in ratios.items()
        if ratio < 3
    }
    assert poor == {}, f"text hard to read (contrast ratio < 3): {poor}; all: {contrasts}"
    assert_clean(page)


CONTRAST = """el => {
    const parse = c => { const v = c.match(/[\\d.]+/g).map(Number); return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; };
    let back = [255, 255, 255, 0];
    for (let node = el; node; node = node.parentElement) {
        back = parse(getComputedStyle(node).backgroundColor);
        if (back[3] > 0) break;
    }
    const fore = parse(getComputedStyle(el).color);
    const text = [0, 1, 2].map(i => fore[i] * fore[3] + back[i] * (1 - fore[3]));
    const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const [high, low] = [luminance(text), luminance(back)].sort((a, b) => b - a);
    return (high + 0.05) / (low + 0.05);
}"""

#: text of the panel after a run, with an output selected: each must stay readable
READABLE = {
    "status badge": ".jp-PyRunner-runHeader .jp-PyRunner-badge",
    "run name": ".jp-PyRunner-runName",
    "log line": ".jp-PyRunner-logLine",
    "output name": ".jp-PyRunner-treeItem:not(.jp-mod-selected) .jp-PyRunner-treeName",
    "selected output name": ".jp-PyRunner-treeItem.jp-mod-selected .jp-PyRunner-treeName",
    "selected output size": ".jp-PyRunner-treeItem.jp-mod-selected .jp-PyRunner-treeSize",
    "Run button": ".jp-PyRunner-run",
}


def readable_contrasts(panel: Locator) -> dict[str, float]:
    return {what: panel.locator(css).first.evaluate(CONTRAST) for what, css in READABLE.items()}


def test_a_huge_log_is_shown_from_its_tail_and_downloads_whole(
    lab, page: Page, tmp_path: Path
) -> None:
    count = 40_000  # about 3 MB: more than the 2 MiB the panel asks for
    program = (
        "import sys\n"
        f"for i in range(1, {count} + 1):\n"
        "    sys.stdout.write(f'line {i} ' + 'x' * 70 + '\\n')\n"
    )
    panel, run_view = start_dropped(page, lab, zip_bytes({"main.py": program}))
    assert wait_end(run_view) == "succeeded", run_view.inner_text()
    wait_saved_in_workspace(tmp_path, run_view.get_attribute("data-run-id") or "?")
    page.reload()  # opened anew: the panel asks for the tail of the log only
    panel = open_runner_panel(page)
    run_view = panel.locator(".jp-PyRunner-runView")
    expect(run_view.locator(".jp-PyRunner-logLine").last).to_contain_text(f"line {count} ")
    notice = run_view.locator(".jp-PyRunner-logNotice")
    expect(notice).to_contain_text(re.compile(r"The first .* of the log are not shown here"))
    lines = log_lines(run_view)
    assert len(lines) <= 5000  # bounded in the page
    numbers = [int(line.split()[1]) for line in lines if line.startswith("line ")]
    assert numbers == list(range(numbers[0], count + 1))  # a contiguous tail, whole lines
    assert numbers[0] > 1

    href = run_view.get_by_role("link", name="Download full log").get_attribute("href")
    size = page.evaluate("async href => (await (await fetch(href)).text()).length", href)
    assert size >= count * 78  # every line, from the first
    assert_clean(page)


def test_an_upload_shows_bytes_and_speed_and_can_be_stopped(lab, page: Page) -> None:
    panel = open_lab(page, lab)
    # the browser's network throttled to 1 MB/s up: a 4 MB upload takes seconds to watch
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 1 << 20},
    )
    data = zip_bytes({"main.py": "print('ok')\n", "data.bin": os.urandom(4 << 20)})
    choose_zip(page, panel, data)
    panel.locator(".jp-PyRunner-run").click()
    upload = panel.locator(".jp-PyRunner-upload")
    figures = upload.locator(".jp-PyRunner-uploadFigures")
    # bytes sent of the total, and a speed, while it goes on
    expect(figures).to_contain_text(
        re.compile(r"[1-9][\d.]* (KB|MB) of 4\.0 MB · [1-9][\d.]* (KB|MB)/s"), timeout=10_000
    )
    progress = upload.locator("progress")
    first = float(progress.get_attribute("value") or 0)
    wait_until(
        lambda: float(progress.get_attribute("value") or 0) > first, 10, "the bar to move on"
    )
    upload.get_by_role("button", name="Stop").click()
    expect(panel.locator(".jp-PyRunner-error")).to_contain_text("was cancelled")
    expect(upload).to_have_count(0)
    expect(panel.locator(".jp-PyRunner-runView")).to_have_count(0)  # nothing was started
    expect(panel.locator(".jp-PyRunner-run")).to_be_enabled()
    assert_clean(page)


def test_the_panel_is_usable_from_the_keyboard(lab, page: Page) -> None:
    panel = open_lab(page, lab)
    choose_zip(page, panel, zip_bytes({"main.py": lines_program(2, 0.01, outputs=False)}))
    panel.get_by_role("button", name="Choose folder…").focus()
    for _ in range(10):  # Tab on to the Run button (past the options' summary)
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('jp-PyRunner-run')"):
            break
    else:
        raise AssertionError("Tab never reached the Run button")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    page.keyboard.press("Enter")
    run_view = panel.locator(".jp-PyRunner-runView")
    assert wait_end(run_view) == "succeeded", run_view.inner_text()
    assert outline != "none"  # focus is visible
    # the history entry opens with Enter too
    item = panel.locator(".jp-PyRunner-runList .jp-PyRunner-runItem").first
    run_view.get_by_role("button", name="Close this run").click()
    expect(run_view).to_have_count(0)
    item.focus()
    page.keyboard.press("Enter")
    expect(panel.locator(".jp-PyRunner-runView")).to_have_count(1)
    assert_clean(page)
