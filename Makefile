# hoptrace — plain Makefile. Quiet unless V=1.
#
#   make            build everything (shim, collector, CLI, guard, policy server)
#   make run        install missing packages, build, start collector + guard (monitor)
#   make check      install missing packages, build, run every test (root for functional)
#   make bench      benchmarks, as ratios against a baseline measured in the same run
#   make asan       the same tests under ASan/UBSan (separate build dir)
#   make fuzz       build the libFuzzer targets (clang); FUZZ_SECONDS=N make fuzz-run
#                   [FUZZ_TARGET=fuzz_graph] (one target only)
#   make install    PREFIX=/usr/local DESTDIR= (LIBDIR= UNITDIR= SYSCONFDIR=)
#   make deb        the Debian package $(BUILD)/hoptrace_VERSION_ARCH.deb (debhelper,
#                   packaging/debian/), then lintian on it
#   make man-lint   mandoc -Tlint on every page in docs/man
#
# Layout: one folder per part (below, "sources"); each builds an archive of its
# modules, and a program folder's main.c is its program.

PREFIX  ?= /usr/local
DESTDIR ?=
# Install directories. The Debian package sets LIBDIR to the multiarch
# directory (/usr/lib/x86_64-linux-gnu); `hoptrace env/enable` look for the
# shim at ../lib/hoptrace, ../lib/MULTIARCH/hoptrace and next to themselves.
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
PKGLIBDIR  ?= $(LIBDIR)/hoptrace
LIBEXECDIR ?= $(PREFIX)/libexec/hoptrace
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
MULTIARCH  := $(shell $(CC) -print-multiarch 2>/dev/null)
VERSION    := $(shell dpkg-parsechangelog -l packaging/debian/changelog -SVersion 2>/dev/null)
BUILD   ?= build
CC      ?= cc
OPT     ?= -O2
SAN     ?=
CFLAGS  ?= $(OPT) -g
HT_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(SAN) -std=gnu11 -Wall -Wextra -Werror -Wshadow \
            -Wno-unused-parameter -D_GNU_SOURCE -Iinclude -MMD -MP

ifeq ($(V),1)
Q =
else
Q = @
endif

