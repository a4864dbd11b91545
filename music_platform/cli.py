"""`music-platform`: run the asset graph, prepare the dbt manifest, open the UI."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from music_platform.lib.disk_space import out_of_space
from music_platform.lib.processes import default_stop_signals, interrupt_on_stop_signals
from music_platform.settings import (
    SettingsError,
    SourceMode,
    clear_settings_cache,
    get_settings,
)

app = typer.Typer(
    help=(
        "The music data platform: listening data into a warehouse and recommendations.\n\n"
        "The environment comes from MUSIC_PLATFORM_ENV (local, dev or prod; default local) and "
        "data lives under MUSIC_PLATFORM_HOME (default ./.music_platform). See .env.example."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def _render_summary(summary_json: dict) -> Table:
    table = Table(title=f"music-platform run ({summary_json['env']})")
    table.add_column("asset")
    table.add_column("partitions", justify="right")
    table.add_column("rows", justify="right")
    table.add_column("status")
    colours = {"materialized": "green", "blocked": "red", "failed": "red", "skipped": "yellow"}
    for asset in summary_json["assets"]:
        status = asset["status"]
        table.add_row(
            asset["key"],
            str(asset["partitions"]),
            f"{asset['rows']:,}",
            f"[{colours[status]}]{status}[/]",
        )
    checks = summary_json["checks"]
    table.caption = (
        f"checks: {checks['passed']} passed, {checks['failed']} failed · "
        f"{summary_json['seconds']:.1f} s · run {summary_json['run_id']}"
    )
    return table


@app.command()
def run(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="How many of the latest complete days to materialize [7]."),
    ] = None,
    from_day: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            formats=["%Y-%m-%d"],
            help="First day of an inclusive range to materialize instead of --days, for "
            "example the days a file of past listening holds.",
        ),
    ] = None,
    to_day: Annotated[
        datetime | None,
        typer.Option(
            "--to",
            formats=["%Y-%m-%d"],
            help="Last day of the --from range (default: the latest complete day).",
        ),
    ] = None,
    summary: Annotated[
        Path | None, typer.Option(help="Also write the run summary as JSON to this path.")
    ] = None,
    source: Annotated[
        SourceMode | None,
        typer.Option(
            help="Force every source: synthetic, files or live (default: MUSIC_PLATFORM_SOURCE, "
            "auto = live where keys are set, local files where given, synthetic otherwise)."
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also show dbt's and Dagster's logs on the terminal as they are written "
            "(they always go to the run's log file under MUSIC_PLATFORM_HOME/logs).",
        ),
    ] = False,
) -> None:
    """Materialize the whole asset graph: the last DAYS daily partitions (or the days from
    --from to --to) plus every unpartitioned asset, on the current environment. Shows each
    asset and its checks as its step finishes, then a summary; dbt's and Dagster's logs go to
    a log file named at the end (shown on the terminal only for a failed step, or with
    --verbose). Exits non-zero when an asset or a blocking check fails, and says which and
    why."""
    if days is not None and from_day is not None:
        raise fail("give either --days or --from/--to, not both")
    if to_day is not None and from_day is None:
        raise fail("--to needs --from (or use --days N for the latest N days)")
    if source is not None:
        # Before anything resolves settings or loads definitions, which pick the sources.
        os.environ["MUSIC_PLATFORM_SOURCE"] = source.value
        clear_settings_cache()
    try:
        settings = get_settings()
        settings.ensure_home()
        from music_platform.lib.sources.selection import select_sources

        selection = select_sources(settings)
        from music_platform.connectivity import check_services

        check_services(settings)
    except SettingsError as error:
        raise fail(str(error)) from None

    from music_platform import runner
    from music_platform.instance import prepare_dagster_home
    from music_platform.lib.dbt_project import prepare_manifest

    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(settings))
    prepare_manifest(settings)
    import dagster as dg

    from music_platform.definitions import build_definitions
    from music_platform.defs.shared.keys import daily_partitions
    from music_platform.run_view import RunView

    defs = build_definitions(settings)
    instance = dg.DagsterInstance.get()
    try:
        partition_keys = (
            runner.partition_range_keys(
                daily_partitions, from_day.date(), to_day.date() if to_day else None
            )
            if from_day is not None
            else runner.last_partition_keys(daily_partitions, days or 7)
        )
    except ValueError as error:
        raise fail(str(error)) from None
    console.print(
        f"[bold]music-platform[/] env={settings.env.value} home={settings.home_dir} "
        f"days={partition_keys[0]}..{partition_keys[-1]} sources={'; '.join(selection.reasons)}"
    )
    log_path = settings.home_dir / "logs" / f"run-{datetime.now():%Y%m%d-%H%M%S}.log"
    with runner.captured_output(log_path, echo=verbose) as terminal:
        view = RunView(
            Console(file=terminal, soft_wrap=True),
            step_assets=runner.step_assets(defs),
            blocking_checks=runner.blocking_checks(defs),
        )
        out_of_space_error = None
        try:
            with Live(view, console=view.console, transient=True, refresh_per_second=8):
                result = runner.run_graph(
                    defs,
                    instance,
                    settings=settings,
                    partition_keys=partition_keys,
                    on_events=view.update,
                )
        except Exception as error:
            # A full disk also breaks Dagster's own storage under the home, which ends the
            # run with a database traceback: say which folder filled up instead (once the
            # terminal is ours again, not the log's, which sits on that disk too).
            out_of_space_error = out_of_space(error, settings.home_dir)
            if out_of_space_error is None:
                raise
        else:
            # ...or it fills up inside a step, and the run ends with that step's failure.
            failures = (out_of_space(RuntimeError(f), settings.home_dir) for f in result.failures)
            out_of_space_error = next(filter(None, failures), None)
    if out_of_space_error is not None:
        raise fail(out_of_space_error)
    summary_json = result.as_json()
    Console().print(_render_summary(summary_json))
    if summary:
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps(summary_json, indent=2))
    for failure, step in zip(result.failures, result.failed_steps, strict=True):
        console.print(f"[red]{failure}[/]", soft_wrap=True)
        if not verbose:
            tail = runner.failed_step_tail(log_path, step)
            console.print(f"[dim]last lines of {step}:[/]", highlight=False)
            for line in tail:
                console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    for check in result.failed_checks:
        kind = "blocking check" if check.blocking else "check (warning)"
        console.print(f"[red]{kind} {check.check} on {check.asset} failed:[/] {check.description}")
    console.print(f"log: {log_path}", highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(code=1)


@app.command()
def prepare() -> None:
    """Parse the dbt project once into its manifest (done automatically when it is stale)."""
    try:
        settings = get_settings()
    except SettingsError as error:
        raise fail(str(error)) from None
    from music_platform.lib.dbt_project import prepare_manifest

    path = prepare_manifest(settings)
    console.print(f"dbt manifest ready: {path}")


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Port for the Dagster UI.")] = 3000,
) -> None:
    """Start the Dagster UI and daemon on the current environment."""
    try:
        settings = get_settings()
        settings.ensure_home()
    except SettingsError as error:
        raise fail(str(error)) from None
    # Not `runner`, which imports Dagster: `dagster dev` below imports it anyway.
    from music_platform import instance
    from music_platform.lib.dbt_project import dbt_environment, prepare_manifest

    os.environ["DAGSTER_HOME"] = str(instance.prepare_dagster_home(settings))
    # `dagster dev` re-parses the dbt project as it loads (prepare_if_dev), with dbt's profile
    # read from the environment.
    os.environ.update(dbt_environment(settings))
    prepare_manifest(settings)
    default_stop_signals()
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-w",
            str(instance.REPO_ROOT / "workspace.yaml"),
            "-p",
            str(port),
        ],
    )


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Each asset's last materialization (time, partition), freshness and check state, from the
    Dagster instance of the current environment, and the latest failed runs."""
    try:
        settings = get_settings()
        settings.ensure_home()
        from music_platform import status as platform_status

        platform_status.show(settings, as_json=as_json)
    except SettingsError as error:
        raise fail(str(error)) from None


