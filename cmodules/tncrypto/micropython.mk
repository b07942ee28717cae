# _tncrypto for the Makefile ports (unix): the binding plus the crypto core.
# The core's .c files are compiled here ONCE for the whole firmware; other
# binding modules (e.g. tnwg) must only add -I$(TNCORE_DIR) and not list them.
TNCRYPTO_MOD_DIR := $(USERMOD_DIR)
TNCORE_DIR := $(USERMOD_DIR)/../core

SRC_USERMOD_C += $(TNCRYPTO_MOD_DIR)/mod_tncrypto.c
SRC_USERMOD_LIB_C += $(TNCORE_DIR)/util.c $(TNCORE_DIR)/x25519.c $(TNCORE_DIR)/chacha20.c \
    $(TNCORE_DIR)/poly1305.c $(TNCORE_DIR)/aead.c $(TNCORE_DIR)/salsa20.c $(TNCORE_DIR)/blake2s.c

CFLAGS_USERMOD += -I$(TNCORE_DIR)