# ---- sources -------------------------------------------------------------
# Each folder is one part (docs/architecture.md "Layout"):
#   common/    libcommon.a  code every program links; includes only include/
#   policy/    libpolicy.a  the access-list engine and the policy-server client
#   collector/ hoptraced    (main.c + libcollector.a)
#   cli/       hoptrace     (main.c + libcli.a, one cmd_*.c per subcommand)
#   guard/     hopguard     (main.c + libguard.a)
#   policyd/   hoptrace-policyd
#   preload/   libhoptrace.so, the shim (links nothing of ours)
PRELOAD_SRC   := $(wildcard preload/*.c)
LIB_PARTS     := common policy collector cli guard
lib_src = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
UNIT_SRC      := $(wildcard tests/unit/*_test.c)
TESTHELP_SRC  := $(wildcard tests/helpers/*.c)
FUZZ_SRC      := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC     := $(wildcard tests/bench/*_bench.c)

UNIT_IN       := $(wildcard packaging/systemd/*.service.in packaging/systemd/*.timer.in)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

SHIM       := $(BUILD)/libhoptrace.so
COMMON_LIB := $(BUILD)/libcommon.a
POLICY_LIB := $(BUILD)/libpolicy.a
COLL_LIB   := $(BUILD)/libcollector.a
CLI_LIB    := $(BUILD)/libcli.a
GUARD_LIB  := $(BUILD)/libguard.a
ALL_LIBS   := $(CLI_LIB) $(GUARD_LIB) $(COLL_LIB) $(POLICY_LIB) $(COMMON_LIB)
PROGS      := $(BUILD)/hoptraced $(BUILD)/hoptrace $(BUILD)/hopguard $(BUILD)/hoptrace-policyd
UNITS      := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
HELPERS    := $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(TESTHELP_SRC))
BENCHES    := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(BENCH_SRC))

MBED := -lmbedtls -lmbedx509 -lmbedcrypto -lssl -lcrypto
# per-program link lists: each program links the parts and system libraries it uses
LIBS_hoptraced        := $(COLL_LIB) $(COMMON_LIB)
SYS_hoptraced         = -lnng -lcurl -lcjson -lpthread $(MBED) $(KEV_LIBS)
LIBS_hoptrace         := $(CLI_LIB) $(POLICY_LIB) $(COMMON_LIB)
SYS_hoptrace          := -lnng -lcurl -lcjson -lpthread $(MBED)
LIBS_hopguard         := $(GUARD_LIB) $(POLICY_LIB) $(COMMON_LIB)
SYS_hopguard          := -lnetfilter_queue -lmnl -lcurl -lcjson -lpthread $(MBED)
LIBS_hoptrace-policyd := $(POLICY_LIB) $(COMMON_LIB)
SYS_hoptrace-policyd  := -lcurl -lcjson -lpthread $(MBED)
MAIN_hoptraced        := collector/main.c
MAIN_hoptrace         := cli/main.c
MAIN_hopguard         := guard/main.c
MAIN_hoptrace-policyd := policyd/main.c
# tests and benchmarks may reach into any part
SYS_ALL = -lnetfilter_queue -lmnl -lnng -lcurl -lcjson -lpthread $(MBED) $(KEV_LIBS)

.PHONY: all progs libs deps run stop check check-unit check-func bench asan fuzz fuzz-run \
        install uninstall clean demo deb man-lint
all: $(SHIM) $(PROGS) $(UNITS) $(HELPERS) $(BENCHES)
progs: $(SHIM) $(PROGS)
libs: $(ALL_LIBS)

# ---- kernel events (collector/kev.c, docs/collector.md "Kernel events") -----
# The BPF programs (collector/bpf/kev.bpf.c) are compiled by clang against a
# vmlinux.h that bpftool dumps from this machine's BTF, and embedded in a
# skeleton header (both in $(BUILD)/kev, never committed); CO-RE relocates
# them on the kernel they load on. When clang, bpftool, libbpf or the BTF is
# missing (or KEV=0) collector/kev.c builds as a stub that says so.
BPFTOOL     ?= $(firstword $(shell command -v bpftool 2>/dev/null) $(wildcard /usr/sbin/bpftool /sbin/bpftool))
BPF_CLANG   ?= clang
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
KEV_ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
KEV         ?= 1
KEV_MISSING := $(strip $(if $(filter 0,$(KEV)),KEV=0) $(if $(BPFTOOL),,bpftool) \
                 $(if $(shell command -v $(BPF_CLANG) 2>/dev/null),,clang) \
                 $(if $(shell pkg-config --exists libbpf 2>/dev/null && echo y),,libbpf-dev) \
                 $(if $(wildcard $(VMLINUX_BTF)),,$(VMLINUX_BTF)))
KEV_DIR     := $(BUILD)/kev
ifeq ($(KEV_MISSING),)
KEV_LIBS := -lbpf
$(BUILD)/collector/kev.o: HT_CFLAGS += -DHT_KEV -I$(KEV_DIR)
$(BUILD)/collector/kev.o: $(KEV_DIR)/kev.skel.h
$(BUILD)/collector/kiter.o: HT_CFLAGS += -DHT_KEV -I$(KEV_DIR)
$(BUILD)/collector/kiter.o: $(KEV_DIR)/kiter.skel.h
$(KEV_DIR)/vmlinux.h:
	@mkdir -p $(@D)
	@$(if $(Q),echo "  BTF     $@")
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c >$@.tmp && mv $@.tmp $@
$(KEV_DIR)/kev.bpf.o: collector/bpf/kev.bpf.c collector/bpf/kev_event.h $(KEV_DIR)/vmlinux.h
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(KEV_ARCH) -Wall -Wextra -Werror \
	    -I$(KEV_DIR) -Icollector/bpf -c -o $@ $<
$(KEV_DIR)/kev.skel.h: $(KEV_DIR)/kev.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name kev_bpf >$@.tmp && mv $@.tmp $@
$(KEV_DIR)/kiter.bpf.o: collector/bpf/kiter.bpf.c collector/bpf/kiter_event.h $(KEV_DIR)/vmlinux.h
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(KEV_ARCH) -Wall -Wextra -Werror \
	    -I$(KEV_DIR) -Icollector/bpf -c -o $@ $<
$(KEV_DIR)/kiter.skel.h: $(KEV_DIR)/kiter.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name kiter_bpf >$@.tmp && mv $@.tmp $@
else
KEV_LIBS :=
$(BUILD)/collector/kev.o: HT_CFLAGS += -DHT_KEV_MISSING='"missing at build time: $(KEV_MISSING)"'
$(BUILD)/collector/kiter.o: HT_CFLAGS += -DHT_KEV_MISSING='"missing at build time: $(KEV_MISSING)"'
endif

# ---- the shim: only the wrapped libc names are exported --------------------
$(BUILD)/preload/%.o: preload/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(HT_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(SHIM): $(call obj,$(PRELOAD_SRC))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -shared -fPIC -Wl,-z,defs -Wl,-z,noseparate-code \
	    -Wl,--version-script=preload/exports.map \
	    -o $@ $^ -ldl

# ---- everything else -------------------------------------------------------
# the CLI knows the multiarch directory the package puts the shim in
$(call obj,$(wildcard cli/*.c)): HT_CFLAGS += -DHT_MULTIARCH='"$(MULTIARCH)"'

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(HT_CFLAGS) -c -o $@ $<

define part_lib
$(BUILD)/lib$(1).a: $$(call obj,$$(call lib_src,$(1)))
	@$$(if $$(Q),echo "  AR      $$@")
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach p,$(LIB_PARTS),$(eval $(call part_lib,$(p))))

define program
$(BUILD)/$(1): $$(call obj,$$(MAIN_$(1))) $$(LIBS_$(1))
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CC) $$(CFLAGS) $$(SAN) $$(LDFLAGS) -o $$@ $$^ $$(SYS_$(1))
endef
$(foreach p,hoptraced hoptrace hopguard hoptrace-policyd,$(eval $(call program,$(p))))

$(BUILD)/tests/%_test: $(BUILD)/tests/unit/%_test.o $(ALL_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(SYS_ALL)

$(BUILD)/tests/bench/%_bench: $(BUILD)/tests/bench/%_bench.o $(ALL_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(SYS_ALL)

# the stand-in collector reads rings with the collector's own reader
$(BUILD)/tests/helpers/rec_sink: $(BUILD)/common/ring.o
$(BUILD)/tests/helpers/bench_shim: $(BUILD)/common/ring.o
# (uring_connect, uring_accept: liburing, Debian's liburing-dev —
# tests/func/kev_uring.sh, kev_uring_accept.sh)
$(BUILD)/tests/helpers/uring_connect: HELPER_LIBS = -luring
$(BUILD)/tests/helpers/uring_accept: HELPER_LIBS = -luring
$(BUILD)/tests/helpers/%: $(BUILD)/tests/helpers/%.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ -lpthread -lutil $(HELPER_LIBS)

# The systemd units and the logrotate config get the install paths when they
# are installed (packaging/systemd/*.service.in, packaging/logrotate.in).
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
            -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

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

check-unit: $(UNITS)
	$(Q)BUILD=$(BUILD) sh tests/run.sh unit

check-func: all
	$(Q)BUILD=$(BUILD) sh tests/run.sh func

asan-build:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    $(patsubst $(BUILD)/%,$(BUILD)-asan/%,$(ALL_LIBS)) $(BUILD)-asan/hoptraced \
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
	    $(patsubst $(BUILD)/%,$(FUZZ_BUILD)/%,$(ALL_LIBS))
	$(Q)for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	    $(if $(Q),echo "  FUZZ    $$n";) \
	    clang -O1 -g -std=gnu11 -D_GNU_SOURCE -Iinclude -Wall -Wextra -Werror \
	      -fsanitize=fuzzer,address,undefined -o $(FUZZ_BUILD)/$$n $$f \
	      $(patsubst $(BUILD)/%,$(FUZZ_BUILD)/%,$(ALL_LIBS)) \
	      $(SYS_ALL) || exit 1; done

fuzz-run: fuzz
	$(Q)FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$${FUZZ_SECONDS:-60} sh tests/fuzz/run.sh $(FUZZ_TARGET)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) sh tests/bench/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) sh tests/demo.sh

install: $(SHIM) $(PROGS)
	install -d $(DESTDIR)$(PKGLIBDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/hoptrace $(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(UNITDIR)
	install -m 0644 $(SHIM) $(DESTDIR)$(PKGLIBDIR)/libhoptrace.so
	install -m 0755 $(BUILD)/hoptraced $(DESTDIR)$(SBINDIR)/hoptraced
	install -m 0755 $(BUILD)/hoptrace $(DESTDIR)$(BINDIR)/hoptrace
	for p in hopguard hoptrace-policyd; do [ ! -f $(BUILD)/$$p ] || \
	    install -m 0755 $(BUILD)/$$p $(DESTDIR)$(SBINDIR)/$$p; done
	install -m 0755 packaging/hopguard-cleanup $(DESTDIR)$(LIBEXECDIR)/hopguard-cleanup
	install -m 0755 packaging/next-steps.sh $(DESTDIR)$(LIBEXECDIR)/next-steps
	for m in docs/man/*.5; do [ ! -f $$m ] || install -m 0644 $$m $(DESTDIR)$(MANDIR)/man5/; done
	for m in docs/man/*.8; do [ ! -f $$m ] || install -m 0644 $$m $(DESTDIR)$(MANDIR)/man8/; done
	for u in $(UNIT_IN); do n=$${u##*/}; $(SUBST) $$u >$(DESTDIR)$(UNITDIR)/$${n%.in} && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$${n%.in} || exit 1; done
	$(SUBST) packaging/logrotate.in >$(DESTDIR)$(SYSCONFDIR)/logrotate.d/hoptrace
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/logrotate.d/hoptrace
	[ -f $(DESTDIR)$(SYSCONFDIR)/hoptrace/hoptrace.conf ] || \
	    install -m 0644 packaging/hoptrace.conf $(DESTDIR)$(SYSCONFDIR)/hoptrace/hoptrace.conf
	[ -f $(DESTDIR)$(SYSCONFDIR)/hoptrace/policy.acl ] || \
	    install -m 0644 packaging/policy.acl $(DESTDIR)$(SYSCONFDIR)/hoptrace/policy.acl

