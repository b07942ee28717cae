# tailnet — top-level build and test entry points.
#   make demo   run the main job (local tailnet + MicroPython node)
#   make test   install what is missing, build, run the test suite
#   make host   build the MicroPython unix-port firmware with our C modules and frozen package
SHELL := /bin/bash
REPO := $(abspath .)
BUILD ?= $(REPO)/build
export BUILD
JOBS ?= 2
PYTHON ?= python3
GOBIN_DIR := $(BUILD)/go/bin
HOST_BIN := $(BUILD)/host/micropython
MPY_CROSS := $(BUILD)/host/mpy-cross
# Set for the unix port: system mbedTLS (Debian patch), no btree (lib/ is empty in +ds).
UNIX_OPTS := MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=1 MICROPY_PY_BTREE=0 MICROPY_PY_FFI=1

.PHONY: all deps apt-deps py-deps micropython-src host mpy-cross testnet-tools demo test natmod host32 host32-esp \
        test-fast test-interop test-slow clean distclean firmware flash

all: host

# ---- dependencies ------------------------------------------------------------
deps: apt-deps

apt-deps:
	@$(REPO)/tools/install-deps.sh

py-deps:
	@$(PYTHON) -m pip install -q --disable-pip-version-check -r tests/requirements.txt

micropython-src:
	@$(REPO)/firmware/fetch-micropython.sh >/dev/null

# ---- host firmware -------------------------------------------------------------
host: $(HOST_BIN)
.PHONY: $(HOST_BIN)
$(HOST_BIN):
	@$(REPO)/firmware/build-host.sh

mpy-cross: host

# 32-bit unix port: the memory evidence for 32-bit boards (tests/host/test_control_interop.py)
host32:
	@$(REPO)/tests/host/control/build_host32.sh

# 32-bit with mbedTLS allocating from libc (as ESP-IDF's does): the ESP32 heap stand-in
host32-esp:
	@TLS_HEAP=libc $(REPO)/tests/host/control/build_host32.sh

# ---- boards (see boards/README.md) ----------------------------------------------
firmware:
	@$(REPO)/firmware/build-board.sh $(BOARD)

natmod:
	@$(REPO)/natmod/build.sh

flash:
	@$(REPO)/tools/flash $(if $(BOARD),--board $(BOARD)) $(if $(PORT),--port $(PORT))

# ---- real Tailscale components for tests -----------------------------------------
testnet-tools:
	@$(REPO)/tests/gotools/build.sh

# ---- main job and tests -------------------------------------------------------------
demo: deps host testnet-tools
	@$(PYTHON) $(REPO)/tools/demo.py

test: deps host host32 host32-esp testnet-tools
	@$(REPO)/tools/run-tests.sh

test-fast: host
	@$(PYTHON) -m pytest tests/host -m "not interop and not slow" -q

test-interop: host host32 host32-esp testnet-tools
	@$(PYTHON) -m pytest tests/host -m interop -q

clean:
	rm -rf $(BUILD)/host

distclean:
	rm -rf $(BUILD)
