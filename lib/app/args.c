/*
 * lib/app/args.c: the command line every lvstor program shares
 * (spec/rpc.md §4), plus the program's own options.
 *
 * Every rejected option ends in exactly one line on stderr naming the
 * problem, and a non-zero exit: provisioning tools log that line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "lvstor/app.h"
#include "lvstor/cpuset.h"
#include "lvstor/log.h"
#include "lvstor/util.h"

enum {
	OPT_JSON = 0x100,
	OPT_JSON_IGNORE,
	OPT_WAIT_FOR_RPC,
	OPT_RPCS_ALLOWED,
	OPT_NO_RPC_SERVER,
	OPT_IGNORED,
	OPT_IGNORED_ARG,
};

#define COMMON_SHORT "m:p:r:c:s:S:f:L:hvun:i:e:dgR"

static const struct option g_common_long[] = {
	{"cpumask", required_argument, NULL, 'm'},
	{"main-core", required_argument, NULL, 'p'},
	{"rpc-socket", required_argument, NULL, 'r'},
	{"config", required_argument, NULL, 'c'},
	{"json", required_argument, NULL, OPT_JSON},
	{"json-ignore-init-errors", no_argument, NULL, OPT_JSON_IGNORE},
	{"wait-for-rpc", no_argument, NULL, OPT_WAIT_FOR_RPC},
	{"rpcs-allowed", required_argument, NULL, OPT_RPCS_ALLOWED},
	{"no-rpc-server", no_argument, NULL, OPT_NO_RPC_SERVER},
	{"mem-size", required_argument, NULL, 's'},
	{"logflag", required_argument, NULL, 'L'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'v'},
	/* Accepted for compatibility with SPDK command lines; no effect here. */
	{"no-pci", no_argument, NULL, 'u'},
	{"silence-noticelog", no_argument, NULL, OPT_IGNORED},
	{"interrupt-mode", no_argument, NULL, OPT_IGNORED},
	{"disable-cpumask-locks", no_argument, NULL, OPT_IGNORED},
	{"limit-coredump", no_argument, NULL, 'd'},
	{"huge-unlink", no_argument, NULL, 'R'},
	{"single-file-segments", no_argument, NULL, 'g'},
	{"mem-channels", required_argument, NULL, 'n'},
	{"shm-id", required_argument, NULL, 'i'},
	{"huge-dir", required_argument, NULL, OPT_IGNORED_ARG},
	{"iova-mode", required_argument, NULL, OPT_IGNORED_ARG},
};

void
app_opts_init(struct app_opts *opts, size_t size)
{
	struct app_opts d = {
		.opts_size = size,
		.name = "lvstor",
		.core_mask = "0x1",
		.main_core = UINT32_MAX,
		.rpc_addr = APP_DEFAULT_RPC_ADDR,
		.shutdown_timeout_ms = APP_SHUTDOWN_TIMEOUT_MS,
	};

	memset(opts, 0, size);
	memcpy(opts, &d, size < sizeof(d) ? size : sizeof(d));
}

static void
usage(const char *prog, void (*usage_extra)(void))
{
	printf("Usage: %s [options]\n\n"
	       "Options:\n"
	       " -m, --cpumask MASK        cores to run reactors on: 0x3, [0,1] or 0-1 (default 0x1)\n"
	       " -p, --main-core N         main core (default: first core of the mask)\n"
	       " -r, --rpc-socket PATH     JSON-RPC Unix socket (default %s)\n"
	       "     --no-rpc-server       do not start the RPC server\n"
	       " -c, --config, --json FILE apply this JSON configuration at start-up\n"
	       "     --json-ignore-init-errors  carry on when a config entry fails\n"
	       "     --wait-for-rpc        wait for framework_start_init before initialising\n"
	       "     --rpcs-allowed A,B    only these RPC methods are callable\n"
	       " -s, --mem-size SIZE       DMA memory to reserve, MiB or with unit (1G)\n"
	       " -S DIR                    directory for vhost-user sockets (default: cwd)\n"
	       " -f FILE                   write the process id to FILE\n"
	       " -L, --logflag FLAG        enable debug logs of a component (or 'all')\n"
	       " -v, --version             print the version and exit\n"
	       " -h, --help                print this help and exit\n",
	       prog, APP_DEFAULT_RPC_ADDR);
	if (usage_extra)
		usage_extra();
}

static void
fail(const char *prog, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
}

