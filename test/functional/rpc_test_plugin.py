"""rpc.py --plugin module used by the tests: a generic 'call any method'
command, so that rpc.py's handling of server errors such as -32601 can be
exercised from the command line."""

import json

from lvstor_rpc.commands import add_command, print_json


def _call(client, args):
    params = json.loads(args.params) if args.params else None
    return client.call(args.method, params)


def spdk_rpc_plugin_initialize(subparsers):
    p = add_command(subparsers, "lvstor_test_call", _call, output=print_json,
                    help="call METHOD with PARAMS (JSON object)")
    p.add_argument("method")
    p.add_argument("params", nargs="?")
