# plaza: build, run and test.
#
#   make            build build/plaza, build/plaza-cli, build/plaza-bench
#   make run        install missing Debian packages, build, run on :8080
#   make test       install missing Debian packages, build, run every test
#                   (unit tests plain, under ASan+UBSan and under TSan; the
#                   TypeScript client; the integration suite likewise)
#   make client-test  the TypeScript client's tests and the browser test
#   make SANITIZER=address|undefined|thread   instrumented build
#
# The user's CFLAGS/LDFLAGS are kept and ours composed around them.

VERSION := 0.1.0
BUILD ?= build
CC ?= cc

PKGS := libuv msgpack hiredis libssl libcrypto jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lwslay -lhttp_parser

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
OPT := -O2 -g
SAN :=
ifneq ($(SANITIZER),)
SAN := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
OPT := -O1 -g
# gcc 12's format-truncation analysis misfires on UBSan's null checks.
WARN += -Wno-format-truncation
endif
ALL_CFLAGS = -std=gnu11 $(WARN) $(OPT) $(SAN) -MMD -MP -pthread \
	-Iinclude $(INC) -DPZ_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(SAN) -pthread $(LDFLAGS)
LIBS := $(PKG_LIBS) -lm

# Sources by product. src/proto: the codec, shared by everything; the server
# in layers (src/core, src/net, shards, src/bus, src/cluster, src/server);
# clients/c: the C client library; clients/cli: plaza-cli.
PROTO_SRC := $(wildcard src/proto/*.c)
CLIENT_SRC := $(wildcard clients/c/*.c)
SERVER_SRC := $(wildcard src/core/*.c src/net/*.c shards/*.c src/bus/*.c \
	src/cluster/*.c) \
	$(filter-out src/server/main.c,$(wildcard src/server/*.c))
CLI_SRC := $(wildcard clients/cli/*.c)
BENCH_SRC := $(wildcard bench/*.c)
FLOOR_SRC := $(wildcard bench/floor/*.c)
TLS_RECORDS_SRC := $(wildcard bench/tls_records/*.c)
UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
ITEST_SRC := $(wildcard tests/integration/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# The build enforces the layers: each folder is compiled with the include
# paths of itself and the layers below it, and nothing else. The server
# reaches the Redis back end (src/cluster) only through src/bus/bus.h: its
# include path is not the server's.
L_CORE := -Isrc/core
L_NET := $(L_CORE) -Isrc/net
L_SHARDS := $(L_CORE) -Ishards
L_BUS := $(L_SHARDS) -Isrc/bus
L_CLUSTER := $(L_BUS) -Isrc/proto -Isrc/cluster
L_SERVER := $(L_CORE) -Isrc/net -Ishards -Isrc/bus -Isrc/server -I$(BUILD)/gen
$(BUILD)/obj/src/proto/%.o: INC = -Isrc/proto
$(BUILD)/obj/src/core/%.o: INC = $(L_CORE)
$(BUILD)/obj/src/net/%.o: INC = $(L_NET)
$(BUILD)/obj/shards/%.o: INC = $(L_SHARDS)
$(BUILD)/obj/src/bus/%.o: INC = $(L_BUS)
$(BUILD)/obj/src/cluster/%.o: INC = $(L_CLUSTER)
$(BUILD)/obj/src/server/%.o: INC = $(L_SERVER)
$(BUILD)/obj/clients/c/%.o: INC = -Iclients/c
$(BUILD)/obj/clients/cli/%.o: INC = -Iclients/cli
$(BUILD)/obj/bench/%.o: INC = -Iclients/c -Ibench -Isrc/proto
$(BUILD)/obj/tests/unit/%.o: INC = $(L_SERVER) -Iclients/c
$(BUILD)/obj/tests/unit/cluster/%.o: INC = $(L_CLUSTER) -Iclients/c
$(BUILD)/obj/tests/unit/bench/%.o: INC = -Iclients/c -Ibench -Isrc/proto
$(BUILD)/obj/tests/unit/proto/%.o: INC = -Isrc/proto
$(BUILD)/obj/tests/integration/%.o: INC = -Iclients/c
PROTO_LIB := $(BUILD)/libplaza-proto.a
CLIENT_LIB := $(BUILD)/libplaza-client.a
SERVER_LIB := $(BUILD)/libplaza-server.a
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ITEST_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(ITEST_SRC))

PROGRAMS := $(BUILD)/plaza $(BUILD)/plaza-cli
ifneq ($(BENCH_SRC),)
PROGRAMS += $(BUILD)/plaza-bench
endif
ifneq ($(FLOOR_SRC),)
PROGRAMS += $(BUILD)/plaza-floor
endif
ifneq ($(TLS_RECORDS_SRC),)
PROGRAMS += $(BUILD)/tls-records
endif

# Keep intermediate objects (no trailing `rm` after the test summary) and
# keep recursive makes quiet about directories: the test runner's summary
# must be the last line `make test` prints.
.SECONDARY:
MAKEFLAGS += --no-print-directory

.PHONY: all run test unit unit-sanitized unit-tsan integration \
	integration-sanitized integration-tsan deps test-deps clean format \
	k8s-validate-deps
all: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(PROTO_LIB): $(call obj,$(PROTO_SRC))
	@rm -f $@; ar rcs $@ $^
$(CLIENT_LIB): $(call obj,$(CLIENT_SRC))
	@rm -f $@; ar rcs $@ $^
$(SERVER_LIB): $(call obj,$(SERVER_SRC))
	@rm -f $@; ar rcs $@ $^

$(BUILD)/plaza: $(call obj,src/server/main.c) $(SERVER_LIB) $(PROTO_LIB)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@
$(BUILD)/plaza-cli: $(call obj,$(CLI_SRC)) $(CLIENT_LIB) $(PROTO_LIB)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@
$(BUILD)/plaza-bench: $(call obj,$(BENCH_SRC)) $(CLIENT_LIB) $(PROTO_LIB)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@
$(BUILD)/plaza-floor: $(call obj,$(FLOOR_SRC))
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@
$(BUILD)/tls-records: $(call obj,$(TLS_RECORDS_SRC))
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

# The demo page plaza serves at GET /, embedded into the binary
# (src/server/static_assets.c). The bundle is committed: building needs
# python3, not npm (clients/ts/client.mk rebuilds it).
DEMO_ASSETS := clients/ts/demo/index.html clients/ts/demo/bundle/demo.js
$(BUILD)/gen/static_assets_data.inc: src/server/static_assets.py $(DEMO_ASSETS)
	@mkdir -p $(dir $@)
	python3 src/server/static_assets.py $@ $(DEMO_ASSETS)
$(BUILD)/obj/src/server/static_assets.o: $(BUILD)/gen/static_assets_data.inc

# Unit tests link the server, client and codec libraries, never main.o.
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(SERVER_LIB) $(CLIENT_LIB) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -lcmocka -o $@
$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(CLIENT_LIB) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

# Debian packages: what building, running and testing need. Installed only
# when missing, so a prepared machine never touches apt.
RUN_DEBS := build-essential pkg-config libuv1-dev libwslay-dev libmsgpack-dev \
	libhiredis-dev libssl-dev libhttp-parser-dev uthash-dev python3 \
	libjansson-dev
# haproxy, prometheus (for promtool) and curl: the docker/ files are checked
# with the tools that read them (tests/integration/test_docker_files.py,
# test_cluster_topology.py, test_front_door.py); openssl makes the TLS tests'
# certificates and runs s_client; iproute2 (ip netns) cuts a node off in the
# partition test. docker/k8s is rendered with kubectl kustomize (Debian's
# kubernetes-client, unless a kubectl is installed already: another
# source's package owns /usr/bin/kubectl and cannot sit beside it) and read
# with python3-yaml.
TEST_DEBS := libcmocka-dev redis-server python3 python3-websockets docker-compose \
	python3-msgpack python3-pytest python3-jwt haproxy prometheus curl \
	openssl iproute2 python3-yaml $(if $(shell command -v kubectl),,kubernetes-client)
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef
deps:
	$(call apt_install,$(RUN_DEBS))
test-deps: deps
	$(call apt_install,$(TEST_DEBS))

run: deps
	$(MAKE) all
	$(BUILD)/plaza $(ARGS)

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

# The unit tests run again under the sanitizers, each binary on its own as
# above: under ASan+UBSan (a memory error, a leak or undefined behaviour
# fails the binary) and under TSan (the mailbox, the connection layer and
# every test with threads; any race fails it). They build into the same
# directories as the integration suite's instrumented server, so every
# object is built once per build.
unit-sanitized:
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(MAKE) BUILD=$(BUILD)-san SANITIZER=address,undefined unit

unit-tsan:
	TSAN_OPTIONS=suppressions=$(CURDIR)/tests/tsan.supp:halt_on_error=1:exitcode=66 \
	  $(MAKE) BUILD=$(BUILD)-tsan SANITIZER=thread unit

# pytest prints why each skipped test was skipped (-rs). Under CI=true a
# test that would skip for want of a tool fails instead (conftest.py):
# `make test` installs every tool, so such a skip would hide a broken
# install step.
integration: all $(ITEST_BINS) k8s-validate-deps
	/usr/bin/python3 -m pytest -q -rs tests/integration

# The integration suite runs twice: against the shipped build, then against
# an ASan+UBSan build of the server where any memory error or undefined
# behaviour aborts the process and fails the test that caused it.
integration-sanitized: k8s-validate-deps
	$(MAKE) BUILD=$(BUILD)-san SANITIZER=address,undefined $(BUILD)-san/plaza
	PLAZA_BIN=$(CURDIR)/$(BUILD)-san/plaza \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider tests/integration \
	    --ignore=tests/integration/test_bench_tool.py

# And against a ThreadSanitizer build: any data race makes plaza print the
# report and exit 66 at once (halt_on_error), which fails the test that
# caused it (conftest wants exit 0 and shows the report). tests/tsan.supp
# is where a known false positive would be listed with its reason; it
# lists none (its comment says why the last one went). The C clients of
# the suite come from the plain build. Everything runs, the bench against plaza
# included (100 clients moving: the most concurrent test there is; it passes
# under TSan); only test_bench_against_floor is left out, since it never
# starts plaza and `make integration` has already run it.
integration-tsan: k8s-validate-deps
	$(MAKE) all $(ITEST_BINS)
	$(MAKE) BUILD=$(BUILD)-tsan SANITIZER=thread $(BUILD)-tsan/plaza
	PLAZA_BIN=$(CURDIR)/$(BUILD)-tsan/plaza \
	  TSAN_OPTIONS=suppressions=$(CURDIR)/tests/tsan.supp:halt_on_error=1:exitcode=66 \
	  /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider tests/integration \
	    --deselect tests/integration/test_bench_tool.py::test_bench_against_floor

test: test-deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) unit-sanitized
	$(MAKE) unit-tsan
	$(MAKE) client-test
	$(MAKE) integration
	$(MAKE) integration-tsan
	$(MAKE) integration-sanitized

# The offline validator of docker/k8s (tests/k8s: kubernetes-models and
# TypeScript, pinned by its lock file); npm ci only when the lock changed.
K8S_STAMP := tests/k8s/node_modules/.package-lock.json
$(K8S_STAMP): tests/k8s/package.json tests/k8s/package-lock.json
	cd tests/k8s && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
k8s-validate-deps: $(K8S_STAMP)

format:
	clang-format -i $(wildcard src/*/*.c src/*/*.h shards/*.c shards/*.h \
	  clients/*/*.c clients/*/*.h include/plaza/*.h bench/*.c bench/*.h \
	  bench/*/*.c tests/unit/*/*.c tests/unit/*/*.h tests/integration/*.c)

clean:
	rm -rf $(BUILD) $(BUILD)-san $(BUILD)-tsan

include clients/ts/client.mk
include bench/peers/socketio/peer.mk
include bench/bench.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Fuzzing (clang's libFuzzer + ASan): `make fuzz FUZZ_SECONDS=60` runs each
# target seeded with the committed corpus tests/fuzz/corpus/<name>, which it
# only reads. libFuzzer writes what it finds into the first corpus directory
# it is given, so that is $(BUILD)/fuzz/corpus-new/<name>, and crash files
# go to $(BUILD)/fuzz/: the tree stays clean. To keep inputs worth having,
# merge them in deliberately:
#   build/fuzz/fuzz_X -merge=1 tests/fuzz/corpus/X build/fuzz/corpus-new/X
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude $(L_NET) $(PKG_CFLAGS)
.PHONY: fuzz
fuzz:
	@mkdir -p $(BUILD)/fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	  clang $(FUZZ_CFLAGS) tests/fuzz/$$t.c $(PROTO_SRC) src/net/http.c src/net/ws.c \
	    src/net/proxy.c src/core/addr.c src/core/alloc.c src/core/log.c \
	    -o $(BUILD)/fuzz/$$t $(PKG_LIBS) -lm; \
	  mkdir -p $(BUILD)/fuzz/corpus-new/$${t#fuzz_}; \
	  $(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	    -artifact_prefix=$(BUILD)/fuzz/ \
	    $(BUILD)/fuzz/corpus-new/$${t#fuzz_} tests/fuzz/corpus/$${t#fuzz_}; \
	done
