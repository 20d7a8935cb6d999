# dedup - find and remove duplicated text.
#
#   make            build bin/dedup and bin/shingle
#   make deps       install the Debian packages that are missing (apt-get, as root)
#   make check      deps, build, then every test, also on an ASan+UBSan build
#   make check-valgrind  the end-to-end tests under valgrind memcheck (slow)
#   make demo       deps, build, and scan the seed fixtures
#   make fuzz       the libFuzzer targets, FUZZ_SECONDS (60) each (clang)
#   make install    install binaries, man pages and LICENSE (PREFIX, DESTDIR)
#   make clean      remove everything the build made

CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR    = $(PREFIX)/bin
MANDIR    = $(PREFIX)/share/man/man1
DOCDIR    = $(PREFIX)/share/doc/dedup

# Debian packages the build and the tests need. libsodium is optional for the
# build (keyed hashing); it is installed so that the full feature set is tested.
# slurm-wlm and munge: tests/e2e/slurm.sh runs the Slurm executor on a
# single-node cluster that tests/slurm/cluster.sh starts on this machine.
DEB_PACKAGES = gcc make pkg-config python3 time libicu-dev libxxhash-dev libcmocka-dev \
               libjansson-dev libsodium-dev groff-base groff man-db \
               zlib1g-dev libzstd-dev zstd gzip git pre-commit liblmdb-dev \
               clang libclang-rt-14-dev valgrind strace slurm-wlm munge

PKGS        = icu-uc icu-i18n libxxhash jansson zlib libzstd
HAVE_SODIUM := $(shell pkg-config --exists libsodium 2>/dev/null && echo 1)
ifeq ($(HAVE_SODIUM),1)
  PKGS     += libsodium
  SODIUM_DEF = -DDD_HAVE_SODIUM=1
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# LMDB has no pkg-config file on Debian 12.
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -llmdb -pthread
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE_CFLAGS = -std=c11 -pthread -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) $(SODIUM_DEF) \
              -Ishingle -Idedup $(PKG_CFLAGS)
