"""How an rpc.py sub-command is defined.

Every area module of this package (framework.py, log.py, and later bdev.py,
lvol.py, vhost.py, ...) has two halves:

1. Plain API functions ``name(client, ...)`` that build the parameters and
   return ``client.call(...)``.  Tests and other Python code import these.
2. A ``register(subparsers)`` function that adds one argparse sub-parser per
   command with :func:`add_command`, giving the handler, the printer for the
   result and the retired spellings (argparse aliases).  An alias sends the
   *new* method name on the wire (spec/rpc.md section 3.2); rpc.py warns on
   stderr when one is used.

The CLI (cli.py) finds every module of the package that defines ``register``,
so adding a new area is: drop a module here, nothing else to edit.

Example::

    def bdev_malloc_delete(client, name):
        return client.call("bdev_malloc_delete", {"name": name})

    def register(sub):
        p = add_command(sub, "bdev_malloc_delete",
                        lambda c, a: bdev_malloc_delete(c, a.name),
                        help="Delete a malloc bdev", aliases=["delete_malloc_bdev"])
        p.add_argument("name", help="bdev name")
"""

import json
import shlex


# -- result printers (spec/rpc.md section 3.3) -------------------------------

def print_json(value):
    """Objects, arrays, and the strings shown with quotes (log_get_level)."""
    print(json.dumps(value, indent=2))


def print_string(value):
    """A bare string (or number) without quotes: ``Malloc0``."""
    print(value)


def print_array(value):
    """Names on one line, separated by spaces, shell-quoted where needed."""
    print(" ".join(shlex.quote(str(v)) for v in value))


def print_nothing(value):
    """Setters whose ``true`` result is not shown."""


# -- definition helpers --------------------------------------------------------

def params_of(**kwargs):
    """Parameters dict without the keys whose value is None (never sent)."""
    return {k: v for k, v in kwargs.items() if v is not None}


def add_command(subparsers, name, handler, help, aliases=(), output=print_nothing,
                timeout=None):
    """Register sub-command ``name``.

    ``handler(client, args)`` performs the call(s) and returns the result;
    ``output(result)`` prints it (None: the handler prints by itself).
    ``timeout``: default response timeout for this command when ``-t`` is not
    given (None: the global default).  Returns the sub-parser so the caller
    can add arguments.
    """
    p = subparsers.add_parser(name, aliases=list(aliases), help=help, description=help)
    p.set_defaults(handler=handler, output=output, method_name=name,
                   command_timeout=timeout)
    return p
