"""An MCP server written with the Python SDK (`mcp` 2.x), for the hub's interop test: stdio by
default, streamable HTTP with `http PORT`."""

import sys
from mcp.server.mcpserver import MCPServer, Context

app = MCPServer("py-interop")

@app.tool()
def shout(text: str) -> str:
    """Uppercases text."""
    return text.upper()

@app.tool()
async def slow(n: int, ctx: Context) -> str:
    """Reports progress."""
    await ctx.report_progress(1, n)
    return f"done {n}"

@app.prompt()
def hello(name: str) -> str:
    return f"Hello {name}"

@app.resource("py://info")
def info() -> str:
    return "python info"

@app.resource("py://things/{tid}")
def thing(tid: str) -> str:
    return f"thing {tid}"

if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]) if len(sys.argv) > 2 else 8765)
    else:
        app.run()
