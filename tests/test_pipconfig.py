"""pip's index settings reach uv: real runs against a private index served on loopback, and
the precedence rules read from real pip.conf files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_pyrunner import RunStatus, run_project
from jupyter_pyrunner.environments import EnvironmentManager, EnvSpec, Interpreter
from jupyter_pyrunner.pipconfig import (
    carry_over,
    index_key,
    index_summary,
    mask_credentials,
    pip_settings,
)

from .conftest import program_output
from .pipindex import PROBE_MODULE, PROBE_NAME, build_wheel, lay_out_index, serve

pytestmark = pytest.mark.network

PROBE_MAIN = f"import {PROBE_MODULE}\nprint({PROBE_MODULE}.WHERE)\n"


@pytest.fixture(scope="module")
def private_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """A PEP 503 index on 127.0.0.1 holding only ``pyrunner-private-probe`` 1.0."""
    root = tmp_path_factory.mktemp("private-index")
    wheel = build_wheel(tmp_path_factory.mktemp("wheels"))
    with serve(lay_out_index(root, [wheel])) as (url, requests):
        yield f"{url}/simple", requests


@pytest.fixture(scope="module")
def empty_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An index on 127.0.0.1 that holds nothing."""
    with serve(lay_out_index(tmp_path_factory.mktemp("empty-index"), [])) as (url, _requests):
        yield f"{url}/simple"


@pytest.fixture
def no_uv_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither uv's index variables nor a uv.toml of the user's; the run starts in an empty
    folder, so no project configuration of uv's is found either."""
    for name in ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_EXTRA_INDEX_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("UV_FIND_LINKS", raising=False)
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)


def _probe_project(project) -> Path:  # type: ignore[no-untyped-def]
    return project({"main.py": PROBE_MAIN, "requirements.txt": f"{PROBE_NAME}\n"})


