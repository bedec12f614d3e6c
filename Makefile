# lvstor build: one non-recursive Makefile.
#
#   make            build every library and program into build/
#   make test       install missing packages, build, run every test
#   make run        install missing packages, build, start lvstord on var/
#   make unit       unit tests only;  make asan-test: unit tests under ASan+UBSan
#   make functional functional tests (real daemon + rpc.py)
#   make e2e        end-to-end tests: a QEMU guest on lvstord's vhost controllers
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
LIBS := app vhost lvol blob bdev rpc jsonrpc thread env util log
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
# DPDK's headers (and their -march) only where rte_* is used (blk_ut.c
# #includes lib/vhost/blk.c to reach its static functions).
DPDK_USERS := lib/env/% lib/vhost/% test/unit/vhost/blk_ut.c
cflags_for = $(CFLAGS_BASE) $(if $(filter $(DPDK_USERS),$(1)),$(DPDK_CFLAGS)) \
	$(if $(filter lib/vhost/%,$(1)),-DALLOW_EXPERIMENTAL_API)

LDLIBS := $(PKG_LIBS) -laio -lcmocka -lpthread -lm

lib_srcs = $(wildcard lib/$(1)/*.c)
lib_archive = $(BUILD)/lib/liblvstor_$(1).a
mod_archive = $(BUILD)/lib/liblvstor_mod_$(subst /,_,$(patsubst module/%,%,$(1))).a
ALL_ARCHIVES := $(foreach m,$(MODULES),$(call mod_archive,$(m))) \
	$(foreach l,$(LIBS),$(call lib_archive,$(l)))
# --whole-archive: RPC methods and subsystems register from constructors in
# objects nothing else references; a plain archive link would drop them.
LINK_LIBS = -Wl,--whole-archive $(ALL_ARCHIVES) -Wl,--no-whole-archive $(LDLIBS)
# Only the daemon serves VMs: the tools (lvstor-perf, -dd, -check) share the
# start-up framework but must not open vhost sockets from a --json config
# (one run in lvstord's -S directory would take over a live socket).
DAEMON_ONLY_LIBS := vhost
TOOL_ARCHIVES := $(filter-out $(foreach l,$(DAEMON_ONLY_LIBS),$(call lib_archive,$(l))),$(ALL_ARCHIVES))
app_link_libs = -Wl,--whole-archive $(if $(filter lvstord,$(1)),$(ALL_ARCHIVES),$(TOOL_ARCHIVES)) \
	-Wl,--no-whole-archive $(LDLIBS)

APPS := $(notdir $(wildcard app/*))
APP_BINS := $(foreach a,$(APPS),$(BUILD)/bin/$(a))

UT_COMMON_SRCS := $(wildcard test/unit/common/*.c)
UT_COMMON_OBJS := $(UT_COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
UT_SRCS := $(wildcard test/unit/*/*_ut.c)
UT_BINS := $(patsubst test/unit/%.c,$(BUILD)/test/unit/%,$(UT_SRCS))

