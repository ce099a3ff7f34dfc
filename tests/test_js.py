"""The browser front-end: its node unit tests, and that the committed bundle is up to date."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
BUNDLE = ("widget.js", "page.js", "widget.css")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_js_unit_tests():
    proc = subprocess.run(
        [NODE, "--test", "js/test/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-4000:]
    assert "# fail 0" in proc.stdout


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.skipif(
    not (ROOT / "node_modules" / "esbuild").is_dir(),
    reason="esbuild is not installed (run `npm ci`)",
)
def test_committed_bundle_is_up_to_date(tmp_path):
    proc = subprocess.run(
        [NODE, "js/build.mjs", "--outdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    stale = [
        name
        for name in BUNDLE
        if (tmp_path / name).read_bytes() != (ROOT / "segwidget" / "static" / name).read_bytes()
    ]
    assert not stale, f"segwidget/static/{stale} differ from a fresh build: run `npm run build`"


def test_page_loads_the_bundle_with_relative_urls():
    html = (ROOT / "segwidget" / "static" / "index.html").read_text()
    assert '<script type="module" src="static/page.js">' in html
    assert 'href="static/widget.css"' in html
    for name in BUNDLE:
        assert (ROOT / "segwidget" / "static" / name).is_file()
