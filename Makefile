# hoptrace — plain Makefile. Quiet unless V=1.
#
#   make            build everything (shim, collector, CLI, guard, policy server)
#   make run        install missing packages, build, start collector + guard (monitor)
#   make check      install missing packages, build, run every test (root for functional)
#   make bench      benchmarks, as ratios against a baseline measured in the same run
#   make asan       the same tests under ASan/UBSan (separate build dir)
#   make fuzz       build the libFuzzer targets (clang); FUZZ_SECONDS=N make fuzz-run
#                   [FUZZ_TARGET=fuzz_graph] (one target only)
#   make install    PREFIX=/usr/local DESTDIR=
#
# Layout: every directory builds an archive of its modules and one program per
# main_*.c file. collector/ also holds the shared code (logging, config, record
# and chain codecs) that the guard and the CLI link.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
OPT     ?= -O2
SAN     ?=
CFLAGS  ?= $(OPT) -g
HT_CFLAGS = $(CFLAGS) $(SAN) -std=gnu11 -Wall -Wextra -Werror -Wshadow \
            -Wno-unused-parameter -D_GNU_SOURCE -Iinclude -MMD -MP
LDLIBS_COMMON = -lnng -lcjson -lmsgpackc -lpthread
LDLIBS_GUARD  = -lnetfilter_queue -lmnl -lcurl

ifeq ($(V),1)
Q =
else
Q = @
endif

