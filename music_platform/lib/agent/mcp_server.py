"""The agent's tools over the Model Context Protocol (the official `mcp` SDK's MCPServer, the
former FastMCP), on stdio or streamable HTTP.

Each MCP tool is a thin function with the tool's own typed signature that goes through
`Toolbox.call`, so MCP clients get the same SQL guard, limits and tracing as the agent loop, and
the same result: marked as untrusted data (a bio may hold injected orders), secrets masked.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field
from pydantic_core import PydanticUndefined

from music_platform.lib.agent.loop import SYSTEM_PROMPT
from music_platform.lib.agent.tools import Tool, Toolbox, secret_values
from music_platform.lib.agent.tracing import redact

SERVER_NAME = "music-platform"


def _signature(tool: Tool) -> inspect.Signature:
    parameters = []
    for name, info in tool.arguments.model_fields.items():
        default = info.get_default(call_default_factory=True)
        annotation = Annotated[info.annotation, *info.metadata, Field(description=info.description)]  # type: ignore[valid-type]
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=annotation,
                default=inspect.Parameter.empty if default is PydanticUndefined else default,
            )
        )
    return inspect.Signature(parameters, return_annotation=dict[str, Any])


def _bind(toolbox: Toolbox, tool: Tool) -> Callable[..., dict[str, Any]]:
    secrets = secret_values(toolbox.settings)

    def call(**arguments: Any) -> dict[str, Any]:
        outcome = toolbox.call(tool.name, arguments)
        if not outcome.ok or outcome.data is None:
            raise ToolError(redact(outcome.refusal or "refused", secrets))
        return redact(outcome.marked(), secrets)

    call.__name__ = tool.name
    call.__doc__ = tool.description
    call.__signature__ = _signature(tool)  # type: ignore[attr-defined]
    return call


def build_server(toolbox: Toolbox) -> MCPServer:
    server = MCPServer(
        SERVER_NAME,
        instructions=SYSTEM_PROMPT,
        warn_on_duplicate_tools=True,
    )
    for tool in toolbox.tools.values():
        server.add_tool(
            _bind(toolbox, tool),
            name=tool.name,
            description=tool.description,
            annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False),
            structured_output=False,
        )
    return server
