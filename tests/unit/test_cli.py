"""The command line's wiring: every command is found where the table says, and a command imports only its own
module (the start-up time a scan does not spend on the watcher's or the database commands' modules)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from pgaudit_monitor.entrypoints.cli import COMMANDS, MODULES, build_parser


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(action.choices)


def test_the_table_names_every_command_and_its_module() -> None:
    assert _commands(build_parser()) == set(COMMANDS)
    for command, module in COMMANDS.items():
        assert module in MODULES
        assert command in _commands(build_parser(command))  # its module defines it


@pytest.mark.parametrize("command", ["scan", "watch", "doctor"])
def test_a_command_imports_its_own_module_only(command: str) -> None:
    probe = (
        "import sys; from pgaudit_monitor.entrypoints.cli import build_parser; "
        f"build_parser({command!r}); "
        "print(sorted(m for m in sys.modules if m.startswith('pgaudit_monitor.entrypoints.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    others = {m for m in MODULES if m != COMMANDS[command]}
    assert f"pgaudit_monitor.entrypoints.{COMMANDS[command]}" in loaded
    assert not any(f"'pgaudit_monitor.entrypoints.{m}'" in loaded for m in others)


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pgaudit_monitor.entrypoints.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert all(command in out for command in COMMANDS)


@pytest.mark.parametrize(
    ("command", "takes"),
    [("scan", True), ("watch", True), ("doctor", True), ("coverage", True), ("triage", True),
     ("probe", False), ("enable-user", False), ("disable-user", False)],
)  # fmt: skip
def test_only_commands_that_apply_the_policy_take_its_options(command: str, takes: bool) -> None:
    # an option a command would accept and ignore (a service-account list for enable-user) misleads its user
    subcommands = next(a for a in build_parser(command)._actions if isinstance(a, argparse._SubParsersAction))
    options = {o for action in subcommands.choices[command]._actions for o in action.option_strings}
    assert ("--service-accounts" in options) is takes
    assert ("--config" in options) is takes
