/*
 * lvstord: the lvstor daemon. Everything it does is in the libraries and
 * the subsystems linked into it; this file only reads the command line
 * and hands over to lib/app.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "lvstor/app.h"
#include "lvstor/log.h"

int
main(int argc, char **argv)
{
	struct app_opts opts;
	struct stat st;

	app_opts_init(&opts, sizeof(opts));
	opts.name = "lvstord";
	switch (app_parse_args(argc, argv, &opts, NULL, NULL, NULL, NULL)) {
	case APP_PARSE_OK:
		break;
	case APP_PARSE_EXIT:
		return 0;
	default:
		return 1;
	}
	if (opts.vhost_sock_dir &&
	    (stat(opts.vhost_sock_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "lvstord: vhost socket directory '%s' does not exist\n",
			opts.vhost_sock_dir);
		return 1;
	}
	return app_start(&opts, NULL, NULL);
}
