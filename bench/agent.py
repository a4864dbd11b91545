"""The music agent on its evaluation set: tool-call accuracy, answer accuracy, attacks refused,
latency per tool, beside the bare tool call the agent wraps (the baseline) in the same run; and
on the questions as people type them (music_platform_tests/agent/questions.py), accuracy per
ask without a model (the rules) and with the scripted model, separately.

Builds the agent tests' small world (a promoted model and a marts warehouse) in a scratch home,
drives the real agent loop and the openai SDK through the loopback chat-completions server with
the scripted model, then replays every attack a fooled model could make.

    uv run python bench/agent.py [--repeat 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from report import write_json
from rich.console import Console
from rich.table import Table

from music_platform.lib.agent.loop import Agent
from music_platform.lib.agent.metrics import MetricLayer
from music_platform.lib.agent.tools import Toolbox
from music_platform.lib.agent.tracing import ToolTracer
from music_platform_tests.support.agent.eval_set import (
    ATTACKS,
    build_eval_set,
    score,
    scripted_model,
)
from music_platform_tests.support.agent.fake_llm import fake_llm
from music_platform_tests.support.agent.questions import (
    ASKS,
    accuracy_by_ask,
    artist_names,
    build_questions,
    correct,
    understanding_model,
)
from music_platform_tests.support.agent.semantic import parse_semantic_manifest
from music_platform_tests.support.agent.world import (
    API_KEY,
    AgentWorld,
    agent_settings,
    build_agent_world,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="Passes over the evaluation set.")
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON to this path.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        world = build_agent_world(Path(scratch) / "home")
        tracer = ToolTracer(Path(scratch) / "trace.jsonl", secrets=[API_KEY])
        toolbox = Toolbox(agent_settings(world), tracer=tracer)
        cases = build_eval_set(world)
        latencies: dict[str, list[float]] = defaultdict(list)
        bare: dict[str, list[float]] = defaultdict(list)
        totals: list[float] = []
        scores: list[tuple[bool, bool]] = []
        with fake_llm(scripted_model) as llm:
            settings = agent_settings(world, llm_base_url=llm.base_url, llm_model="fake-model")
            agent = Agent.from_settings(settings, toolbox)
            for _ in range(args.repeat):
                for case in cases:
                    started = time.perf_counter()
                    answer = agent.ask(case.question)
                    totals.append((time.perf_counter() - started) * 1000)
                    scores.append(score(case, answer))
                    for call in answer.tool_calls:
                        latencies[call.tool].append(call.duration_ms)
                    # The baseline: the same tool call straight through the toolbox.
                    started = time.perf_counter()
                    toolbox.call(case.tool, case.arguments or _arguments_of(answer, case.tool))
                    bare[case.tool].append((time.perf_counter() - started) * 1000)
        refused = sum(not toolbox.call(name, arguments).ok for name, arguments in ATTACKS)
        typed = typed_questions(world, toolbox)
        toolbox.close()

    figures = {
        "questions": len(cases),
        "tool_call_accuracy": round(sum(tool for tool, _ in scores) / len(scores), 4),
        "answer_accuracy": round(sum(ok for _, ok in scores) / len(scores), 4),
        "attacks": len(ATTACKS),
        "attacks_refused": refused,
        "p50_ms": round(statistics.median(totals), 3),
        "per_tool_p50_ms": {
            tool: round(statistics.median(values), 3) for tool, values in sorted(latencies.items())
        },
    }
    table = Table(title=f"agent: {len(cases)} questions x {args.repeat}, loopback model")
    for column in ("tool", "calls", "p50 ms in the agent", "p50 ms bare", "ratio"):
        table.add_column(column, justify="right" if column != "tool" else "left")
    for tool, values in sorted(latencies.items()):
        agent_p50 = statistics.median(values)
        bare_p50 = statistics.median(bare[tool]) if bare.get(tool) else float("nan")
        table.add_row(
            tool,
            str(len(values)),
            f"{agent_p50:.2f}",
            f"{bare_p50:.2f}",
            f"{agent_p50 / bare_p50:.2f}x",
        )
    table.caption = (
        f"tool calls right {figures['tool_call_accuracy']:.0%} · answers right "
        f"{figures['answer_accuracy']:.0%} · attacks refused {refused}/{len(ATTACKS)} · "
        f"question p50 {figures['p50_ms']:.1f} ms"
    )
    Console().print(table)
    Console().print(typed_table(typed))
    figures["typed_questions"] = typed
    write_json(args.json, "agent", figures)


def typed_questions(world: AgentWorld, toolbox: Toolbox) -> dict[str, object]:
    """Accuracy on the typed questions, overall and per ask, without a model and with the
    scripted model (which reads a question as the rules do and restates the tool results)."""
    from music_platform.lib.agent.understanding import Understander

    questions = build_questions(world)
    names = artist_names(world)
    # The counting questions go to the governed metrics, compiled from the semantic manifest.
    toolbox.metric_layer = MetricLayer(parse_semantic_manifest(world.home / "semantic"))
    figures: dict[str, object] = {"questions": len(questions)}
    no_model = Agent.from_settings(agent_settings(world), toolbox)
    understander = toolbox.read(Understander.from_warehouse)
    with fake_llm(understanding_model(understander)) as llm:
        settings = agent_settings(world, llm_base_url=llm.base_url, llm_model="fake-model")
        scripted = Agent.from_settings(settings, toolbox)
        for label, agent in (("no_model", no_model), ("scripted_model", scripted)):
            started = time.perf_counter()
            results = [correct(q, agent.ask(q.text, user_id=q.user_id), names) for q in questions]
            overall, by_ask = accuracy_by_ask(questions, results)
            figures[label] = {
                "accuracy": round(overall, 4),
                "by_ask": {ask: round(value, 4) for ask, value in by_ask.items()},
                "mean_ms": round((time.perf_counter() - started) * 1000 / len(questions), 3),
                "wrong": [q.text for q, ok in zip(questions, results, strict=True) if not ok],
            }
    figures["per_ask"] = {ask: sum(q.ask == ask for q in questions) for ask in ASKS}
    return figures


def typed_table(figures: dict) -> Table:
    table = Table(title=f"typed questions: {figures['questions']}, accuracy per ask")
    for column in ("ask", "questions", "no model", "scripted model"):
        table.add_column(column, justify="left" if column == "ask" else "right")
    for ask in ASKS:
        table.add_row(
            ask,
            str(figures["per_ask"][ask]),
            f"{figures['no_model']['by_ask'][ask]:.0%}",
            f"{figures['scripted_model']['by_ask'][ask]:.0%}",
        )
    table.add_row(
        "all",
        str(figures["questions"]),
        f"{figures['no_model']['accuracy']:.1%}",
        f"{figures['scripted_model']['accuracy']:.1%}",
    )
    wrong = figures["no_model"]["wrong"]
    table.caption = "wrong without a model: " + ("; ".join(wrong) or "none")
    return table


def _arguments_of(answer: object, tool: str) -> dict:
    """The arguments the agent used for `tool` (cases that do not pin them, such as SQL)."""
    for call in getattr(answer, "tool_calls", []):
        if call.tool == tool:
            return call.arguments
    return {}


if __name__ == "__main__":
    main()
