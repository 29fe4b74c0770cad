"""The tools both test servers offer (tests/mcp_upstream.rs drives them)."""

import os

import anyio
from mcp.server.mcpserver import Context, MCPServer


def build(name: str) -> MCPServer:
    server = MCPServer(name)

    @server.tool()
    def echo(text: str) -> str:
        """Returns its text."""
        return text

    @server.tool()
    def pid() -> str:
        """This process's id."""
        return str(os.getpid())

    @server.tool()
    def env(name: str) -> str:
        """One environment variable ('<unset>' when absent)."""
        return os.environ.get(name, "<unset>")

    @server.tool()
    async def slow(ms: int) -> str:
        """Answers after `ms` milliseconds."""
        await anyio.sleep(ms / 1000)
        return "late"

    @server.tool()
    async def progress(steps: int, ctx: Context) -> str:
        """Reports `steps` progress notifications, then answers."""
        for i in range(steps):
            await ctx.report_progress(i + 1, steps, f"step {i + 1}")
        return "done"

    @server.tool()
    def fail() -> str:
        """Always fails: a tool error, not a protocol one."""
        raise ValueError("this tool always fails")

    @server.tool()
    async def change(ctx: Context) -> str:
        """Announces that the tool list changed, in both eras' ways."""
        await ctx.notify_tools_changed()
        try:
            await ctx.request_context.session.send_tool_list_changed()
        except Exception:  # noqa: BLE001 - the other era's way may not apply
            pass
        return "changed"

    return server
