"""`buslane review` (start the app) and `buslane users add|link|list` (who may sign in, and which OS
account acts as whom on the command line)."""

from __future__ import annotations

import getpass
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from review_app.config import DB_ENV, DEFAULT_FOOTAGE, DEFAULT_SITES, EVIDENCE_ENV, FOOTAGE_ENV, SITES_ENV, USERS_ENV
from pipeline.users import users_path
from review_app.services.users import UsersFile

APP = Path(__file__).with_name("app.py")
UsersOption = Annotated[Optional[Path], typer.Option(
    "--users", help="users file (YAML, hashed passwords; default $BUSLANE_USERS or var/users.yaml)", show_default=False)]


class Role(str, Enum):
    officer = "officer"
    supervisor = "supervisor"


def review(
    db: Annotated[Path, typer.Option("--db", help="DuckDB database file")],
    port: Annotated[int, typer.Option(help="port to serve on")] = 8501,
    address: Annotated[str, typer.Option(
        help="address to listen on; the default serves this machine only (put a TLS reverse proxy in front "
             "to serve others, see review_app/README.md)")] = "127.0.0.1",
    users: UsersOption = None,
    evidence: Annotated[Optional[Path], typer.Option(help="evidence root (default $BUSLANE_EVIDENCE or var/evidence)")] = None,
    sites: Annotated[Path, typer.Option(help="folder of site files the Sites page edits")] = DEFAULT_SITES,
    footage: Annotated[Path, typer.Option(help="folder of footage the Sites page draws on and previews")] = DEFAULT_FOOTAGE,
) -> None:
    """Start the officers' review app (Streamlit) on DB; safe while a batch writes to it."""
    users = users_path(users)
    if not db.exists():
        typer.echo(f"{db}: no such database (process some footage first, e.g. `make demo`)", err=True)
        raise typer.Exit(2)
    if not UsersFile(users).users():
        typer.echo(f"warning: no users in {users}; add one with `buslane users add NAME --role supervisor`", err=True)
    env = os.environ | {DB_ENV: str(db.resolve()), USERS_ENV: str(users.resolve()), SITES_ENV: str(sites.resolve()),
                        FOOTAGE_ENV: str(footage.resolve())}
    if evidence is not None:
        from evidence.settings import RootMismatch, resolve_root
        from pipeline.store import Store

        try:  # the app shows the database's recorded root: a different one is said here, not ignored
            resolve_root(Store(db), evidence)
        except RootMismatch as e:
            typer.echo(f"different root: {e}", err=True)
            raise typer.Exit(2)
        env[EVIDENCE_ENV] = str(evidence.resolve())
    os.execve(sys.executable, streamlit_args(port, address), env)  # the app replaces this process: Ctrl-C stops it


def streamlit_args(port: int, address: str) -> list[str]:
    """The `streamlit run` command line. The tables' own CSV buttons are off: downloads go through the
    app's audited buttons only."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
            "--server.address", address, "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "minimal", "--client.disableDataExport", "true"]


users_app = typer.Typer(help="Officers and supervisors who may sign in to the review app.", no_args_is_help=True)


@users_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="sign-in name, e.g. jo.smith")],
    role: Annotated[Role, typer.Option("--role")],
    users: UsersOption = None,
    replace: Annotated[bool, typer.Option("--replace", help="reset an existing user's password and role")] = False,
    os_user: Annotated[Optional[str], typer.Option(
        "--os-user", help="the OS account whose commands act as this user", show_default=False)] = None,
) -> None:
    """Add a user; asks for the password twice (it is stored only as an Argon2 hash)."""
    users = users_path(users)
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = UsersFile(users).add(name, role.value, password, replace=replace, os_user=os_user)
    except ValueError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2)
    typer.echo(f"{user.name} ({user.role}) saved in {users}" + (f"; OS user {os_user} acts as them" if os_user else ""))


@users_app.command("link")
def link_os_user(
    name: Annotated[str, typer.Argument(help="an existing user")],
    os_user: Annotated[str, typer.Option("--os-user", help="the OS account (default: the one running this)")] = "",
    users: UsersOption = None,
) -> None:
    """Record the user's actions from the command line (whitelist, packs, evidence, retention) run by OS_USER."""
    os_user, users = os_user or getpass.getuser(), users_path(users)
    try:
        user = UsersFile(users).link_os_user(name, os_user)
    except ValueError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2)
    typer.echo(f"commands run by OS user {os_user} now act as {user.name} ({user.role}) in {users}")


@users_app.command("list")
def list_users(users: UsersOption = None) -> None:
    """List the users and their roles."""
    for user in UsersFile(users).users():
        typer.echo(f"{user.name}\t{user.role}")


def register(app: typer.Typer) -> None:
    app.command("review")(review)
    app.add_typer(users_app, name="users")
