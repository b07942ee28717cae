# WireGuard engine unit tests (plain C, driven clock).
#   make -f cmodules/core/tests/wg.mk test       # -O2 + ASan/UBSan builds, run both
# Outputs go to build/wgtest/.
WG_TESTS_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
WG_CORE := $(WG_TESTS_DIR)/..
WG_REPO := $(WG_CORE)/../..
WG_OUT ?= $(WG_REPO)/build/wgtest
CC ?= cc
WG_SRCS := $(addprefix $(WG_CORE)/,wg.c wg_noise.c wg_cookie.c wg_timers.c wg_transport.c wg_replay.c)
WG_CRYPTO := $(filter-out %/wg.c %/wg_noise.c %/wg_cookie.c %/wg_timers.c %/wg_transport.c %/wg_replay.c,$(wildcard $(WG_CORE)/*.c))
WG_CFLAGS := -std=c99 -Wall -Wextra -Werror -I$(WG_CORE)

.PHONY: test wg-test
test wg-test: $(WG_OUT)/wg_test $(WG_OUT)/wg_test_san
	$(WG_OUT)/wg_test
	$(WG_OUT)/wg_test_san

$(WG_OUT)/wg_test: $(WG_TESTS_DIR)/wg_test.c $(WG_SRCS) $(WG_CRYPTO) $(wildcard $(WG_CORE)/*.h)
	@mkdir -p $(WG_OUT)
	$(CC) $(WG_CFLAGS) -O2 -o $@ $(WG_TESTS_DIR)/wg_test.c $(WG_SRCS) $(WG_CRYPTO)

$(WG_OUT)/wg_test_san: $(WG_TESTS_DIR)/wg_test.c $(WG_SRCS) $(WG_CRYPTO) $(wildcard $(WG_CORE)/*.h)
	@mkdir -p $(WG_OUT)
	$(CC) $(WG_CFLAGS) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
		-o $@ $(WG_TESTS_DIR)/wg_test.c $(WG_SRCS) $(WG_CRYPTO)

# Raw engine benchmark (tools/bench/wg_bench.py runs it, also under callgrind).
.PHONY: wg-bench
wg-bench: $(WG_OUT)/wg_bench
$(WG_OUT)/wg_bench: $(WG_TESTS_DIR)/wg_bench.c $(WG_SRCS) $(WG_CRYPTO) $(wildcard $(WG_CORE)/*.h)
	@mkdir -p $(WG_OUT)
	$(CC) $(WG_CFLAGS) -O2 -g -o $@ $(WG_TESTS_DIR)/wg_bench.c $(WG_SRCS) $(WG_CRYPTO)
