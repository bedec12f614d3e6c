"""Framework and system commands (spec/rpc.md section 2.1), including the
client-side composites save_config and load_config (section 2.1.7)."""

import argparse
import json
import sys

from .client import JSONRPCException
from .commands import add_command, params_of, print_json


def rpc_get_methods(client, current=False, include_aliases=False):
    return client.call("rpc_get_methods", {"current": bool(current),
                                           "include_aliases": bool(include_aliases)})


def spdk_get_version(client):
    return client.call("spdk_get_version")


def framework_start_init(client):
    return client.call("framework_start_init")


def framework_wait_init(client):
    return client.call("framework_wait_init")


def framework_get_reactors(client):
    return client.call("framework_get_reactors")


def framework_get_subsystems(client):
    return client.call("framework_get_subsystems")


def framework_get_config(client, name, with_batches=False):
    return client.call("framework_get_config", {"name": name, "with_batches": bool(with_batches)})


def framework_set_scheduler(client, name, period=None, load_limit=None, core_limit=None,
                            core_busy=None, mappings=None):
    return client.call("framework_set_scheduler",
                       params_of(name=name, period=period, load_limit=load_limit,
                                 core_limit=core_limit, core_busy=core_busy,
                                 mappings=mappings))


def framework_get_scheduler(client):
    return client.call("framework_get_scheduler")


def thread_get_stats(client):
    return client.call("thread_get_stats")


# -- save_config ---------------------------------------------------------------

def _with_dependencies(subsystems, wanted):
    """``wanted`` plus every subsystem they depend on, transitively."""
    deps = {s["subsystem"]: s.get("depends_on") or [] for s in subsystems}
    result = set()
    todo = list(wanted)
    while todo:
        name = todo.pop()
        if name in result:
            continue
        result.add(name)
        todo.extend(deps.get(name, []))
    return result


def save_config(client, subsystems=None, with_batches=False):
    """Build the configuration document: one entry per subsystem, in the order
    framework_get_subsystems lists them.  ``subsystems``: optional list of
    names; their dependencies are included too."""
    listed = framework_get_subsystems(client) or []
    keep = _with_dependencies(listed, subsystems) if subsystems else None
    doc = {"subsystems": []}
    for elem in listed:
        name = elem["subsystem"]
        if keep is not None and name not in keep:
            continue
        params = {"name": name}
        if with_batches:
            params["with_batches"] = True
        doc["subsystems"].append({"subsystem": name,
                                  "config": client.call("framework_get_config", params)})
    return doc


def dump_config(doc, indent=2, out=None):
    out = sys.stdout if out is None else out
    if indent is None:
        indent = 2
    elif indent < 0:
        indent = None
    json.dump(doc, out, indent=indent)
    out.write("\n")


# -- load_config ---------------------------------------------------------------

SKIPPED_MESSAGE = ("Some configs were skipped because the RPC state that can call "
                   "them passed over.")
UNKNOWN_METHOD_MESSAGE = "Unknown method was included in the config file"


def _entries(config):
    """The calls of one subsystem's config, batch groups (nested arrays) flattened."""
    out = []
    for elem in config:
        if isinstance(elem, list):
            out.extend(_entries(elem))
        else:
            out.append(elem)
    return out


