# lvstor build: one non-recursive Makefile.
#
#   make            build every library and program into build/
#   make test       install missing packages, build, run every test
#   make run        install missing packages, build, start lvstord on var/
#   make unit       unit tests only;  make asan-test: unit tests under ASan+UBSan
#   make functional functional tests (real daemon + rpc.py)
#   make bench      benchmarks; writes doc/benchmarks.md
#
# Libraries are lib/<name>/*.c (and module/<kind>/<name>/*.c later), one
# static archive each. Programs are app/<name>/*.c. Unit tests are
# test/unit/<lib>/*_ut.c, one binary per file, linked with the cmocka
# harness in test/unit/common.

BUILD ?= build
SAN ?=
CC ?= gcc
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

# Libraries, highest layer first (link order). Modules are
# module/<kind>/<name>/ (e.g. module/bdev/malloc), one archive each.
LIBS := app lvol blob bdev rpc jsonrpc thread env util log
MODULES := $(patsubst %/,%,$(sort $(dir $(wildcard module/*/*/*.c))))

PKGS := libdpdk libisal jansson uuid liburing
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
DPDK_CFLAGS := $(shell pkg-config --cflags libdpdk 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wmissing-prototypes -Wshadow=local \
	-Wformat=2 -Wno-format-nonliteral
CFLAGS_BASE := -std=gnu11 -g -O2 -fno-strict-aliasing -D_GNU_SOURCE -Iinclude $(WARN) -MMD -MP
ifeq ($(SAN),asan)
CFLAGS_BASE += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS_SAN := -fsanitize=address,undefined
endif
CFLAGS_BASE += $(EXTRA_CFLAGS)
# DPDK's headers (and their -march) only where rte_* is used.
cflags_for = $(CFLAGS_BASE) $(if $(filter lib/env/%,$(1)),$(DPDK_CFLAGS))

LDLIBS := $(PKG_LIBS) -laio -lcmocka -lpthread -lm

lib_srcs = $(wildcard lib/$(1)/*.c)
lib_archive = $(BUILD)/lib/liblvstor_$(1).a
mod_archive = $(BUILD)/lib/liblvstor_mod_$(subst /,_,$(patsubst module/%,%,$(1))).a
ALL_ARCHIVES := $(foreach m,$(MODULES),$(call mod_archive,$(m))) \
	$(foreach l,$(LIBS),$(call lib_archive,$(l)))
# --whole-archive: RPC methods and subsystems register from constructors in
# objects nothing else references; a plain archive link would drop them.
LINK_LIBS = -Wl,--whole-archive $(ALL_ARCHIVES) -Wl,--no-whole-archive $(LDLIBS)

APPS := $(notdir $(wildcard app/*))
APP_BINS := $(foreach a,$(APPS),$(BUILD)/bin/$(a))

UT_COMMON_SRCS := $(wildcard test/unit/common/*.c)
UT_COMMON_OBJS := $(UT_COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
UT_SRCS := $(wildcard test/unit/*/*_ut.c)
UT_BINS := $(patsubst test/unit/%.c,$(BUILD)/test/unit/%,$(UT_SRCS))

BENCH_SRCS := $(wildcard test/bench/*.c)
BENCH_BINS := $(patsubst test/bench/%.c,$(BUILD)/test/bench/%,$(BENCH_SRCS))

.PHONY: all build test run unit asan asan-test functional bench clean pkgdep e2e
all build: $(APP_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(call cflags_for,$<) -c $< -o $@

define lib_rule
$(call lib_archive,$(1)): $(patsubst %.c,$(BUILD)/obj/%.o,$(call lib_srcs,$(1)))
	@mkdir -p $$(dir $$@)
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach l,$(LIBS),$(eval $(call lib_rule,$(l))))

define mod_rule
$(call mod_archive,$(1)): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(1)/*.c))
	@mkdir -p $$(dir $$@)
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call mod_rule,$(m))))

define app_rule
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard app/$(1)/*.c)) $(ALL_ARCHIVES)
	@mkdir -p $$(dir $$@)
	@$(if $(Q),echo "  LD $$@")
	$(Q)$(CC) $(LDFLAGS_SAN) -o $$@ $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard app/$(1)/*.c)) $$(LINK_LIBS)
endef
$(foreach a,$(APPS),$(eval $(call app_rule,$(a))))

$(BUILD)/test/unit/%: $(BUILD)/obj/test/unit/%.o $(UT_COMMON_OBJS) $(ALL_ARCHIVES)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $< $(UT_COMMON_OBJS) $(LINK_LIBS)

$(BUILD)/test/bench/%: $(BUILD)/obj/test/bench/%.o $(ALL_ARCHIVES)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $< $(LINK_LIBS)

unit-build: $(UT_BINS)
bench-build: $(BENCH_BINS) $(APP_BINS)

pkgdep:
	@scripts/pkgdep.sh

# The README's two commands.
test: pkgdep
	@$(MAKE) --no-print-directory all unit-build
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=asan all unit-build
	@scripts/run-tests.sh all

run: pkgdep
	@$(MAKE) --no-print-directory all
	@scripts/run-default.sh

unit: all unit-build
	@scripts/run-tests.sh unit

asan asan-test:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=asan unit-build
	@scripts/run-tests.sh asan

functional: all
	@scripts/run-tests.sh functional

bench: pkgdep
	@$(MAKE) --no-print-directory bench-build
	@scripts/run-bench.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
