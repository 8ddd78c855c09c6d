# Socket.io peer (the Node.js design plaza replaces), included from the top
# Makefile. See bench/peers/socketio/README.md.
#
#   make peer-socketio-install        npm ci when node_modules is missing or stale
#   make peer-socketio [PORT=3000]    install, then run server.js in the foreground
#                                     (REDIS_URL, TICK_HZ, HOST pass through the environment)

SOCKETIO_PEER_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
# npm ci writes node_modules/.package-lock.json; older than the lock file = stale.
SOCKETIO_PEER_STAMP := $(SOCKETIO_PEER_DIR)/node_modules/.package-lock.json

.PHONY: peer-socketio-install peer-socketio

peer-socketio-install: $(SOCKETIO_PEER_STAMP)

$(SOCKETIO_PEER_STAMP): $(SOCKETIO_PEER_DIR)/package.json $(SOCKETIO_PEER_DIR)/package-lock.json
	cd $(SOCKETIO_PEER_DIR) && npm ci --no-audit --no-fund
	@touch $@

peer-socketio: peer-socketio-install
	cd $(SOCKETIO_PEER_DIR) && PORT=$(or $(PORT),3000) exec node server.js