def load_config(client, doc, include_aliases=False):
    """Replay a save_config document into the target (spec section 2.1.7).

    Returns True when everything was loaded, False when some entries were left
    because the state that allows them has passed (the message is printed).
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("subsystems"), list):
        raise JSONRPCException("Invalid configuration: no \"subsystems\" array")
    work = []
    for sub in doc["subsystems"]:
        config = sub.get("config") if isinstance(sub, dict) else None
        if config:
            work.append(_entries(config))

    if getattr(client, "dry_run", False):
        for calls in work:
            for elem in calls:
                client.call(elem.get("method"), elem.get("params"))
        return True

    known = client.call("rpc_get_methods", {"include_aliases": bool(include_aliases)})
    if not work and "framework_start_init" in known:
        framework_start_init(client)
        return True

    for calls in work:
        for elem in calls:
            if not isinstance(elem, dict) or elem.get("method") not in known:
                raise JSONRPCException(UNKNOWN_METHOD_MESSAGE)

    while work:
        allowed = client.call("rpc_get_methods", {"current": True,
                                                  "include_aliases": bool(include_aliases)})
        progress = False
        for calls in list(work):
            for elem in list(calls):
                if elem["method"] not in allowed:
                    continue
                client.call(elem["method"], elem.get("params"))
                calls.remove(elem)
                progress = True
            if not calls:
                work.remove(calls)
        if "framework_start_init" in allowed:
            framework_start_init(client)
            progress = True
        if not progress:
            break

    if work:
        print(SKIPPED_MESSAGE)
        return False
    return True


def _read_config(path):
    try:
        if path:
            with open(path) as f:
                return json.load(f)
        return json.load(sys.stdin)
    except OSError as ex:
        raise JSONRPCException("Cannot read configuration file %s: %s" % (path, ex))
    except ValueError as ex:
        raise JSONRPCException("Invalid JSON in configuration %s: %s"
                               % (path or "<stdin>", ex))


# -- sub-commands ----------------------------------------------------------------

def _save_config_cmd(client, args):
    wanted = [s for s in args.subsystems.split(",") if s] if args.subsystems else None
    doc = save_config(client, wanted, args.with_batches)
    if not getattr(client, "dry_run", False):
        dump_config(doc, args.indent)


def _load_config_cmd(client, args):
    load_config(client, _read_config(args.json_conf), args.include_aliases)


def register(sub):
    p = add_command(sub, "rpc_get_methods",
                    lambda c, a: rpc_get_methods(c, a.current, a.include_aliases),
                    help="Get the list of supported RPC methods",
                    aliases=["get_rpc_methods"], output=print_json)
    p.add_argument("-c", "--current", action="store_true",
                   help="only methods callable in the current state")
    p.add_argument("-i", "--include-aliases", action="store_true",
                   help="also list deprecated aliases")

    add_command(sub, "spdk_get_version", lambda c, a: spdk_get_version(c),
                help="Get the daemon's version", aliases=["get_spdk_version"],
                output=print_json)

    add_command(sub, "framework_start_init", lambda c, a: framework_start_init(c),
                help="Start initialization of subsystems (after --wait-for-rpc)",
                aliases=["start_subsystem_init"])

    add_command(sub, "framework_wait_init", lambda c, a: framework_wait_init(c),
                help="Block until subsystems have been initialized",
                aliases=["wait_subsystem_init"])

    add_command(sub, "framework_get_reactors", lambda c, a: framework_get_reactors(c),
                help="Display the list of reactors", output=print_json)

    add_command(sub, "framework_get_subsystems", lambda c, a: framework_get_subsystems(c),
                help="Print subsystems in initialization order, with dependencies",
                aliases=["get_subsystems"], output=print_json)

    p = add_command(sub, "framework_get_config",
                    lambda c, a: framework_get_config(c, a.name, a.with_batches),
                    help="Print the configuration calls of one subsystem",
                    aliases=["get_subsystem_config"], output=print_json)
    p.add_argument("name", help="subsystem name")
    p.add_argument("--with-batches", action=argparse.BooleanOptionalAction, default=False,
                   help="keep batch groups as nested arrays")

    p = add_command(sub, "framework_set_scheduler",
                    lambda c, a: framework_set_scheduler(c, a.name, a.period, a.load_limit,
                                                         a.core_limit, a.core_busy,
                                                         a.mappings),
                    help="Select the thread scheduler and its options")
    p.add_argument("name", help="scheduler name (e.g. static)")
    p.add_argument("-p", "--period", type=int, help="scheduling period in microseconds")
    p.add_argument("--load-limit", type=int, help="dynamic: thread load limit in %%")
    p.add_argument("--core-limit", type=int, help="dynamic: core load limit in %%")
    p.add_argument("--core-busy", type=int, help="dynamic: core busy limit in %%")
    p.add_argument("--mappings", help="static: comma-separated thread:core pairs")

    add_command(sub, "framework_get_scheduler", lambda c, a: framework_get_scheduler(c),
                help="Display the current scheduler and its options", output=print_json)

    add_command(sub, "thread_get_stats", lambda c, a: thread_get_stats(c),
                help="Display statistics of the lightweight threads", output=print_json)

    p = add_command(sub, "save_config", _save_config_cmd, output=None,
                    help="Write the current configuration of every subsystem as JSON "
                         "to stdout")
    p.add_argument("-i", "--indent", type=int, default=2,
                   help="indent level of the JSON (negative: compact); default 2")
    p.add_argument("-s", "--subsystems",
                   help="comma-separated subsystems to save (their dependencies "
                        "are included); default all")
    p.add_argument("--with-batches", action="store_true",
                   help="keep batch groups as nested arrays")

    p = add_command(sub, "load_config", _load_config_cmd, output=None,
                    help="Configure the target from a save_config document "
                         "(file, or stdin)")
    p.add_argument("-j", "--json-conf", "--json_conf", dest="json_conf",
                   help="configuration file (default: stdin)")
    p.add_argument("-i", "--include-aliases", action="store_true",
                   help="accept deprecated method aliases in the file")
