"""One rule finds the users file everywhere: `--users` if given, else $BUSLANE_USERS, else var/users.yaml."""

from __future__ import annotations

import getpass
from pathlib import Path

from pipeline.users import DEFAULT_PATH, USERS_ENV, User, UsersFile, cli_user, users_path


def test_the_option_wins_then_the_environment_then_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv(USERS_ENV, str(tmp_path / "council.yaml"))
    assert users_path(tmp_path / "given.yaml") == tmp_path / "given.yaml"
    assert users_path() == tmp_path / "council.yaml"
    monkeypatch.delenv(USERS_ENV)
    assert users_path() == DEFAULT_PATH == Path("var/users.yaml")


def test_a_users_file_named_by_nobody_is_the_environments(tmp_path, monkeypatch):
    """`UsersFile()` and `cli_user()` read the file $BUSLANE_USERS names, from any directory."""
    council = tmp_path / "council.yaml"
    UsersFile(council).add("jo", "officer", "jo-password", os_user=getpass.getuser())
    monkeypatch.setenv(USERS_ENV, str(council))
    monkeypatch.chdir(tmp_path)  # no var/users.yaml here
    assert UsersFile().path == council and UsersFile().users() == [User("jo", "officer")]
    assert cli_user() == User("jo", "officer")


def test_the_users_commands_follow_the_environment(tmp_path, monkeypatch):
    """`buslane users list|link|add` without --users use $BUSLANE_USERS, as every other command does."""
    from tests.conftest import buslane

    council = tmp_path / "council.yaml"
    UsersFile(council).add("jo", "officer", "jo-password")
    monkeypatch.setenv(USERS_ENV, str(council))
    monkeypatch.chdir(tmp_path)  # no var/users.yaml here
    assert buslane("users", "list").stdout == "jo\tofficer\n"
    assert f"in {council}" in buslane("users", "link", "jo", "--os-user", "jsmith").stdout
    assert UsersFile(council).for_os_user("jsmith") == User("jo", "officer")
    assert not (tmp_path / "var").exists()
