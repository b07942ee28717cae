# _tnnet (netstack hot loops) for the Makefile ports (unix).
TNNET_MOD_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(TNNET_MOD_DIR)/mod_tnnet.c
