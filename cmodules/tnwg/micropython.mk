# _tnwg for the Makefile ports (unix): the binding plus the WireGuard engine.
# The crypto core (util.c, x25519.c, ...) is compiled once by cmodules/tncrypto;
# only the wg_* sources are listed here.
TNWG_MOD_DIR := $(USERMOD_DIR)
TNWG_CORE_DIR := $(USERMOD_DIR)/../core

SRC_USERMOD_C += $(TNWG_MOD_DIR)/mod_tnwg.c
SRC_USERMOD_LIB_C += $(TNWG_CORE_DIR)/wg.c $(TNWG_CORE_DIR)/wg_noise.c \
    $(TNWG_CORE_DIR)/wg_cookie.c $(TNWG_CORE_DIR)/wg_timers.c \
    $(TNWG_CORE_DIR)/wg_transport.c $(TNWG_CORE_DIR)/wg_replay.c

CFLAGS_USERMOD += -I$(TNWG_CORE_DIR)
