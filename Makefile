# heapline - plain GNU make. `make help` lists the targets.
#
#   make            build collector (libheapline.so) and the heapline program
#   make deps       install missing Debian packages (root, or sudo)
#   make test       deps + build + every test CI runs
#   make demo       deps + build + the leaky demo service under heapline
#   make bench      overhead against the bare run and heaptrack, file size, scan speed
#   make bench-ab A=DIR B=DIR   two builds' overhead, interleaved runs (python3, sqlite3, churn)
#   make stress     misbehaving clients against a 2M-block program: issue 12's figures
#   make asan       unit tests under AddressSanitizer + UBSan (build-asan/)
#   make fuzz       libFuzzer targets, FUZZ_TIME seconds each (build-fuzz/)
#   make install    PREFIX=/usr/local DESTDIR= (program, collector, header, man page,
#                   bash completion; make uninstall removes them)
#
# BUILD=dir puts every output under dir (default build/), so several trees of
# objects can live side by side. V=1 shows the commands.

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
FUZZ_TIME ?= 30
CC       ?= cc
CXX      ?= c++
WERROR   ?= 0
SANITIZER ?=

PKGS_CFLAGS := $(shell pkg-config --cflags msgpack libunwind libdw libzstd ncursesw cmocka 2>/dev/null)
MSGPACK_LIBS := $(shell pkg-config --libs msgpack 2>/dev/null || echo -lmsgpackc)
ZSTD_LIBS    := $(shell pkg-config --libs libzstd 2>/dev/null || echo -lzstd)
UNWIND_LIBS  := $(shell pkg-config --libs libunwind 2>/dev/null || echo -lunwind)
UPTRACE_LIBS := $(shell pkg-config --libs libunwind-ptrace 2>/dev/null || \
                  echo -lunwind-ptrace -lunwind-generic -lunwind)
DW_LIBS      := $(shell pkg-config --libs libdw 2>/dev/null || echo -ldw -lelf)
CURSES_LIBS  := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo)
CMOCKA_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)
# `heapline` takes ncurses, msgpack and zstd from their archives when those are installed
# (each -lNAME whose libNAME.a the compiler finds; else the shared library): ld.so then maps
# and relocates four libraries fewer before `heapline record` can start the program
# (heapline --version: 1.30 -> 0.94 ms, perf stat -r 300). libunwind-ptrace and the libunwind
# libraries it needs are loaded by attach when it first unwinds a thread (tui/attach_unw.h).
static_of = $(foreach f,$(1),$(if $(filter -l%,$(f)),$(or $(wildcard $(shell \
              $(CC) -print-file-name=lib$(f:-l%=%).a)),$(f)),$(f)))
BIN_LIBS     := $(call static_of,$(CURSES_LIBS) $(MSGPACK_LIBS) $(ZSTD_LIBS))
# The collector takes msgpack and zstd from their archives too when those link into a shared
# object without text relocations (position-independent code, as Debian builds them); its
# version script keeps their names local, so a program's own libzstd or msgpack-c is never
# interposed. ld.so then maps and relocates two libraries fewer before every recorded
# program's main (a program that returns at once, preloaded in sampling mode: 1.57 -> 1.37 ms
# over its bare run, 500 rounds), and an attach needs only libunwind in the program's root.
# When the archives do not link, the collector uses the shared libraries, as before, and
# $(BUILD)/libheapline.ar.log says why.
COLL_AR_LIBS := $(call static_of,$(MSGPACK_LIBS) $(ZSTD_LIBS))

WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -Wvla -Wpointer-arith
ifeq ($(WERROR),1)
WARN     += -Werror
endif
OPT      ?= -O2 -g
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -MMD -MP $(PKGS_CFLAGS) -Iprotocol
ifneq ($(SANITIZER),)
CFLAGS_ALL += -fsanitize=$(SANITIZER) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZER)
endif
CFLAGS_ALL += $(CFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

PROTO_SRC := $(wildcard protocol/*.c)
COLL_SRC  := $(wildcard collector/*.c)
TUI_SRC   := $(wildcard tui/*.c)
PROTO_OBJ := $(PROTO_SRC:%.c=$(BUILD)/%.o)
PROTO_PIC := $(PROTO_SRC:%.c=$(BUILD)/pic/%.o)
COLL_OBJ  := $(COLL_SRC:%.c=$(BUILD)/pic/%.o)
TUI_OBJ   := $(TUI_SRC:%.c=$(BUILD)/%.o)
TUI_LIBOBJ := $(filter-out $(BUILD)/tui/main.o,$(TUI_OBJ))

LIB     := $(BUILD)/libheapline.so
BIN     := $(BUILD)/heapline
PROTOLIB := $(BUILD)/libhlproto.a
TUILIB  := $(BUILD)/libhltui.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps format-check test unit integration backrefs attach cli tools stress stress-short e2e fuzz-smoke demo bench bench-ab asan fuzz install uninstall \
        clean format help
all: $(LIB) $(BIN)

help:
	@sed -n '1,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

# Objects also depend on the flags they were built with, so WERROR=1 (or OPT,
# CFLAGS, SANITIZER) after a plain build recompiles instead of saying nothing
# is to be done: the stamp is rewritten only when the flags differ.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW   := $(CC) $(CFLAGS_ALL) $(LDFLAGS)
$(shell mkdir -p $(BUILD) && { echo '$(FLAGS_NOW)' | cmp -s - $(FLAGS_STAMP) || \
    echo '$(FLAGS_NOW)' > $(FLAGS_STAMP); })

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/pic/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC [pic] $<")
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -fvisibility=hidden -ftls-model=initial-exec \
	    -fno-omit-frame-pointer -c $< -o $@

$(PROTOLIB): $(PROTO_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(TUILIB): $(TUI_LIBOBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB): $(COLL_OBJ) $(PROTO_PIC) collector/heapline.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $(COLL_OBJ) $(PROTO_PIC) -Wl,--version-script=collector/heapline.map \
	    -Wl,-z,nodelete -Wl,-z,text $(LDFLAGS) $(UNWIND_LIBS) $(COLL_AR_LIBS) -lpthread -ldl -lm \
	    2>$(BUILD)/libheapline.ar.log || \
	$(CC) -shared -o $@ $(COLL_OBJ) $(PROTO_PIC) -Wl,--version-script=collector/heapline.map \
	    -Wl,-z,nodelete $(LDFLAGS) $(UNWIND_LIBS) $(MSGPACK_LIBS) $(ZSTD_LIBS) \
	    -lpthread -ldl -lm

$(BIN): $(BUILD)/tui/main.o $(TUILIB) $(PROTOLIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) $(BIN_LIBS) -ldl -lm

# Unit tests: one binary per tests/unit/test_<stem>.c, linked with the protocol
# and the TUI library (never the collector, which defines malloc). A test of a
# collector module names its objects in TEST_OBJS_<stem> below.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(TUILIB) $(PROTOLIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CFLAGS_ALL) -Itui -Icollector -o $@ $< $(TEST_OBJS_$*) $(TUILIB) $(PROTOLIB) \
	    $(LDFLAGS) $(CMOCKA_LIBS) $(CURSES_LIBS) $(MSGPACK_LIBS) $(ZSTD_LIBS) -lm $(TEST_LIBS_$*)

# --- per-test extra objects (append here) ---
OWNMAPS_OBJ := $(BUILD)/pic/collector/ownmaps.o
HEAPWALK_OBJS := $(BUILD)/pic/collector/heapwalk.o $(BUILD)/pic/collector/heaparena.o \
                 $(BUILD)/pic/collector/heapchunk.o
SCAN_OBJS := $(BUILD)/pic/collector/scan.o $(BUILD)/pic/collector/scanbfs.o \
             $(BUILD)/pic/collector/scanblocks.o $(BUILD)/pic/collector/scanwords.o \
             $(BUILD)/pic/collector/scanpy.o $(BUILD)/pic/collector/scanpydeque.o \
             $(BUILD)/pic/collector/scanroots.o $(BUILD)/pic/collector/demangle.o \
             $(BUILD)/pic/collector/scansp.o $(BUILD)/pic/collector/debugfile.o $(OWNMAPS_OBJ) \
             $(BUILD)/pic/collector/scanheap.o $(HEAPWALK_OBJS) \
             $(BUILD)/pic/collector/procmaps.o $(BUILD)/pic/collector/untracked.o \
             $(BUILD)/pic/collector/pymheap.o $(BUILD)/pic/collector/heaptls.o
TEST_OBJS_scanblocks := $(BUILD)/pic/collector/scanblocks.o
$(BUILD)/tests/test_scanblocks: $(BUILD)/pic/collector/scanblocks.o
TEST_OBJS_scan := $(SCAN_OBJS)
TEST_LIBS_scan := -lpthread
$(BUILD)/tests/test_scan: $(SCAN_OBJS)
LIVE_OBJS := $(BUILD)/pic/collector/live.o $(BUILD)/pic/collector/liveside.o \
             $(BUILD)/pic/collector/livepair.o $(BUILD)/pic/collector/liveepoch.o \
             $(BUILD)/pic/collector/prefault.o $(OWNMAPS_OBJ)
TEST_OBJS_live := $(LIVE_OBJS)
TEST_LIBS_live := -lpthread
$(BUILD)/tests/test_live: $(LIVE_OBJS)
TEST_OBJS_trie := $(BUILD)/pic/collector/trie.o $(OWNMAPS_OBJ)
TEST_LIBS_trie := -lpthread
$(BUILD)/tests/test_trie: $(BUILD)/pic/collector/trie.o $(OWNMAPS_OBJ)
TEST_OBJS_defstore := $(BUILD)/pic/collector/defstore.o
$(BUILD)/tests/test_defstore: $(BUILD)/pic/collector/defstore.o
TEST_OBJS_triestall := $(OWNMAPS_OBJ)
$(BUILD)/tests/test_triestall: collector/trie.c $(OWNMAPS_OBJ)
NORM_OBJS := $(BUILD)/pic/collector/normalise.o $(LIVE_OBJS) $(BUILD)/pic/collector/sites.o
TEST_OBJS_normalise := $(NORM_OBJS)
TEST_LIBS_normalise := -lpthread
$(BUILD)/tests/test_normalise: $(NORM_OBJS)
TEST_OBJS_sites := $(BUILD)/pic/collector/sites.o
$(BUILD)/tests/test_sites: $(BUILD)/pic/collector/sites.o
TEST_OBJS_elfpages := $(BUILD)/pic/collector/elfpages.o
$(BUILD)/tests/test_elfpages: $(BUILD)/pic/collector/elfpages.o
TEST_OBJS_scansp := $(BUILD)/pic/collector/scansp.o
TEST_LIBS_scansp := -lpthread
$(BUILD)/tests/test_scansp: $(BUILD)/pic/collector/scansp.o
TEST_OBJS_stamp := $(BUILD)/pic/collector/stamp.o
$(BUILD)/tests/test_stamp: $(BUILD)/pic/collector/stamp.o
TEST_OBJS_pylayout := $(BUILD)/pic/collector/pylayout.o
$(BUILD)/tests/test_pylayout: $(BUILD)/pic/collector/pylayout.o
TEST_OBJS_untracked := $(BUILD)/pic/collector/untracked.o
$(BUILD)/tests/test_untracked: $(BUILD)/pic/collector/untracked.o
HEAPTLS_OBJS := $(BUILD)/pic/collector/heaptls.o $(BUILD)/pic/collector/scanroots.o \
                $(BUILD)/pic/collector/debugfile.o $(OWNMAPS_OBJ)
TEST_OBJS_heapwalk := $(HEAPWALK_OBJS) $(BUILD)/pic/collector/procmaps.o $(HEAPTLS_OBJS)
TEST_LIBS_heapwalk := -lpthread
$(BUILD)/tests/test_heapwalk: $(HEAPWALK_OBJS) $(BUILD)/pic/collector/procmaps.o $(HEAPTLS_OBJS) \
                              tests/unit/heapimage.h
CFITAB_OBJS := $(BUILD)/pic/collector/cfitab.o $(BUILD)/pic/collector/ehframe.o
TEST_OBJS_cfitab := $(CFITAB_OBJS)
$(BUILD)/tests/test_cfitab: $(CFITAB_OBJS)
TEST_OBJS_scanpydeque := $(BUILD)/pic/collector/scanpydeque.o
$(BUILD)/tests/test_scanpydeque: $(BUILD)/pic/collector/scanpydeque.o
TEST_OBJS_pymheap := $(BUILD)/pic/collector/pymheap.o $(BUILD)/pic/collector/procmaps.o
$(BUILD)/tests/test_pymheap: $(BUILD)/pic/collector/pymheap.o $(BUILD)/pic/collector/procmaps.o
TEST_OBJS_sample := $(BUILD)/pic/collector/sample.o
TEST_LIBS_sample := -lpthread
$(BUILD)/tests/test_sample: $(BUILD)/pic/collector/sample.o
TEST_OBJS_symfile := $(BUILD)/pic/collector/symfile.o $(BUILD)/pic/collector/dwlib.o
TEST_LIBS_symfile := -ldl -lpthread
$(BUILD)/tests/test_symfile: $(BUILD)/pic/collector/symfile.o $(BUILD)/pic/collector/dwlib.o
# --- end per-test ---

DEB_PKGS := build-essential pkg-config libncurses-dev libunwind-dev libmsgpack-dev libcmocka-dev \
            libdw-dev libelf-dev libzstd-dev tmux clang libclang-rt-14-dev gdb sqlite3 \
            util-linux procps file zstd python3 time heaptrack valgrind chromium clang-format \
            libgoogle-perftools4
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all present"; fi

# Each suite script runs under a time limit (tests/limit.sh): a hang fails its
# suite with one line, where it held CI until CI's own limit. The suites take
# 0.5-3 minutes each here.
SUITE_TIMEOUT ?= 900
SUITE = tests/limit.sh $(SUITE_TIMEOUT)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "  RUN     $$t"; $$t; done

integration: all
	$(Q)BUILD=$(BUILD) $(SUITE) tests/collector/run.sh

e2e: all
	$(Q)BUILD=$(BUILD) $(SUITE) tests/e2e/run.sh
	$(Q)BUILD=$(BUILD) $(SUITE) tests/e2e/python.sh
	$(Q)BUILD=$(BUILD) $(SUITE) tests/e2e/cxx.sh

backrefs: all
	$(Q)BUILD=$(BUILD) $(SUITE) tests/backrefs/run.sh
	$(Q)BUILD=$(BUILD) $(SUITE) tests/backrefs/heapwalk.sh

# heapline attach / record --pid on programs started without heapline
attach: all
	$(Q)BUILD=$(BUILD) $(SUITE) tests/attach/run.sh

# misbehaving clients against a program under the collector (tests/stress/run.py):
# the short form in make test, issue 12's figures exactly in make stress
stress-short: all
	$(Q)BUILD=$(BUILD) $(SUITE) tests/stress/run.py

stress: all
	$(Q)BUILD=$(BUILD) tests/stress/run.py --full
	$(Q)BUILD=$(BUILD) tests/attach/run.sh --cycles 100

cli: all
	$(Q)BUILD=$(BUILD) $(SUITE) tests/cli/run.sh

tools: all
	$(Q)BUILD=$(BUILD) $(SUITE) tests/tools/run.sh

test: deps
	$(Q)$(MAKE) --no-print-directory format-check
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory integration
	$(Q)$(MAKE) --no-print-directory backrefs
	$(Q)$(MAKE) --no-print-directory attach
	$(Q)$(MAKE) --no-print-directory stress-short
	$(Q)$(MAKE) --no-print-directory cli
	$(Q)$(MAKE) --no-print-directory tools
	$(Q)$(MAKE) --no-print-directory e2e
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_TIME=5
	@echo "make test: all passed"

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) assets/demo.sh

bench: all
	$(Q)BUILD=$(BUILD) tests/bench/run.sh

# two builds against each other, interleaved: make bench-ab A=DIR B=DIR (each built with make BUILD=DIR)
bench-ab:
	$(Q)tests/bench/ab.sh $(A) $(B)

asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SANITIZER=address,undefined OPT="-O1 -g" unit

# libFuzzer targets: tests/fuzz/fuzz_<name>.c, corpus in tests/fuzz/corpus/<name>/
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(PROTO_SRC) $(TUI_SRC) collector/cfitab.c collector/ehframe.c
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    $(PKGS_CFLAGS) -Iprotocol -Itui -o $@ $< $(PROTO_SRC) $(filter-out tui/main.c,$(TUI_SRC)) \
	    $(CURSES_LIBS) $(MSGPACK_LIBS) $(ZSTD_LIBS) $(UPTRACE_LIBS) -lm
# the collector's reader of a snapshot's heap: alone (no TUI, no collector hooks)
HEAPWALK_SRC := collector/heapwalk.c collector/heaparena.c collector/heapchunk.c
build-fuzz/fuzz_heapwalk: tests/fuzz/fuzz_heapwalk.c $(HEAPWALK_SRC) collector/heapwalk.h \
                          collector/heapwalk_int.h collector/heaparena.h collector/heapchunk.h \
                          collector/procmaps.c tests/unit/heapimage.h
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -Icollector -o $@ $< $(HEAPWALK_SRC) collector/procmaps.c
# the reader of pymalloc's pools in a snapshot: alone
build-fuzz/fuzz_pymheap: tests/fuzz/fuzz_pymheap.c collector/pymheap.c collector/pymheap.h \
                         collector/procmaps.c
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -Icollector -o $@ $< collector/pymheap.c collector/procmaps.c
fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$${f#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus-$$n; \
	    echo "  RUN     $$f ($(FUZZ_TIME)s)"; \
	    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $$f -max_total_time=$(FUZZ_TIME) -max_len=65536 -print_final_stats=0 -artifact_prefix=build-fuzz/ \
	        build-fuzz/corpus-$$n tests/fuzz/corpus/$$n >build-fuzz/$$n.log 2>&1 \
	        || { tail -40 build-fuzz/$$n.log; exit 1; }; done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/heapline $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/heapline
	install -m 755 $(LIB) $(DESTDIR)$(PREFIX)/lib/heapline/libheapline.so
	install -m 644 collector/heapline.h $(DESTDIR)$(PREFIX)/include/heapline.h
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 644 tui/heapline.1 $(DESTDIR)$(PREFIX)/share/man/man1/heapline.1
	install -m 644 tui/heapline.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/heapline

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/heapline $(DESTDIR)$(PREFIX)/lib/heapline/libheapline.so \
	    $(DESTDIR)$(PREFIX)/include/heapline.h $(DESTDIR)$(PREFIX)/share/man/man1/heapline.1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/heapline
	-rmdir $(DESTDIR)$(PREFIX)/lib/heapline

clean:
	rm -rf build build-asan build-fuzz $(BUILD)

FORMAT_FILES = $(PROTO_SRC) $(COLL_SRC) $(TUI_SRC) protocol/*.h collector/*.h tui/*.h \
	       tests/unit/*.c tests/unit/*.h tests/fuzz/*.c
format:
	clang-format -i $(FORMAT_FILES)

# make test fails on any source file that differs from .clang-format's layout
format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_FILES) || \
	    { echo "format-check: run 'make format'"; exit 1; }

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