uninstall:
	rm -f $(DESTDIR)$(PKGLIBDIR)/libhoptrace.so $(DESTDIR)$(SBINDIR)/hoptraced \
	    $(DESTDIR)$(BINDIR)/hoptrace $(DESTDIR)$(SBINDIR)/hopguard \
	    $(DESTDIR)$(SBINDIR)/hoptrace-policyd $(DESTDIR)$(LIBEXECDIR)/hopguard-cleanup \
	    $(DESTDIR)$(LIBEXECDIR)/next-steps $(DESTDIR)$(SYSCONFDIR)/logrotate.d/hoptrace
	for u in $(UNIT_IN); do n=$${u##*/}; rm -f $(DESTDIR)$(UNITDIR)/$${n%.in}; done
	for m in docs/man/*.[58]; do rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done

# The Debian package, built by Debian's own tooling from a copy of the tree
# (the files git knows, or the whole tree when this is not a git checkout) with
# packaging/debian as debian/. Needs debhelper, dpkg-dev, fakeroot, lintian
# (packaging/deps.sh installs them).
DEB_ARCH := $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null)
DEB      := $(BUILD)/hoptrace_$(VERSION)_$(DEB_ARCH).deb
deb: deps
	$(Q)rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/hoptrace-$(VERSION)
	$(Q)if git rev-parse --git-dir >/dev/null 2>&1; then \
	    git ls-files -z --cached --others --exclude-standard | \
	      grep -zv '^$(BUILD)' | xargs -0 cp --parents -t $(BUILD)/deb/hoptrace-$(VERSION); \
	else tar --exclude='./$(BUILD)*' -cf - . | tar -xf - -C $(BUILD)/deb/hoptrace-$(VERSION); fi
	$(Q)rm -rf $(BUILD)/deb/hoptrace-$(VERSION)/debian && \
	    cp -a packaging/debian $(BUILD)/deb/hoptrace-$(VERSION)/debian
	$(Q)cd $(BUILD)/deb/hoptrace-$(VERSION) && \
	    dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 || { tail -n 40 ../build.log; exit 1; }
	$(Q)cp $(BUILD)/deb/hoptrace_$(VERSION)_$(DEB_ARCH).deb $(DEB)
	$(Q)echo "  DEB     $(DEB)"
	$(Q)lintian --fail-on error,warning --info $(DEB)

man-lint:
	$(Q)sh tests/func/package_man.sh

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz

-include $(shell find $(BUILD) $(BUILD)-asan $(BUILD)-fuzz -path '$(BUILD)/deb' -prune -o -name '*.d' -type f -print 2>/dev/null)
