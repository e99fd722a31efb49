"""The wheel, installed (not editable) in a fresh venv, ships the templates and renders the pages."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECK = r"""
import sys, threading, urllib.request
import scopedauth
from scopedauth.oauth.listener import Listener, templates_dir
assert sys.prefix in scopedauth.__file__, scopedauth.__file__
assert str(templates_dir()).startswith(sys.prefix), templates_dir()
lst = Listener(redirect_uri="http://localhost:0", state="s" * 43, port=0)
pages = []
def browse():
    pages.append(urllib.request.urlopen(f"http://127.0.0.1:{lst.port}/?code=c&state={'s' * 43}", timeout=10).read())
t = threading.Thread(target=browse); t.start()
lst.wait(10)
lst.complete(True, host="https://h", store="memory", scopes=["sql", "files.files"], missing=[])
t.join(10); lst.close()
page = pages[0].decode()
assert "Signed in" in page and "files.files" in page, page
print("RENDERED", scopedauth.__version__)
"""


@pytest.mark.slow
def test_wheel_in_fresh_venv_renders_pages(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(dist.glob("scopedauth-*.whl"))
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "scopedauth/templates/success.html" in names and "scopedauth/templates/error.html" in names
    assert "scopedauth/py.typed" in names
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    res = subprocess.run([str(py), "-c", CHECK], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("RENDERED")
    assert (env_dir / "bin" / "scopedauth").exists()
    version = subprocess.run(
        [str(env_dir / "bin" / "scopedauth"), "--version"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert version.returncode == 0 and "0.1.0" in version.stdout
