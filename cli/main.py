"""The `docs-ingest` command.

Each subcommand lives in its own module and is imported only when it runs, so that a quick
command (`search`, `token create`) does not pay for loading the service, the engine and the
embedding model.
"""

import importlib
import logging

import click
from pydantic import ValidationError

from service import logs
from service.settings import Settings, get_settings

# Name → "module:attribute", in the order `--help` lists them.
COMMANDS = {
    "serve": "cli.serve:serve",
    "repo": "cli.repo:repo",
    "push": "cli.push:push",
    "sync": "cli.sync:sync",
    "search": "cli.search:search",
    "token": "cli.token:token",
    "engine": "engine.cli:engine_command",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(name for name in super().list_commands(ctx) if name not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.pass_context
def main(ctx: click.Context) -> None:
    """docs-ingest keeps a vector index of your documentation in step with every push.

    \b
    Start:   docs-ingest serve                 (the service, and the embedded engine)
    Connect: docs-ingest repo add PATH         (a local git repository)
             docs-ingest repo add OWNER/NAME   (a GitHub repository; prints its webhook)
    Index:   docs-ingest push                  (inside a connected repository)
    Ask:     docs-ingest search "how do I deploy?"

    Commands that act on the running service reach it at DOCS_INGEST_URL; those that need the
    database find it through the same settings as `serve` (DOCS_INGEST_DATA_DIR, DATABASE_URL).
    Every command has its own --help.
    """
    settings = checked_settings()
    if ctx.invoked_subcommand == "engine":
        # The engine's own lines, which hide the keys it is given as options too.
        from engine import logs as engine_logs

        engine_logs.configure(settings.log_format, settings.log_level)
    else:
        logs.configure(settings)
    if ctx.invoked_subcommand != "serve":
        # A command's output is for people; migration steps belong in the service's log.
        logging.getLogger("alembic").setLevel(logging.WARNING)


def checked_settings() -> Settings:
    """The settings, or one line per variable that has a value they cannot take."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise click.ClickException("; ".join(problems)) from exc
    if not isinstance(logging.getLevelName(settings.log_level.upper()), int):
        raise click.ClickException(
            f"DOCS_INGEST_LOG_LEVEL: {settings.log_level!r} is not a logging level "
            "(DEBUG, INFO, WARNING, ERROR or CRITICAL)"
        )
    return settings