@app.command()
def recommend(
    user: Annotated[str, typer.Option(help="The user id to recommend for.")],
    k: Annotated[int, typer.Option(min=1, max=100, help="How many tracks.")] = 10,
    genre: Annotated[str | None, typer.Option(help="Only tracks of this genre.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Recommend tracks for a user from the promoted model, each with the reason behind it.
    Unknown users get a cold-start answer (the most played tracks, or a genre's)."""
    try:
        settings = get_settings()
    except SettingsError as error:
        raise fail(str(error)) from None
    from music_platform.lib.recommender.service import (
        InvalidRequestError,
        NoModelError,
        NotFoundError,
        RecommendationService,
    )

    try:
        answer = RecommendationService(settings.models_dir).for_user(user, k=k, genre=genre)
    except (NoModelError, NotFoundError, InvalidRequestError) as error:
        raise fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    title = f"recommendations for {user}" + (" (new listener)" if answer["cold_start"] else "")
    table = Table(title=title, caption=f"model {answer['model_version']}")
    for column in ("track", "artist", "genre", "why"):
        table.add_column(column)
    for track in answer["tracks"]:
        table.add_row(track["track_name"], track["artist_name"], track["genre"], track["reason"])
    Console().print(table)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve recommendations over HTTP (OpenAPI docs at /docs). Picks up newly promoted models
    without a restart."""
    # uvicorn takes both signals once it listens; until then they must not be ignored either.
    interrupt_on_stop_signals()
    try:
        settings = get_settings()
    except SettingsError as error:
        raise fail(str(error)) from None
    import uvicorn

    from music_platform.serving.api import create_app

    service = create_app(settings.models_dir, max_concurrency=settings.serve_max_concurrency)
    # uvicorn shuts down gracefully on either signal, then raises it again for the caller.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(service, host=host, port=port, log_level="info")


# The music agent (issue 11): `ask` and `mcp` live in agent_cli.py.
from music_platform import agent_cli  # noqa: E402

app.command()(agent_cli.ask)
app.command()(agent_cli.mcp)

# Streaming (issue 10): `stream produce` and `stream consume` live in stream_cli.py.
from music_platform import stream_cli  # noqa: E402

app.add_typer(stream_cli.app, name="stream")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
