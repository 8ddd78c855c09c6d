# The TypeScript client package and the demo page, included from the top
# Makefile. See clients/ts and docs/client.md.
#
#   make client-test    npm ci (when needed), build the package, run its
#                       tests against build/plaza and the browser test
#   make demo-bundle    rebuild clients/ts/demo/bundle/demo.js (commit it)

TS_DIR := clients/ts
TS_SRC := $(wildcard $(TS_DIR)/src/*.ts $(TS_DIR)/demo/*.ts) \
	$(TS_DIR)/tsconfig.json $(TS_DIR)/tsconfig.cjs.json \
	$(TS_DIR)/tsconfig.demo.json $(TS_DIR)/scripts/build.mjs
TS_STAMP := $(TS_DIR)/node_modules/.plaza-ci-stamp

# chromium for the browser test; Node.js and npm only when there is no
# `node` at all: a newer Node already installed is never replaced.
CLIENT_DEBS := chromium $(if $(shell command -v node),,nodejs npm)

.PHONY: client-deps client-build client-test demo-bundle

client-deps:
	$(call apt_install,$(CLIENT_DEBS))

# npm ci only when node_modules is missing or the lock file changed (it
# builds dist/ too: the package's "prepare" script).
$(TS_STAMP): $(TS_DIR)/package-lock.json
	cd $(TS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# dist/esm (import) and dist/cjs (require), then the demo type-checked.
$(TS_DIR)/dist/esm/index.js: $(TS_STAMP) $(TS_SRC)
	cd $(TS_DIR) && node scripts/build.mjs && \
	  node_modules/.bin/tsc -p tsconfig.demo.json

client-build: $(TS_DIR)/dist/esm/index.js

demo-bundle: $(TS_STAMP)
	cd $(TS_DIR) && node scripts/build-demo.mjs

client-test: client-deps
	$(MAKE) $(BUILD)/plaza client-build
	cd $(TS_DIR) && PLAZA_BIN=$(CURDIR)/$(BUILD)/plaza \
	  node --test --test-reporter=spec test/*.test.mjs
