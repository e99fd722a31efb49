"""The documentation's examples, run against the bundled sandbox the way a reader runs them.

Convention (``README.md`` and ``docs/**/*.md``): a fenced ``sh`` or ``python`` block directly
after a ``<!-- test: … -->`` comment is an example this file runs. The comment holds
``key=value`` words (shell quoting) saying what must happen:

* ``exit=N``       the exit code (default 0);
* ``stdout=TEXT``  text stdout contains; ``stderr=TEXT`` the same for stderr (repeatable;
  ``$HOST`` and ``$APP`` are expanded). Every example names at least one;
* ``state=user``   (default) the sandbox's demo user is signed in with ``sql files.files``;
  ``state=none``   nothing is stored.

Each example gets a fresh sandbox, a fresh file store and a fresh working directory, and runs
with ``bash -e`` (``sh``) or the test's Python (``python``). Its environment, which the pages
describe to the reader as "your" values:

* ``HOST`` the sandbox workspace, ``APP`` its sample Databricks App (``/api/hello`` needs
  ``sql``, ``/api/files`` ``files.files``, ``/api/genie`` ``dashboards.genie``); in ``python``
  blocks the text ``$HOST`` / ``$APP`` is replaced by them;
* ``SP_ID`` / ``SP_SECRET`` the sandbox's service principal; ``IDP_TOKEN`` (and the file
  ``./idp-token.jwt``) a token of an identity provider the sandbox's federation policy trusts;
* ``BROWSER`` a scripted user who signs in on the consent page and clicks Allow;
* ``HOME`` an empty directory (so ``~/.databrickscfg`` is the example's own).

One liberty: the sandbox registers a free loopback port for ``databricks-cli`` instead of 8020
(another test run may hold 8020), so the ``scopedauth`` on the examples' PATH adds ``--port N``
to a ``login`` that names neither ``--port`` nor ``--redirect-uri``. Nothing else is changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from scopedauth.sandbox import Sandbox
from tests.clitools import base_env, file_records
from tests.users import pasted_login

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.rglob("*.md")])
_MARKED = re.compile(
    r"<!--\s*test(?::(?P<attrs>[^\n]*?))?\s*-->\s*\n```(?P<lang>[a-z]*)\n(?P<code>.*?)^```", re.M | re.S
)
_MARKER = re.compile(r"<!--\s*test\b")
#: the README's first code block, kept as it was when the README became a front door
SETUP_COMMANDS = """\
python -m pip install . && python -m scopedauth demo      # the whole story against the bundled sandbox workspace
bash scripts/test.sh                                      # installs test deps + a private keyring, runs the suite
"""


@dataclass
class Example:
    page: Path
    line: int
    lang: str
    code: str
    exit: int = 0
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    state: str = "user"

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def parse(page: Path) -> list[Example]:
    """The marked examples of one page; a marker that is not followed by a block, or an
    unknown attribute, is an error (a typo must not silently drop an example)."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _MARKED.finditer(text):
        line = text.count("\n", 0, match.start("code")) + 1
        ex = Example(page, line, match["lang"], match["code"])
        for word in shlex.split(match["attrs"] or ""):
            key, _, value = word.partition("=")
            if key == "exit":
                ex.exit = int(value)
            elif key in ("stdout", "stderr"):
                getattr(ex, key).append(value)
            elif key == "state" and value in ("user", "none"):
                ex.state = value
            else:
                raise ValueError(f"{ex.name}: unknown test attribute {word!r}")
        if ex.lang not in ("sh", "python"):
            raise ValueError(f"{ex.name}: only sh and python blocks can be tested, not {ex.lang!r}")
        if not ex.stdout and not ex.stderr:
            raise ValueError(f"{ex.name}: say what the output holds (stdout=… or stderr=…)")
        found.append(ex)
    if len(found) != len(_MARKER.findall(text)):
        raise ValueError(f"{page}: a <!-- test --> marker is not directly followed by a fenced block")
    return found


EXAMPLES = [ex for page in PAGES for ex in parse(page)]

WRAPPER = '''#!{python}
"""scopedauth, with --port {port} added to a login that names no port (see tests/test_docs.py)."""
import sys
args = sys.argv[1:]
if "login" in args and not any(a.split("=")[0] in ("--port", "--redirect-uri") for a in args):
    at = args.index("login") + 1
    sys.argv[1:] = [*args[:at], "--port", "{port}", *args[at:]]
from scopedauth.cli.entry import main
main()
'''