# ---- sources -------------------------------------------------------------
PRELOAD_SRC   := $(wildcard preload/*.c)
COLL_LIB_SRC  := $(filter-out collector/main_%.c,$(wildcard collector/*.c))
COLL_MAIN_SRC := $(wildcard collector/main_*.c)
GUARD_LIB_SRC := $(filter-out guard/main_%.c,$(wildcard guard/*.c))
GUARD_MAIN_SRC:= $(wildcard guard/main_*.c)
UNIT_SRC      := $(wildcard tests/unit/*_test.c)
TESTHELP_SRC  := $(wildcard tests/helpers/*.c)
FUZZ_SRC      := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC     := $(wildcard tests/bench/*_bench.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

SHIM      := $(BUILD)/libhoptrace.so
COLL_LIB  := $(BUILD)/libcollector.a
GUARD_LIB := $(BUILD)/libguard.a
PROGS     := $(patsubst collector/main_%.c,$(BUILD)/%,$(COLL_MAIN_SRC)) \
             $(patsubst guard/main_%.c,$(BUILD)/%,$(GUARD_MAIN_SRC))
UNITS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
HELPERS   := $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(TESTHELP_SRC))
BENCHES   := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(BENCH_SRC))

.PHONY: all deps run stop check check-unit check-func bench asan fuzz fuzz-run \
        install uninstall clean demo
all: $(SHIM) $(PROGS) $(UNITS) $(HELPERS) $(BENCHES)

# ---- the shim: only the wrapped libc names are exported --------------------
$(BUILD)/preload/%.o: preload/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(HT_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(SHIM): $(call obj,$(PRELOAD_SRC))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) -shared -fPIC -Wl,-z,defs -Wl,-z,noseparate-code \
	    -Wl,--version-script=preload/exports.map \
	    -o $@ $^ -ldl

# ---- everything else -------------------------------------------------------
$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(HT_CFLAGS) -c -o $@ $<

$(COLL_LIB): $(call obj,$(COLL_LIB_SRC))
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(GUARD_LIB): $(call obj,$(GUARD_LIB_SRC))
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/%: $(BUILD)/collector/main_%.o $(GUARD_LIB) $(COLL_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS_GUARD) $(LDLIBS_COMMON)

$(BUILD)/%: $(BUILD)/guard/main_%.o $(GUARD_LIB) $(COLL_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS_GUARD) $(LDLIBS_COMMON)

$(BUILD)/tests/%_test: $(BUILD)/tests/unit/%_test.o $(GUARD_LIB) $(COLL_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS_GUARD) $(LDLIBS_COMMON)

$(BUILD)/tests/bench/%_bench: $(BUILD)/tests/bench/%_bench.o $(GUARD_LIB) $(COLL_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS_GUARD) $(LDLIBS_COMMON)

$(BUILD)/tests/helpers/%: $(BUILD)/tests/helpers/%.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) -o $@ $^ -lpthread -lutil

# ---- set-up, run, tests ----------------------------------------------------
deps:
	$(Q)sh packaging/deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh packaging/run.sh start

stop:
	$(Q)sh packaging/run.sh stop

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory fuzz
	$(Q)$(MAKE) --no-print-directory asan-build
	$(Q)BUILD=$(BUILD) ASAN_BUILD=$(BUILD)-asan FUZZ_BUILD=$(BUILD)-fuzz sh tests/run.sh

check-unit: all
	$(Q)BUILD=$(BUILD) sh tests/run.sh unit

check-func: all
	$(Q)BUILD=$(BUILD) sh tests/run.sh func

asan-build:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    $(BUILD)-asan/libcollector.a $(BUILD)-asan/libguard.a \
	    $(patsubst $(BUILD)/%,$(BUILD)-asan/%,$(UNITS))

asan: deps
	$(Q)$(MAKE) --no-print-directory asan-build
	$(Q)BUILD=$(BUILD) ASAN_BUILD=$(BUILD)-asan sh tests/run.sh asan

# libFuzzer targets: each tests/fuzz/fuzz_X.c is linked with the ASan build of the
# libraries (clang only; the objects are rebuilt with clang in build-fuzz).
FUZZ_BUILD := $(BUILD)-fuzz
fuzz:
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
	    $(FUZZ_BUILD)/libcollector.a $(FUZZ_BUILD)/libguard.a
	$(Q)for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	    $(if $(Q),echo "  FUZZ    $$n";) \
	    clang -O1 -g -std=gnu11 -D_GNU_SOURCE -Iinclude -Wall -Wextra -Werror \
	      -fsanitize=fuzzer,address,undefined -o $(FUZZ_BUILD)/$$n $$f \
	      $(FUZZ_BUILD)/libguard.a $(FUZZ_BUILD)/libcollector.a \
	      $(LDLIBS_GUARD) $(LDLIBS_COMMON) || exit 1; done

fuzz-run: fuzz
	$(Q)FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$${FUZZ_SECONDS:-60} sh tests/fuzz/run.sh $(FUZZ_TARGET)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) sh tests/bench/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) sh tests/demo.sh

install: $(SHIM) $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/lib/hoptrace $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)/etc/hoptrace
	install -m 0644 $(SHIM) $(DESTDIR)$(PREFIX)/lib/hoptrace/libhoptrace.so
	install -m 0755 $(BUILD)/hoptraced $(DESTDIR)$(PREFIX)/sbin/hoptraced
	install -m 0755 $(BUILD)/hoptrace $(DESTDIR)$(PREFIX)/bin/hoptrace
	for p in hopguard hoptrace-policyd; do [ ! -f $(BUILD)/$$p ] || \
	    install -m 0755 $(BUILD)/$$p $(DESTDIR)$(PREFIX)/sbin/$$p; done
	for m in docs/man/*.8; do [ ! -f $$m ] || install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man8/; done
	[ -f $(DESTDIR)/etc/hoptrace/hoptrace.conf ] || \
	    install -m 0644 packaging/hoptrace.conf $(DESTDIR)/etc/hoptrace/hoptrace.conf

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/hoptrace/libhoptrace.so $(DESTDIR)$(PREFIX)/sbin/hoptraced \
	    $(DESTDIR)$(PREFIX)/bin/hoptrace $(DESTDIR)$(PREFIX)/sbin/hopguard \
	    $(DESTDIR)$(PREFIX)/sbin/hoptrace-policyd

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz

-include $(shell find $(BUILD) $(BUILD)-asan $(BUILD)-fuzz -name '*.d' 2>/dev/null)