enum app_parse_result
app_parse_args(int argc, char **argv, struct app_opts *opts, const char *extra_short,
	       const struct option *extra_long, int (*parse_extra)(int ch, const char *arg),
	       void (*usage_extra)(void))
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	size_t n_common = COUNTOF(g_common_long), n_extra = 0;
	char shortopts[128];
	struct option *longopts;
	struct cpuset set;
	int ch;

	while (extra_long && extra_long[n_extra].name)
		n_extra++;
	longopts = calloc(n_common + n_extra + 1, sizeof(*longopts));
	if (longopts == NULL)
		return APP_PARSE_ERROR;
	memcpy(longopts, g_common_long, sizeof(g_common_long));
	if (n_extra)
		memcpy(longopts + n_common, extra_long, n_extra * sizeof(*longopts));
	snprintf(shortopts, sizeof(shortopts), "%s%s", COMMON_SHORT, extra_short ? extra_short : "");

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		uint64_t v;

		switch (ch) {
		case 'm':
			if (cpuset_parse(&set, optarg) != 0) {
				fail(prog, "invalid core mask '%s'", optarg);
				goto err;
			}
			opts->core_mask = optarg;
			break;
		case 'p':
			if (parse_u64(optarg, CPUSET_MAX_CPUS - 1, &v) != 0) {
				fail(prog, "invalid main core '%s'", optarg);
				goto err;
			}
			opts->main_core = (uint32_t)v;
			break;
		case 'r':
			if (strlen(optarg) == 0 ||
			    strlen(optarg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
				fail(prog, "RPC socket path '%s' is empty or longer than 107 characters",
				     optarg);
				goto err;
			}
			opts->rpc_addr = optarg;
			break;
		case OPT_NO_RPC_SERVER:
			opts->rpc_addr = NULL;
			break;
		case 'c':
		case OPT_JSON:
			opts->json_config_file = optarg;
			break;
		case OPT_JSON_IGNORE:
			opts->json_ignore_init_errors = true;
			break;
		case OPT_WAIT_FOR_RPC:
			opts->wait_for_rpc = true;
			break;
		case OPT_RPCS_ALLOWED:
			opts->rpcs_allowed = optarg;
			break;
		case 's': {
			uint64_t bytes;

			/* A bare number is MiB (SPDK's -s); with a unit it is that unit. */
			if (parse_u64(optarg, UINT32_MAX, &v) == 0) {
				opts->mem_size_mb = v;
			} else if (parse_capacity(optarg, &bytes) == 0) {
				opts->mem_size_mb = DIV_ROUND_UP(bytes, 1024 * 1024);
			} else {
				fail(prog, "invalid memory size '%s'", optarg);
				goto err;
			}
			break;
		}
		case 'S':
			opts->vhost_sock_dir = optarg;
			break;
		case 'f':
			opts->pid_file = optarg;
			break;
		case 'L':
			if (log_set_flag(optarg) != 0) {
				fail(prog, "unknown log flag '%s'", optarg);
				goto err;
			}
			/* Debug lines need the DEBUG level too, as with SPDK's -L. */
			log_set_print_level(LOG_LEVEL_DEBUG);
			break;
		case 'h':
			usage(prog, usage_extra);
			free(longopts);
			return APP_PARSE_EXIT;
		case 'v':
			printf("%s\n", lvstor_version_string());
			free(longopts);
			return APP_PARSE_EXIT;
		case 'u': case 'd': case 'g': case 'R': case 'n': case 'i': case 'e':
		case OPT_IGNORED: case OPT_IGNORED_ARG:
			break;
		case '?':
			if (optopt)
				fprintf(stderr, "%s: invalid option or missing argument: -%c\n", prog,
					optopt);
			else
				fail(prog, "invalid option or missing argument: '%s'",
				     argv[optind - 1]);
			goto err;
		default:
			if (parse_extra == NULL || parse_extra(ch, optarg) != 0) {
				if (parse_extra == NULL)
					fail(prog, "invalid option '%s'", argv[optind - 1]);
				goto err;
			}
			break;
		}
	}
	if (optind < argc) {
		fail(prog, "unexpected argument '%s'", argv[optind]);
		goto err;
	}
	if (opts->main_core != UINT32_MAX) {
		cpuset_parse(&set, opts->core_mask);
		if (!cpuset_get(&set, opts->main_core)) {
			fprintf(stderr, "%s: main core %u is not in the core mask %s\n", prog,
				opts->main_core, opts->core_mask);
			goto err;
		}
	}
	free(longopts);
	return APP_PARSE_OK;
err:
	free(longopts);
	return APP_PARSE_ERROR;
}