def _environment(tmp_path: Path, sb: Sandbox, port: int, browser_script: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "scopedauth"
    wrapper.write_text(WRAPPER.format(python=sys.executable, port=port))
    wrapper.chmod(0o755)
    (tmp_path / "home").mkdir()
    env = base_env(
        HOST=sb.url,
        APP=sb.app_url,
        SP_ID="sp-client",
        SP_SECRET=next(iter(sb.config.confidential_clients.values())),
        IDP_TOKEN=sb.make_subject_token(),
        BROWSER=browser_script,
        HOME=str(tmp_path / "home"),
        PATH=f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    env.pop("DATABRICKS_CONFIG_FILE", None)  # ~/.databrickscfg, in the example's own HOME
    return env


def _secrets(tmp_path: Path) -> set[str]:
    """Every access and refresh token the file store holds now."""
    found: set[str] = set()
    for key, raw in file_records(tmp_path).items():
        if key.startswith(".") or "#" in key:
            continue
        record = json.loads(raw)
        found.update(v for v in (record.get("access_token"), record.get("refresh_token")) if v)
    return found


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run an example in its own session, and end whatever it left running in the background."""
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:  # its with closes the pipes, also when communicate timed out
        try:
            out, err = proc.communicate(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@pytest.mark.parametrize("example", EXAMPLES, ids=[ex.name for ex in EXAMPLES])
def test_example(example: Example, sandbox: Sandbox, listener_port: int, browser_script: str, tmp_path: Path) -> None:
    env = _environment(tmp_path, sandbox, listener_port, browser_script)
    work = tmp_path / "work"
    work.mkdir()
    (work / "idp-token.jwt").write_text(env["IDP_TOKEN"] + "\n")
    if example.state == "user":
        pasted_login(sandbox, listener_port, "file", scopes="sql files.files")
    before = _secrets(tmp_path)
    if example.lang == "sh":
        argv = ["bash", "-e", "-c", example.code]
    else:
        script = work / "example.py"
        script.write_text(example.code.replace("$HOST", sandbox.url).replace("$APP", sandbox.app_url))
        argv = [sys.executable, str(script)]
    res = _run(argv, work, env)
    shown = f"{example.name}\n--- code\n{example.code}--- stdout\n{res.stdout}--- stderr\n{res.stderr}"
    assert res.returncode == example.exit, shown
    for stream, wanted in (("stdout", example.stdout), ("stderr", example.stderr)):
        for raw in wanted:
            text = raw.replace("$HOST", sandbox.url).replace("$APP", sandbox.app_url)
            assert text in getattr(res, stream), f"{stream} lacks {text!r}\n{shown}"
    for secret in before | _secrets(tmp_path):
        assert secret not in res.stderr, f"a token reached stderr\n{shown}"


# -- the pages themselves ------------------------------------------------------------------------


def _commands() -> dict[str, click.Command]:
    from scopedauth.cli.main import main

    return dict(main.commands)


def test_every_command_page_and_python_page_has_a_tested_example() -> None:
    tested = {ex.page for ex in EXAMPLES}
    pages = [DOCS / "commands" / f"{name}.md" for name in _commands()]
    pages += sorted((DOCS / "python").glob("*.md"))
    missing = [str(p.relative_to(ROOT)) for p in pages if p not in tested]
    assert not missing, f"pages without a <!-- test --> example: {missing}"


def test_every_option_of_every_command_is_on_its_page() -> None:
    """A new option fails here until its command's page documents it."""
    from scopedauth.cli.main import main

    overview = (DOCS / "commands" / "index.md").read_text(encoding="utf-8")
    for param in main.params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert f"`{opt}" in overview, f"group option {opt} is not in docs/commands/index.md"
    for name, command in _commands().items():
        page = (DOCS / "commands" / f"{name}.md").read_text(encoding="utf-8")
        for param in command.params:
            for opt in [*param.opts, *param.secondary_opts]:
                if isinstance(param, click.Option) and opt.startswith("--") and opt != "--help":
                    assert f"`{opt}" in page, f"{opt} of `scopedauth {name}` is not in docs/commands/{name}.md"


def test_readme_starts_with_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = re.search(r"```[a-z]*\n(.*?)```", readme, re.S)
    assert first is not None and first.group(1) == SETUP_COMMANDS


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md", "CHANGELOG.md"])
def test_relative_links_outside_docs_resolve(name: str) -> None:
    """mkdocs --strict checks links between pages; these files are outside its reach."""
    text = (ROOT / name).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    broken = [
        link
        for link in links
        if "://" not in link and not link.startswith(("#", "mailto:")) and not (ROOT / link.split("#")[0]).exists()
    ]
    assert links and not broken, f"{name}: broken links {broken}"