CFLAGS  ?= -O2 -g
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRC  = $(sort $(wildcard shingle/*.c))

DEDUP_SRC = $(sort $(wildcard dedup/*.c dedup/*/*.c))
UNIT_SRC  = $(sort $(wildcard tests/unit/test_*.c))
HEADERS   = $(wildcard shingle/*.h dedup/*.h dedup/*/*.h)
TEST_HEADERS = $(wildcard tests/unit/*.h)

# Objects of the normal build go to build/, of the sanitizer build to build/asan/.
obj = $(patsubst %.c,$(1)/%.o,$(2))

.PHONY: all deps check check-asan check-valgrind demo install uninstall clean test-build config fuzz
all: config bin/dedup bin/shingle

config:
ifeq ($(HAVE_SODIUM),1)
	@echo "build: libsodium found: keyed hashing (--key-file, dedup keygen) is available"
else
	@echo "build: libsodium not found: building without keyed hashing (--key-file and dedup keygen will say so)"
endif

bin/dedup: $(call obj,build,$(DEDUP_SRC)) $(call obj,build,$(LIB_SRC))
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lm

bin/shingle: build/shingle/cli/shingle.o $(call obj,build,$(LIB_SRC))
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lm

build/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -c -o $@ $<

build/asan/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

build/asan/bin/dedup: $(call obj,build/asan,$(DEDUP_SRC)) $(call obj,build/asan,$(LIB_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(PKG_LIBS) -lm

build/asan/bin/shingle: build/asan/shingle/cli/shingle.o $(call obj,build/asan,$(LIB_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(PKG_LIBS) -lm

# A ThreadSanitizer build (clang), run by hand on the tests of -j:
#   make build/tsan/bin/dedup && DEDUP=build/tsan/bin/dedup ... tests/e2e/threads.sh
TSAN_CC    ?= clang
TSAN_FLAGS  = -O1 -g -fsanitize=thread -fno-omit-frame-pointer
build/tsan/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(BASE_CFLAGS) $(TSAN_FLAGS) -c -o $@ $<
# signature.c is not instrumented: the resolvers of its target_clones run
# before the ThreadSanitizer runtime is set up and would crash at start.
build/tsan/shingle/signature.o: shingle/signature.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(BASE_CFLAGS) -O1 -g -c -o $@ $<
build/tsan/bin/dedup: $(call obj,build/tsan,$(DEDUP_SRC)) $(call obj,build/tsan,$(LIB_SRC))
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(TSAN_FLAGS) -o $@ $^ $(PKG_LIBS) -lm

# The same program built without libsodium (only keys.c differs), for the
# test that --key-file then says the build lacks it.
build/nosodium/dedup/io/keys.o: dedup/io/keys.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -DDD_HAVE_SODIUM=1,$(BASE_CFLAGS)) $(CFLAGS) -c -o $@ $<
build/nosodium/bin/dedup: build/nosodium/dedup/io/keys.o $(call obj,build,$(filter-out dedup/io/keys.c,$(DEDUP_SRC))) $(call obj,build,$(LIB_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(filter-out -lsodium,$(PKG_LIBS)) -lm

# Unit tests link the library and the program's modules (all but main.c).
DEDUP_MODULES = $(filter-out dedup/cmd/main.c,$(DEDUP_SRC))
build/tests/%: tests/unit/%.c $(call obj,build,$(DEDUP_MODULES)) $(call obj,build,$(LIB_SRC)) $(HEADERS) $(TEST_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Idedup $(CFLAGS) -o $@ $< $(call obj,build,$(DEDUP_MODULES)) \
	    $(call obj,build,$(LIB_SRC)) $(PKG_LIBS) $(CMOCKA_LIBS) -lm
build/asan/tests/%: tests/unit/%.c $(call obj,build/asan,$(DEDUP_MODULES)) $(call obj,build/asan,$(LIB_SRC)) $(HEADERS) $(TEST_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Idedup $(ASAN_FLAGS) -o $@ $< $(call obj,build/asan,$(DEDUP_MODULES)) \
	    $(call obj,build/asan,$(LIB_SRC)) $(PKG_LIBS) $(CMOCKA_LIBS) -lm

UNIT_BINS      = $(patsubst tests/unit/%.c,build/tests/%,$(UNIT_SRC))
UNIT_BINS_ASAN = $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRC))

# Fuzz targets (tests/fuzz/fuzz_*.c). make check replays their seed corpora
# and regression inputs through tests/fuzz/driver.c on the gcc builds;
# make fuzz runs them under libFuzzer (clang) for FUZZ_SECONDS each.
FUZZ_SRC     = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES   = $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC))
FUZZ_REPLAY  = $(patsubst %,build/tests/%,$(FUZZ_NAMES))
FUZZ_REPLAY_ASAN = $(patsubst %,build/asan/tests/%,$(FUZZ_NAMES))
build/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_check.h tests/fuzz/fuzz_index.h tests/fuzz/driver.c $(call obj,build,$(DEDUP_MODULES)) $(call obj,build,$(LIB_SRC)) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Idedup $(CFLAGS) -o $@ $< tests/fuzz/driver.c \
	    $(call obj,build,$(DEDUP_MODULES)) $(call obj,build,$(LIB_SRC)) $(PKG_LIBS) -lm
build/asan/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_check.h tests/fuzz/fuzz_index.h tests/fuzz/driver.c $(call obj,build/asan,$(DEDUP_MODULES)) $(call obj,build/asan,$(LIB_SRC)) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Idedup $(ASAN_FLAGS) -o $@ $< tests/fuzz/driver.c \
	    $(call obj,build/asan,$(DEDUP_MODULES)) $(call obj,build/asan,$(LIB_SRC)) $(PKG_LIBS) -lm

FUZZ_CC      ?= clang
FUZZ_FLAGS    = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_SECONDS ?= 60
FUZZ_BINS     = $(patsubst %,build/fuzz/bin/%,$(FUZZ_NAMES))
build/fuzz/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE_CFLAGS) -Idedup $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
# Kept after a link (make deletes intermediate files otherwise, and every
# target would build the library again).
.PRECIOUS: build/fuzz/%.o
build/fuzz/bin/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(call obj,build/fuzz,$(DEDUP_MODULES)) $(call obj,build/fuzz,$(LIB_SRC))
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm -lstdc++

test-build: all $(UNIT_BINS) build/asan/bin/dedup build/asan/bin/shingle $(UNIT_BINS_ASAN) \
            build/nosodium/bin/dedup $(FUZZ_REPLAY) $(FUZZ_REPLAY_ASAN)

# deps runs first in its own make so that pkg-config sees what it installed.
check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory test-build
	@tests/run.sh

check-asan:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory test-build
	@tests/run.sh asan

# The end-to-end tests with the normal build under valgrind memcheck (slow:
# not part of check).
check-valgrind:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory test-build
	@tests/run.sh valgrind

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' \
	        || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	    echo "make deps: missing Debian packages:$$missing (run make deps as root)" >&2; exit 1; \
	fi; \
	echo "make deps: installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@echo
	@echo '$$ bin/dedup scan --format text fixtures/seeds'
	@bin/dedup scan --format text fixtures/seeds; \
	    st=$$?; echo "(exit status $$st: 0 nothing found, 1 duplicates found, 2 error)"; \
	    [ $$st -le 1 ]

# Each target runs FUZZ_SECONDS on a copy of its seed corpus under
# build/fuzz/corpus-NAME (new inputs stay there, out of the tree); a crash
# leaves build/fuzz/crash-NAME-* and fails the run.
fuzz:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_NAMES); do \
	    mkdir -p build/fuzz/corpus-$$t; \
	    cp -n tests/fuzz/corpus/$$t/* build/fuzz/corpus-$$t/ 2>/dev/null || true; \
	    echo "make fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp:print_suppressions=0 build/fuzz/bin/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=4096 \
	        -max_len=65536 -print_final_stats=1 -artifact_prefix=build/fuzz/crash-$$t- \
	        build/fuzz/corpus-$$t 2>build/fuzz/log-$$t.txt \
	        || { tail -60 build/fuzz/log-$$t.txt; echo "make fuzz: $$t FAILED"; exit 1; }; \
	    grep -E '^stat::(number_of_executed_units|average_exec_per_sec)|cov:' build/fuzz/log-$$t.txt | tail -3; \
	done; echo "make fuzz: every target ran $(FUZZ_SECONDS) s without a crash"

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(DOCDIR)
	install -m 755 bin/dedup bin/shingle $(DESTDIR)$(BINDIR)/
	install -m 644 man/dedup.1 man/shingle.1 $(DESTDIR)$(MANDIR)/
	install -m 644 LICENSE $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/dedup $(DESTDIR)$(BINDIR)/shingle
	rm -f $(DESTDIR)$(MANDIR)/dedup.1 $(DESTDIR)$(MANDIR)/shingle.1
	rm -f $(DESTDIR)$(DOCDIR)/LICENSE
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

clean:
	rm -rf build bin bench/.data