BENCH_SRCS := $(wildcard test/bench/*.c)
BENCH_BINS := $(patsubst test/bench/%.c,$(BUILD)/test/bench/%,$(BENCH_SRCS))

.PHONY: all build test run unit asan asan-test functional bench clean pkgdep pkgdep-e2e e2e
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
	$(Q)$(CC) $(LDFLAGS_SAN) -o $$@ $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard app/$(1)/*.c)) $$(call app_link_libs,$(1))
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

# + QEMU, busybox, kmod, cpio and the guest kernel (unpacked, not installed).
pkgdep-e2e:
	@scripts/pkgdep.sh --e2e

# The README's two commands.
test: pkgdep-e2e
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

e2e: pkgdep-e2e
	@$(MAKE) --no-print-directory all
	@scripts/run-tests.sh e2e

bench: pkgdep
	@$(MAKE) --no-print-directory bench-build
	@scripts/run-bench.sh

# ---- fuzz targets (libFuzzer) -------------------------------------------------
# `make fuzz` builds test/fuzz/*_fuzz.c with clang -fsanitize=fuzzer,address,
# undefined over clang-built, equally instrumented archives of the libraries
# they need (build-fuzz/), then runs each for FUZZ_SECONDS (default 60) from
# its seed corpus test/fuzz/corpus/<target>/ (new inputs go to
# build-fuzz/corpus/<target>/, crashes to build-fuzz/artifacts/). Any crash,
# leak, sanitizer report or timeout fails the target. `make fuzz-corpus`
# regenerates the blobstore seeds.
FUZZ_BUILD := build-fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
# vhost: only guest_mem.o/virtqueue.o are pulled from it (virtqueue_fuzz).
FUZZ_LIBS := vhost blob thread jsonrpc env util log
FUZZ_TARGETS := $(notdir $(basename $(wildcard test/fuzz/*_fuzz.c)))
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -Iinclude -MMD -MP \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	-Wall -Wno-unused-parameter
FUZZ_ARCHIVES := $(foreach l,$(FUZZ_LIBS),$(FUZZ_BUILD)/lib/liblvstor_$(l).a)
FUZZ_LINK = -Wl,--start-group $(FUZZ_ARCHIVES) -Wl,--end-group $(LDLIBS)
# Per target: libFuzzer options (blob: inputs are the first 80 KiB of an image).
FUZZ_OPTS_blob_md_fuzz := -max_len=81920 -timeout=20 -rss_limit_mb=3072 -malloc_limit_mb=2048
FUZZ_OPTS_jsonrpc_fuzz := -max_len=65536 -timeout=20
# virtqueue: 8-byte header + 40 KiB of guest memory (test/fuzz/virtqueue_fuzz.c).
FUZZ_OPTS_virtqueue_fuzz := -max_len=40968 -timeout=10

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [fuzz] $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(if $(filter lib/env/% lib/vhost/%,$<),$(DPDK_CFLAGS)) -c $< -o $@

define fuzz_lib_rule
$(FUZZ_BUILD)/lib/liblvstor_$(1).a: $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(call lib_srcs,$(1)))
	@mkdir -p $$(dir $$@)
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach l,$(FUZZ_LIBS),$(eval $(call fuzz_lib_rule,$(l))))

$(FUZZ_BUILD)/bin/%_fuzz: $(FUZZ_BUILD)/obj/test/fuzz/%_fuzz.o $(FUZZ_BUILD)/obj/test/unit/common/ut_threads.o $(FUZZ_ARCHIVES)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD [fuzz] $@")
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(FUZZ_LINK)

$(FUZZ_BUILD)/bin/blob_md_corpus_gen: $(FUZZ_BUILD)/obj/test/fuzz/blob_md_corpus_gen.o $(FUZZ_BUILD)/obj/test/unit/common/ut_threads.o $(FUZZ_BUILD)/obj/test/unit/common/ut_fault_dev.o $(FUZZ_ARCHIVES)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) -fsanitize=address,undefined -o $@ $^ $(FUZZ_LINK)

.PHONY: fuzz fuzz-build fuzz-corpus
.PRECIOUS: $(FUZZ_BUILD)/obj/%.o
fuzz-build: $(foreach t,$(FUZZ_TARGETS),$(FUZZ_BUILD)/bin/$(t))

fuzz:
	@scripts/pkgdep.sh --fuzz
	@$(MAKE) --no-print-directory fuzz-build
	$(Q)failed=""; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts test/fuzz/corpus/$$t; \
		echo "  FUZZ $$t for $(FUZZ_SECONDS) s (log: $(FUZZ_BUILD)/$$t.log)"; \
		opts=""; \
		[ "$$t" = blob_md_fuzz ] && opts="$(FUZZ_OPTS_blob_md_fuzz)"; \
		[ "$$t" = jsonrpc_fuzz ] && opts="$(FUZZ_OPTS_jsonrpc_fuzz)"; \
		[ "$$t" = virtqueue_fuzz ] && opts="$(FUZZ_OPTS_virtqueue_fuzz)"; \
		$(FUZZ_BUILD)/bin/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- $$opts \
			$(FUZZ_BUILD)/corpus/$$t test/fuzz/corpus/$$t > $(FUZZ_BUILD)/$$t.log 2>&1; \
		rc=$$?; \
		grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' \
			$(FUZZ_BUILD)/$$t.log | sed 's/^/    /'; \
		if [ $$rc -ne 0 ]; then \
			grep -E -A40 '^==[0-9]+== *ERROR' $(FUZZ_BUILD)/$$t.log | head -60; \
			grep -E '^artifact_prefix|Test unit written' $(FUZZ_BUILD)/$$t.log; \
			echo "FUZZ $$t: FAILED (exit $$rc)"; \
			failed="$$failed $$t"; \
		fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed"; exit 1; fi; \
	echo "fuzz: no crash, leak or hang"

fuzz-corpus: $(FUZZ_BUILD)/bin/blob_md_corpus_gen
	@mkdir -p test/fuzz/corpus/blob_md_fuzz
	$(FUZZ_BUILD)/bin/blob_md_corpus_gen test/fuzz/corpus/blob_md_fuzz

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(if $(filter fuzz%,$(MAKECMDGOALS)),$(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null))
