"""typer's own strings in French, so that `guichet --help` reads in one language.

typer (0.29, which vendors click as typer._click) builds its help from module constants and a help
option made on demand; neither takes a translation, so they are replaced here once, before the command
is built. tests/unit/test_cli.py checks the help output: a typer upgrade that moves them fails there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HELP_OPTION_TEXT = "Affiche cette aide et quitte."
USAGE_PREFIX = "Utilisation : "
_RICH_STRINGS = {
    "DEPRECATED_STRING": "(obsolète) ",
    "DEFAULT_STRING": "[par défaut : {}]",
    "ENVVAR_STRING": "[variable : {}]",
    "REQUIRED_LONG_STRING": "[obligatoire]",
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commandes",
}


def install() -> None:
    try:
        from typer import rich_utils
        from typer._click import decorators, formatting
    except ImportError:  # another typer layout: its English strings stay, the command still works
        return

    for name, text in _RICH_STRINGS.items():
        if hasattr(rich_utils, name):
            setattr(rich_utils, name, text)
    if not getattr(decorators.help_option, "guichet_french", False):
        decorators.help_option = _french_help_option(decorators.help_option)
    if not getattr(formatting.HelpFormatter.write_usage, "guichet_french", False):
        formatting.HelpFormatter.write_usage = _french_usage(  # type: ignore[method-assign]
            formatting.HelpFormatter.write_usage
        )


def _french_help_option(original: Callable[..., Any]) -> Callable[..., Any]:
    def help_option(param_decls: list[str]) -> Callable[[Any], Any]:
        def apply(command: Any) -> Any:
            original(param_decls)(command)
            command.params[-1].help = HELP_OPTION_TEXT
            return command

        return apply

    help_option.guichet_french = True  # type: ignore[attr-defined]
    return help_option


def _french_usage(original: Callable[..., None]) -> Callable[..., None]:
    def write_usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        original(self, prog, args, USAGE_PREFIX if prefix is None else prefix)

    write_usage.guichet_french = True  # type: ignore[attr-defined]
    return write_usage
