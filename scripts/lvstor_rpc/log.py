"""Log control commands (spec/rpc.md section 2.1.9)."""

from .commands import add_command, print_json

LEVELS = "ERROR, WARNING, NOTICE, INFO, DEBUG"


def log_set_level(client, level):
    return client.call("log_set_level", {"level": level})


def log_get_level(client):
    return client.call("log_get_level")


def log_set_print_level(client, level):
    return client.call("log_set_print_level", {"level": level})


def log_get_print_level(client):
    return client.call("log_get_print_level")


def log_set_flag(client, flag):
    return client.call("log_set_flag", {"flag": flag})


def log_clear_flag(client, flag):
    return client.call("log_clear_flag", {"flag": flag})


def log_get_flags(client):
    return client.call("log_get_flags")


def register(sub):
    p = add_command(sub, "log_set_level", lambda c, a: log_set_level(c, a.level),
                    help="Set the log level", aliases=["set_log_level"])
    p.add_argument("level", help="log level to set (%s)" % LEVELS)

    add_command(sub, "log_get_level", lambda c, a: log_get_level(c),
                help="Get the log level", aliases=["get_log_level"], output=print_json)

    p = add_command(sub, "log_set_print_level", lambda c, a: log_set_print_level(c, a.level),
                    help="Set the level at which messages are also printed to stderr",
                    aliases=["set_log_print_level"])
    p.add_argument("level", help="print level to set (%s)" % LEVELS)

    add_command(sub, "log_get_print_level", lambda c, a: log_get_print_level(c),
                help="Get the print level", aliases=["get_log_print_level"],
                output=print_json)

    p = add_command(sub, "log_set_flag", lambda c, a: log_set_flag(c, a.flag),
                    help="Enable a log flag", aliases=["set_log_flag", "set_trace_flag"])
    p.add_argument("flag", help="log flag to enable (a component name, or 'all')")

    p = add_command(sub, "log_clear_flag", lambda c, a: log_clear_flag(c, a.flag),
                    help="Disable a log flag", aliases=["clear_log_flag", "clear_trace_flag"])
    p.add_argument("flag", help="log flag to disable (a component name, or 'all')")

    add_command(sub, "log_get_flags", lambda c, a: log_get_flags(c),
                help="Get every log flag and whether it is enabled",
                aliases=["get_log_flags", "get_trace_flags"], output=print_json)
