"""`music-platform ask` and `music-platform mcp`: the music agent from the command line, and its
tools served over the Model Context Protocol. Registered in cli.py."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
from rich.console import Console

from music_platform.lib.processes import interrupt_on_stop_signals
from music_platform.settings import Settings, SettingsError, get_settings

console = Console(stderr=True)


def _settings_or_exit() -> Settings:
    """The current settings with the home created, or a one-line error and exit code 2."""
    try:
        settings = get_settings()
        settings.ensure_home()
    except SettingsError as error:
        console.print(f"[bold red]error:[/] {error}")
        raise typer.Exit(code=2) from None
    return settings


def ask(
    question: Annotated[str, typer.Argument(help="A question about tracks, artists or listeners.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    user: Annotated[
        str | None,
        typer.Option(help="Your user id: who 'me' is. Default: MUSIC_PLATFORM_AGENT_USER_ID."),
    ] = None,
) -> None:
    """Answer a question with the agent: a model calling the platform's tools (SQL over the
    marts, recommendations, similarity, metadata, catalogue search). Without a model, or when
    the model's endpoint fails, rules read the question against the warehouse and answer it.
    Exits 1 when nothing could answer."""
    settings = _settings_or_exit()
    from music_platform.lib.agent.loop import Agent

    agent = Agent.from_settings(settings)
    try:
        answer = agent.ask(question, user_id=user)
    finally:
        agent.toolbox.close()
    if as_json:
        typer.echo(json.dumps(answer.as_json(), indent=2, default=str))
    else:
        if answer.notice:
            console.print(f"[yellow]{answer.notice}[/]")
        typer.echo(answer.answer)
    if answer.status == "unanswered":
        raise typer.Exit(code=1)


def mcp(
    transport: Annotated[
        str, typer.Option(help="stdio (for desktop assistants and IDEs) or streamable-http.")
    ] = "stdio",
    host: Annotated[str, typer.Option(help="Interface for streamable-http.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for streamable-http.")] = 8765,
) -> None:
    """Serve the agent's tools over the Model Context Protocol, under the same SQL guard, limits
    and tracing as `ask`."""
    interrupt_on_stop_signals()
    if transport not in ("stdio", "streamable-http"):
        console.print(
            f"[bold red]error:[/] --transport {transport!r}: use stdio or streamable-http"
        )
        raise typer.Exit(code=2)
    settings = _settings_or_exit()
    from music_platform.lib.agent.mcp_server import build_server
    from music_platform.lib.agent.tools import Toolbox

    toolbox = Toolbox(settings, surface=f"mcp-{transport}")
    server = build_server(toolbox)
    chosen: Literal["stdio", "streamable-http"] = transport  # type: ignore[assignment]
    try:
        if chosen == "stdio":
            server.run("stdio")
        else:
            server.run("streamable-http", host=host, port=port)
    except KeyboardInterrupt:
        pass  # SIGINT or SIGTERM: a requested stop, not an error
    finally:
        toolbox.close()