# -- real runs -------------------------------------------------------------------------------
def test_a_run_installs_from_the_index_named_by_pip_index_url(
    home: Path, project, private_index, no_uv_index, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, requests = private_index
    monkeypatch.setenv("PIP_INDEX_URL", url)
    handle = run_project(_probe_project(project))
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "private index\n"
    assert any(PROBE_NAME in path for path in requests)
    # the build says where from, and an environment from another index is another environment
    assert f"pyrunner: building the environment from index {url}" in handle.log_text()
    monkeypatch.setenv("PIP_INDEX_URL", url + "?other")
    again = run_project(_probe_project(project))
    assert again.status is RunStatus.SUCCEEDED and again.record.env_key != handle.record.env_key


def test_a_run_installs_from_the_index_of_a_pip_conf_given_by_pip_config_file(
    home: Path, project, private_index, no_uv_index, tmp_path: Path, monkeypatch
) -> None:
    url, _requests = private_index
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\ntimeout = 60\n\n[install]\nindex-url = {url}\n")
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    handle = run_project(_probe_project(project))
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "private index\n"


def test_uv_index_url_wins_over_pip_index_url(
    home: Path, project, private_index, empty_index, no_uv_index, monkeypatch
) -> None:
    url, _requests = private_index
    monkeypatch.setenv("PIP_INDEX_URL", empty_index)
    monkeypatch.setenv("UV_INDEX_URL", url)
    handle = run_project(_probe_project(project))
    assert handle.status is RunStatus.SUCCEEDED, handle.log_text()
    assert program_output(handle) == "private index\n"


def test_the_pip_fallback_reads_pip_index_url_itself(
    home: Path, private_index, no_uv_index, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _requests = private_index
    monkeypatch.setenv("PIP_INDEX_URL", url)
    manager = EnvironmentManager(home, use_uv=False, compile_bytecode=False)
    env, built = manager.ensure(EnvSpec((PROBE_NAME,), Interpreter.current()))
    assert built and env.meta["installer"] == "pip"
    out = subprocess.run(
        [env.python, "-c", PROBE_MAIN], capture_output=True, text=True, check=True
    ).stdout
    assert out == "private index\n"


# -- the precedence, read from real files -----------------------------------------------------
def _environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment whose user and XDG folders are under ``tmp_path``."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CONFIG_DIRS": str(tmp_path / "xdg"),
        **extra,
    }


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_pip_files_are_read_in_pips_order_and_its_variables_win(tmp_path: Path) -> None:
    env = _environ(tmp_path)
    prefix = tmp_path / "venv"
    _write(tmp_path / "xdg/pip/pip.conf", "[global]\nindex-url = http://system/\n")
    _write(tmp_path / "home/.pip/pip.conf", "[global]\nfind-links = /legacy\n")
    _write(
        tmp_path / "home/.config/pip/pip.conf",
        "[global]\nindex-url = http://user/\nfind-links = /user\n",
    )
    _write(prefix / "pip.conf", "[install]\ntrusted_host = site.example\n")
    found = pip_settings(env, str(prefix))
    assert found["index-url"] == "http://user/" and found["find-links"] == "/user"
    assert found["trusted-host"] == "site.example"
    env["PIP_INDEX_URL"] = "http://variable/"
    assert pip_settings(env, str(prefix))["index-url"] == "http://variable/"


def test_pip_config_file_skips_the_users_files_and_devnull_skips_all(tmp_path: Path) -> None:
    _write(tmp_path / "home/.config/pip/pip.conf", "[global]\nextra-index-url = http://user/\n")
    _write(tmp_path / "xdg/pip/pip.conf", "[global]\nconstraint = /c.txt\n")
    given = _write(tmp_path / "given.conf", "[install]\nindex-url = http://given/\n")
    found = pip_settings(_environ(tmp_path, PIP_CONFIG_FILE=str(given)), str(tmp_path))
    assert found["index-url"] == "http://given/" and "extra-index-url" not in found
    assert found["constraint"] == "/c.txt"
    assert pip_settings(_environ(tmp_path, PIP_CONFIG_FILE=os.devnull), str(tmp_path)) == {}


def test_pip_conf_is_read_again_when_it_changes_and_not_when_it_does_not(tmp_path: Path) -> None:
    """The parsed files are kept for the next run; an edited file is parsed again."""
    env = _environ(tmp_path)
    conf = _write(tmp_path / "home/.config/pip/pip.conf", "[global]\nindex-url = http://a/\n")
    cache = tmp_path / "cache.json"
    assert pip_settings(env, str(tmp_path), cache=cache)["index-url"] == "http://a/"
    assert cache.stat().st_mode & 0o777 == 0o600  # it may hold an index's credentials
    _write(conf, "[global]\nindex-url = http://b/\n")  # same size, new times
    assert pip_settings(env, str(tmp_path), cache=cache)["index-url"] == "http://b/"
    conf.unlink()
    assert "index-url" not in pip_settings(env, str(tmp_path), cache=cache)
    # unchanged files are not parsed again: a fresh process answers without configparser;
    # a file changed just now is not kept yet (it could change again with the same times)
    _write(conf, "[install]\nfind-links = /wheels\n")
    expected = pip_settings(env, str(tmp_path), cache=cache)
    assert expected["find-links"] == "/wheels"
    assert _fresh_process_settings(env, tmp_path, cache) == [expected, True]
    time.sleep(2.1)
    assert pip_settings(env, str(tmp_path), cache=cache) == expected
    assert _fresh_process_settings(env, tmp_path, cache) == [expected, False]


def _fresh_process_settings(env: dict[str, str], prefix: Path, cache: Path) -> list[object]:
    """[pip's settings, whether configparser was imported] as a new process finds them."""
    probe = (
        "import json, sys; from jupyter_pyrunner.pipconfig import pip_settings; "
        "found = pip_settings(json.loads(sys.argv[1]), sys.argv[2], cache=__import__('pathlib')"
        ".Path(sys.argv[3])); print(json.dumps([found, 'configparser' in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(env), str(prefix), str(cache)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_pip_settings_become_uv_variables_unless_uv_has_its_own(tmp_path: Path) -> None:
    env = _environ(
        tmp_path,
        PIP_CONFIG_FILE=os.devnull,
        PIP_INDEX_URL="http://mirror/simple",
        PIP_EXTRA_INDEX_URL="http://a/simple  http://b/simple",
        PIP_FIND_LINKS=f"{tmp_path} /missing http://links.example/",
        PIP_TRUSTED_HOST="a b:8080",
        PIP_CERT="/ca.pem",
        PIP_CONSTRAINT="/c.txt",
    )
    assert carry_over(env, cwd=tmp_path, prefix=str(tmp_path)) == {
        "UV_INDEX_URL": "http://mirror/simple",
        "UV_EXTRA_INDEX_URL": "http://a/simple http://b/simple",
        "UV_FIND_LINKS": f"{tmp_path},http://links.example/",
        "UV_INSECURE_HOST": "a b:8080",
        "SSL_CERT_FILE": "/ca.pem",
        "UV_CONSTRAINT": "/c.txt",
    }
    # any index of uv's own keeps the whole index group of pip's out
    mine = carry_over({**env, "UV_DEFAULT_INDEX": "http://uv/"}, cwd=tmp_path, prefix="/x")
    assert not {"UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS"} & set(mine)
    assert mine["UV_CONSTRAINT"] == "/c.txt"
    kept = carry_over({**env, "SSL_CERT_FILE": "/mine.pem"}, cwd=tmp_path, prefix="/x")
    assert "SSL_CERT_FILE" not in kept


def test_an_index_in_a_uv_toml_keeps_pips_index_out(tmp_path: Path) -> None:
    env = _environ(tmp_path, PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL="http://pip/")
    project = tmp_path / "project" / "sub"
    project.mkdir(parents=True)
    _write(tmp_path / "project/pyproject.toml", '[tool.uv]\nindex-url = "http://uv/"\n')
    assert "UV_INDEX_URL" not in carry_over(env, cwd=project, prefix="/x")
    _write(tmp_path / "home/.config/uv/uv.toml", "[[index]]\nurl = 'http://uv/'\ndefault = true\n")
    assert "UV_INDEX_URL" not in carry_over(env, cwd=tmp_path, prefix="/x")
    assert carry_over({**env, "UV_NO_CONFIG": "1"}, cwd=project, prefix="/x") == {
        "UV_INDEX_URL": "http://pip/"
    }


def test_the_index_key_changes_with_the_index_and_the_constraints(tmp_path: Path) -> None:
    cwd = tmp_path
    assert index_key({"UV_NO_CONFIG": "1"}, cwd=cwd) == ""
    a = index_key({"UV_NO_CONFIG": "1", "UV_INDEX_URL": "http://a/"}, cwd=cwd)
    b = index_key({"UV_NO_CONFIG": "1", "UV_INDEX_URL": "http://b/"}, cwd=cwd)
    assert a and b and a != b
    constraints = _write(tmp_path / "c.txt", "six<2\n")
    first = index_key({"UV_NO_CONFIG": "1", "UV_CONSTRAINT": str(constraints)}, cwd=cwd)
    constraints.write_text("six<1.16\n")
    assert index_key({"UV_NO_CONFIG": "1", "UV_CONSTRAINT": str(constraints)}, cwd=cwd) != first


def test_the_build_message_names_the_index_without_credentials() -> None:
    summary = index_summary(
        {
            "UV_INDEX_URL": "https://alice:s3cret@pypi.corp.example/simple",
            "UV_EXTRA_INDEX_URL": "https://token@extra.example/simple",
            "UV_FIND_LINKS": "/wheels",
        }
    )
    assert summary is not None
    assert "s3cret" not in summary and "alice" not in summary and "token" not in summary
    assert "https://***@pypi.corp.example/simple" in summary and "/wheels" in summary
    assert index_summary({}) is None
    assert mask_credentials("see http://u:p@h/x") == "see http://***@h/x"
