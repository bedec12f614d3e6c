/*
 * lib/lvol/later.c: completions deferred by one message to the current
 * thread.
 *
 * DESIGN.md: a callback never runs before the function that was given it
 * returns. Errors the lvol layer finds itself (a taken name, a busy lvol)
 * are known inside the call, so they travel through thread_send_msg.
 * Running out of messages or memory here is treated like the blobstore
 * treats it (bs_complete_later): a bug to see at once, not an error to
 * route, because the pools are sized far beyond what is ever in flight.
 */
#include <stdlib.h>

#include "lvstor/log.h"
#include "lvstor/thread.h"

#include "lvol_internal.h"

enum later_kind { LATER_OP, LATER_LVOL, LATER_LVS };

struct later {
	enum later_kind kind;
	union {
		lvol_op_complete op;
		lvol_op_with_handle_complete lvol;
		lvs_op_with_handle_complete lvs;
	} cb;
	void *cb_arg;
	int rc;
};

static void
later_fn(void *ctx)
{
	struct later l = *(struct later *)ctx;

	free(ctx);
	switch (l.kind) {
	case LATER_OP:
		l.cb.op(l.cb_arg, l.rc);
		break;
	case LATER_LVOL:
		l.cb.lvol(l.cb_arg, NULL, l.rc);
		break;
	case LATER_LVS:
		l.cb.lvs(l.cb_arg, NULL, l.rc);
		break;
	}
}

static struct later *
later_new(enum later_kind kind, void *cb_arg, int rc)
{
	struct later *l = malloc(sizeof(*l));

	if (l == NULL || thread_send_msg(thread_get_current(), later_fn, l) != 0) {
		LOG_ERR("lvol: cannot defer a completion (out of memory)\n");
		abort();
	}
	l->kind = kind;
	l->cb_arg = cb_arg;
	l->rc = rc;
	return l;
}

void
lv_op_later(lvol_op_complete cb, void *cb_arg, int rc)
{
	later_new(LATER_OP, cb_arg, rc)->cb.op = cb;
}

void
lv_handle_later(lvol_op_with_handle_complete cb, void *cb_arg, int rc)
{
	later_new(LATER_LVOL, cb_arg, rc)->cb.lvol = cb;
}

void
lvs_handle_later(lvs_op_with_handle_complete cb, void *cb_arg, int rc)
{
	later_new(LATER_LVS, cb_arg, rc)->cb.lvs = cb;
}
