"""The Lab panel shows, previews and downloads the files a program wrote beside its code, in a
section of their own below OUTPUT_FOLDER's files (a real `jupyter lab`, Chromium, a real run)."""

from __future__ import annotations

import io
import textwrap
import zipfile

from playwright.sync_api import Page, expect

from .test_lab_extension import CSV, IMAGE, assert_clean, start_dropped, wait_end, zip_bytes

#: a script as most are written: its results go where it runs, one file into OUTPUT_FOLDER
BESIDE_PROGRAM = textwrap.dedent(f"""
    import os, pathlib
    pathlib.Path("plot.png").write_bytes(bytes.fromhex("{IMAGE.hex()}"))
    pathlib.Path("results").mkdir()
    pathlib.Path("results", "data.csv").write_text({CSV!r})
    pathlib.Path(os.environ["OUTPUT_FOLDER"], "output_1", "port.txt").write_text("port")
    print("done")
""")


def test_files_written_beside_the_code_are_shown_previewed_and_downloaded(lab, page: Page) -> None:
    _panel, run_view = start_dropped(page, lab, zip_bytes({"main.py": BESIDE_PROGRAM}))
    assert wait_end(run_view) == "succeeded", run_view.inner_text()

    outputs = run_view.get_by_role("list", name="Output files")
    expect(outputs.locator(".jp-PyRunner-treeName")).to_have_text(["output_1"])
    section = run_view.locator(".jp-PyRunner-projectFiles")
    expect(section.locator("h4")).to_contain_text("Written beside the code (in the project folder)")
    expect(section.locator("h4")).to_contain_text("2 files")
    beside = section.get_by_role("list", name="Files written beside the code")
    expect(beside.locator(".jp-PyRunner-treeName")).to_have_text(["results", "plot.png"])

    beside.locator(".jp-PyRunner-treeItem", has_text="plot.png").click()
    image = section.locator("img.jp-PyRunner-previewImage")
    image.wait_for(timeout=10_000)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=10_000
    )
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [48, 32]

    beside.locator(".jp-PyRunner-treeItem", has_text="results").click()
    beside.locator(".jp-PyRunner-treeItem", has_text="data.csv").click()
    expect(section.locator(".jp-PyRunner-table tbody td")).to_have_text(["1", "2", "3", "4"])

    link = beside.get_by_role("link", name="Download plot.png").get_attribute("href")
    assert link is not None and "section=project" in link
    assert page.request.get(link).body() == IMAGE

    zipped = run_view.get_by_role("link", name="Download all (.zip)").get_attribute("href")
    assert zipped is not None
    with zipfile.ZipFile(io.BytesIO(page.request.get(zipped).body())) as zf:
        assert sorted(zf.namelist()) == [
            "output_1/port.txt",
            "project/plot.png",
            "project/results/data.csv",
        ]
    assert_clean(page)
