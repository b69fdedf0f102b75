"""The command line and the magic take a run's options from one definition."""

from __future__ import annotations

import argparse

import pytest

from jupyter_pyrunner.cli import _parser
from jupyter_pyrunner.errors import InvalidRunSpecError
from jupyter_pyrunner.notebook.magics import _run_parser
from jupyter_pyrunner.runoptions import (
    add_run_options,
    spec_from_options,
    split_program_args,
)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


def test_the_cli_and_the_magic_offer_every_run_option() -> None:
    shared = argparse.ArgumentParser()
    add_run_options(shared)
    run_option_strings = _options(shared) - {"-h", "--help"}
    cli = _parser("run")
    run = next(a for a in cli._actions if isinstance(a, argparse._SubParsersAction)).choices["run"]
    assert run_option_strings <= _options(run)
    assert run_option_strings <= _options(_run_parser())
    assert run_option_strings <= _options(_run_parser(cell=True))


def test_parsed_options_become_the_same_spec_in_both_faces() -> None:
    words = ["p.zip", "--input", "a.csv", "--timeout", "2.5", "--memory", "64", "--no-infer",
             "--entry", "src/m.py", "--output-dir", "out", "--python", "python3.11"]  # fmt: skip
    ours, program = split_program_args([*words, "--", "--fast", "--", "x"])
    assert program == ["--fast", "--", "x"]
    cli = _parser("run").parse_args(["run", *ours])
    magic = _run_parser().parse_args(ours)
    a = spec_from_options(cli.source, cli, program)
    b = spec_from_options(magic.source, magic, program)
    assert a == b
    assert (a.timeout, a.memory_mb, a.infer_requirements, a.inputs) == (2.5, 64, False, ["a.csv"])
    assert a.validate() is a


def test_ranges_are_left_to_the_engine_and_only_numbers_are_parsed() -> None:
    ns = _run_parser().parse_args(["p.zip", "--timeout", "-5", "--memory", "-1"])
    assert (ns.timeout, ns.memory) == (-5.0, -1)  # RunSpec.validate refuses them, with its words


def test_words_without_a_double_dash_are_all_pyrunners() -> None:
    assert split_program_args(["run", "p"]) == (["run", "p"], [])
    assert split_program_args(("--",)) == ([], [])


def test_the_layout_is_a_run_option_of_both_faces_and_checked_by_the_engine() -> None:
    cli = _parser("run").parse_args(["run", "p.zip", "--layout", "flat"])
    magic = _run_parser().parse_args(["p.zip", "--layout", "flat"])
    assert spec_from_options(cli.source, cli, []).layout == "flat"
    assert spec_from_options(magic.source, magic, []).layout == "flat"
    default = _run_parser().parse_args(["p.zip"])
    assert spec_from_options(default.source, default, []).layout == "ports"
    odd = _run_parser().parse_args(["p.zip", "--layout", "tree"])
    with pytest.raises(InvalidRunSpecError, match="must be 'ports' or 'flat', not 'tree'"):
        spec_from_options(odd.source, odd, []).validate()


def test_cpus_and_resources_are_run_options_of_both_faces() -> None:
    words = ["p.zip", "--cpus", "2", "--resource", "GPU=1", "--resource", " licence = 0.5 "]
    for ns in (_parser("run").parse_args(["run", *words]), _run_parser().parse_args(words)):
        spec = spec_from_options(ns.source, ns, []).validate()
        assert (spec.cpus, spec.resources) == (2.0, {"GPU": 1.0, "licence": 0.5})


@pytest.mark.parametrize(
    ("given", "message"),
    [("GPU", "give NAME=AMOUNT, such as GPU=1, not 'GPU'"), ("=1", "give NAME=AMOUNT"),
     ("GPU=lots", "'lots' is not a number")],
)  # fmt: skip
def test_a_resource_without_a_name_or_amount_is_refused_by_the_parser(
    given: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        _parser("run").parse_args(["run", "p.zip", "--resource", given])
    assert message in capsys.readouterr().err
