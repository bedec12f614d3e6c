"""rpc.py command line (spec/rpc.md section 3).

Three ways to run:

* ``rpc.py [global options] METHOD [args]`` - one command;
* no METHOD and stdin not a terminal - one command per line from stdin, all
  over one connection; the first failure prints ``Exception:``, the lines run
  so far with `` <<<`` after the last one, the error, and exits 1;
* ``--server`` - read command lines forever, each over a fresh connection,
  answering ``**STATUS=0`` / ``**STATUS=1`` after each.
"""

import argparse
import importlib
import logging
import pkgutil
import shlex
import sys

from . import client as rpc_client
from .client import DryRunClient, JSONRPCClient, JSONRPCException

# Modules of this package that are infrastructure, not command areas.
_NOT_AREAS = {"cli", "client", "commands"}


def area_modules():
    """Every module of the package that defines ``register(subparsers)``."""
    pkg = sys.modules[__package__]
    mods = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name in _NOT_AREAS or info.name.startswith("_"):
            continue
        mod = importlib.import_module("%s.%s" % (__package__, info.name))
        if hasattr(mod, "register"):
            mods.append(mod)
    return mods


def _load_plugin(name, subparsers):
    mod = importlib.import_module(name)
    for hook in ("lvstor_rpc_plugin_initialize", "spdk_rpc_plugin_initialize"):
        if hasattr(mod, hook):
            getattr(mod, hook)(subparsers)
            return
    raise SystemExit("plugin %s defines no spdk_rpc_plugin_initialize(subparsers)" % name)


def _add_global_options(parser):
    parser.add_argument("-s", dest="server_addr", default=rpc_client.DEFAULT_SOCKET,
                        help="RPC domain socket path or IP address (default %(default)s)")
    parser.add_argument("-p", dest="port", type=int, default=rpc_client.DEFAULT_PORT,
                        help="RPC port number when the server is an IP address "
                             "(default %(default)s)")
    parser.add_argument("-t", dest="timeout", type=float, default=None,
                        help="seconds to wait for each response (default %s)"
                             % rpc_client.DEFAULT_TIMEOUT)
    parser.add_argument("-r", dest="conn_retries", type=int, default=0,
                        help="retry connecting this many extra times, 0.2 s apart")
    parser.add_argument("-v", dest="verbose", action="store_const", const="INFO",
                        help="verbose mode: log requests and responses (INFO)")
    parser.add_argument("--verbose", dest="verbose", choices=["DEBUG", "INFO", "ERROR"],
                        help="log level of the client")
    parser.add_argument("--dry-run", "--dry_run", dest="dry_run", action="store_true",
                        help="print the request(s) that would be sent and exit")
    parser.add_argument("--server", dest="is_server", action="store_true",
                        help="read command lines from stdin forever, one connection each")
    parser.add_argument("--plugin", dest="rpc_plugin", action="append", default=[],
                        help="module with extra commands (spdk_rpc_plugin_initialize)")


def build_parser(plugins=()):
    parser = argparse.ArgumentParser(
        prog="rpc.py",
        description="lvstord JSON-RPC command line client (SPDK rpc.py compatible)")
    _add_global_options(parser)
    sub = parser.add_subparsers(dest="called_rpc_name", metavar="METHOD",
                                help="RPC method; 'METHOD -h' for its arguments")
    for mod in area_modules():
        mod.register(sub)
    for name in plugins:
        _load_plugin(name, sub)
    return parser


def _make_client(args):
    if args.dry_run:
        return DryRunClient()
    timeout = args.timeout
    if timeout is None:
        timeout = getattr(args, "command_timeout", None) or rpc_client.DEFAULT_TIMEOUT
    return JSONRPCClient(args.server_addr, args.port, timeout,
                         conn_retries=args.conn_retries, log_level=args.verbose)


def run_command(args, client):
    """Run one parsed command on ``client`` and print its result."""
    if args.called_rpc_name != args.method_name:
        print("%s is deprecated, use %s instead." % (args.called_rpc_name, args.method_name),
              file=sys.stderr)
    result = args.handler(client, args)
    if args.output is not None and not getattr(client, "dry_run", False):
        args.output(result)


def execute_script(parser, client, lines):
    executed = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        executed.append(line)
        args = parser.parse_args(shlex.split(line))
        if args.called_rpc_name is None:
            continue
        try:
            run_command(args, client)
        except JSONRPCException as ex:
            print("Exception:")
            print("\n".join(executed) + " <<<")
            print(ex.message)
            sys.stdout.flush()
            sys.exit(1)


def serve(parser, global_argv):
    for line in sys.stdin:
        try:
            words = shlex.split(line)
        except ValueError:
            print("**STATUS=1", flush=True)
            continue
        if not words:
            continue
        try:
            args = parser.parse_args(global_argv + words)
        except SystemExit:
            print("**STATUS=1", flush=True)
            continue
        if args.called_rpc_name is None:
            print("**STATUS=1", flush=True)
            continue
        client = None
        try:
            client = _make_client(args)
            run_command(args, client)
            print("**STATUS=0", flush=True)
        except JSONRPCException as ex:
            print(ex.message)
            print("**STATUS=1", flush=True)
        finally:
            if client is not None:
                client.close()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)

    # Plugins add sub-commands, so they must be known before the real parse.
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plugin", dest="rpc_plugin", action="append", default=[])
    known, _ = pre.parse_known_args(argv)
    parser = build_parser(known.rpc_plugin)
    args = parser.parse_args(argv)

    logging.basicConfig(format="%(levelname)s: %(message)s", stream=sys.stderr,
                        level=logging.ERROR)
    if args.verbose:
        logging.getLogger("lvstor_rpc").setLevel(getattr(logging, args.verbose))

    if args.is_server:
        serve(parser, [a for a in argv if a != "--server"])
        return 0

    if args.called_rpc_name is None and sys.stdin.isatty():
        parser.print_help()
        return 1

    client = None
    try:
        client = _make_client(args)
        if args.called_rpc_name is not None:
            run_command(args, client)
        else:
            execute_script(parser, client, sys.stdin)
    except JSONRPCException as ex:
        print(ex.message)
        return 1
    finally:
        if client is not None:
            client.close()
    return 0
