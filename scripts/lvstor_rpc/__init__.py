"""lvstor's JSON-RPC client library: the wire client (client.py), the command
definitions by area (framework.py, log.py, ...) and the rpc.py command line
(cli.py).  See commands.py for how to add a command."""

from .client import JSONRPCClient, JSONRPCException, DryRunClient  # noqa: F401

__all__ = ["JSONRPCClient", "JSONRPCException", "DryRunClient"]
