"""An upstream MCP server speaking stdio, written with the `mcp` SDK: Seam starts and supervises it.

Tools: `read_file` (fixed text), `pid` (this process's id, so a test can tell a restart happened),
`crash` (exits at once, mid-call), `last_path` (the path `read_file` last got, as it got it) and
`env_names` (the environment it was started with, names only). A resource `docs://readme` and a
prompt `summarize`.
"""

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("files")

README = "Files server readme: every path reads as the same fixed text."

paths = []


@server.tool()
def read_file(path: str) -> str:
    """Reads a file (every path holds the same fixed text)."""
    paths.append(path)
    return f"contents of {path}: hello from the files server"


@server.tool()
def pid() -> int:
    """This server process's id."""
    return os.getpid()


@server.tool()
def crash() -> str:
    """Exits the process at once, without answering."""
    os._exit(1)


@server.tool()
def last_path() -> str:
    """The path `read_file` last got."""
    return paths[-1] if paths else ""


@server.tool()
def env_names() -> list[str]:
    """The names of this process's environment variables."""
    return sorted(os.environ)


@server.resource("docs://readme", name="readme", mime_type="text/plain")
def readme() -> str:
    return README


@server.prompt()
def summarize(text: str) -> str:
    """Asks for a summary of `text`."""
    return f"Summarize in one line: {text}"


if __name__ == "__main__":
    server.run("stdio")
