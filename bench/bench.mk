# Benchmarks, included from the top Makefile. See docs/benchmarks.md and
# bench/run/bench.py.
#
#   make bench          plaza vs the Socket.io peer vs the floor: social at
#                       1,000 and 1,500 clients, capacity at p99 <= 50 ms,
#                       crowd, idle; three runs each, medians; writes
#                       bench/results/<date>/ and regenerates docs/benchmarks.md
#                       and docs/bench-*.svg (< 30 min on the 2-core machine)
#   make bench-quick    social at 1,000 clients, one run each, a table on
#                       stdout and bench/results/<date>-quick/ (< 3 min)
#   make bench-scaleout issue 8: social at 1,000 clients on one plaza node,
#                       two plaza nodes + redis-server, the Socket.io peer on
#                       one node and on two with its Redis adapter; 3 runs
#                       each; bench/results/<date>-scaleout/ and a section of
#                       docs/benchmarks.md (< 10 min). PLAZA_REDIS_BIN=path
#                       picks the plaza binary with --redis for two nodes.
#   make bench-event    issue 18: 300 walkers in one room with VIEW radius 40,
#                       compact on and off, against the whole room and the
#                       Socket.io peer; 1,000 with view + compact against
#                       social 1,000; 1,000 on two nodes + redis-server;
#                       3 runs each; bench/results/<date>-event/, a section
#                       of docs/benchmarks.md and docs/bench-event.svg
#                       (< 20 min)
#
# The server runs on CPU 0, the bench on CPU 1 (taskset): nothing else
# should be busy on the machine meanwhile.

BENCH_RUN := bench/run/bench.py

.PHONY: bench bench-quick bench-scaleout bench-event bench-deps

# gnuplot draws the SVG curves; installed only when missing.
bench-deps:
	@if ! command -v gnuplot >/dev/null 2>&1; then \
	  echo "installing: gnuplot-nox"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq gnuplot-nox; \
	fi
	@command -v taskset >/dev/null 2>&1 || { echo "taskset (util-linux) is missing"; exit 1; }

bench: all peer-socketio-install bench-deps
	/usr/bin/python3 $(BENCH_RUN) --full

bench-quick: all peer-socketio-install
	/usr/bin/python3 $(BENCH_RUN) --quick

bench-scaleout: all peer-socketio-install
	/usr/bin/python3 $(BENCH_RUN) --scaleout $(if $(PLAZA_REDIS_BIN),--plaza-redis-bin $(PLAZA_REDIS_BIN))

bench-event: all peer-socketio-install bench-deps
	/usr/bin/python3 bench/run/event.py
