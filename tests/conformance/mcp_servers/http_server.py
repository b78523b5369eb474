"""An upstream MCP server on streamable HTTP, written with the `mcp` SDK.

    python http_server.py PORT        (0: any free port)

Prints `listening on http://127.0.0.1:PORT/mcp` once it accepts connections. Every request must
carry `Authorization` equal to the environment's `CRM_EXPECTED_AUTHORIZATION` (else 401), so a test
knows Seam sent the configured header and not its client's key.

Each call is printed to stdout (`call TOOL {arguments}`), so a test can tell what reached it.

Tools: `lookup_customer` (a result full of personal data and a secret, for the output policy),
`lookup_order`, `delete_customer` (a scope a narrow key must not reach), `echo`, `search_orders`
(takes `q`, the argument seam-mock's model fills in), `count_up` (progress notifications), `slow`,
`big`, `fail_order` (an `isError` result) and `quota` (rate-limited in Seam's config). A resource
`crm://customers/7` and a prompt `draft_reply`, both holding personal data.
"""

import json
import os
import socket
import sys

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("crm")


def seen(tool, **arguments):
    print(f"call {tool} {json.dumps(arguments)}", flush=True)

EMAIL = "ada@example.com"
CARD = "4111 1111 1111 1111"
# A key in OpenAI's project-key format: 40 characters after the prefix.
SECRET = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5kL7n"


@server.tool()
def lookup_customer(id: str) -> str:
    """A customer's record."""
    seen("lookup_customer", id=id)
    return f"customer {id}: Ada Lovelace, email {EMAIL}, card {CARD}, api key {SECRET}"


@server.tool()
def lookup_order(id: str) -> str:
    """An order's status."""
    seen("lookup_order", id=id)
    return f"order {id}: shipped"


@server.tool()
def delete_customer(id: str) -> str:
    """Deletes a customer."""
    seen("delete_customer", id=id)
    return f"customer {id} deleted"


@server.tool()
def echo(text: str) -> str:
    """Says `text` back."""
    seen("echo", text=text)
    return text


@server.tool()
def search_orders(q: str) -> str:
    """Finds orders matching `q`."""
    seen("search_orders", q=q)
    return f"2 orders match {q}: #41 shipped, #42 pending"


@server.tool()
async def count_up(n: int, ctx: Context) -> str:
    """Counts to `n`, reporting progress at each step."""
    seen("count_up", n=n)
    for i in range(1, n + 1):
        await ctx.report_progress(i, n, f"step {i}")
        await anyio.sleep(0.05)
    return f"counted to {n}"


@server.tool()
async def slow(seconds: float) -> str:
    """Answers after `seconds`."""
    seen("slow", seconds=seconds)
    await anyio.sleep(seconds)
    return "finally"


@server.tool()
def big(n: int) -> str:
    """`n` characters."""
    return "x" * n


@server.tool()
def fail_order(id: str) -> str:
    """Always fails: the tool's own error, an `isError` result."""
    seen("fail_order", id=id)
    raise ValueError(f"order {id} is locked")


@server.tool()
def quota() -> str:
    """A tool with a per-key rate limit in Seam's config."""
    seen("quota")
    return "ok"


@server.resource("crm://customers/7", name="customer-7", mime_type="text/plain")
def customer_7() -> str:
    return f"Ada Lovelace <{EMAIL}>, card {CARD}"


@server.prompt()
def draft_reply(customer: str) -> str:
    """A reply to a customer, with their address in it."""
    seen("draft_reply", customer=customer)
    return f"Write to {customer} at {EMAIL} about card {CARD}."


def require_authorization(app, expected):
    """ASGI middleware: 401 unless `Authorization` is exactly `expected`."""

    async def guarded(scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if headers.get(b"authorization", b"").decode() != expected:
                await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    return guarded


async def main(port):
    expected = os.environ["CRM_EXPECTED_AUTHORIZATION"]
    app = require_authorization(server.streamable_http_app(host="127.0.0.1"), expected)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    # Connections made from here on wait in the backlog until uvicorn accepts them.
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]))
