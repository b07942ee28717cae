// Bare-metal entry points for tools/bench/crypto_m0_unicorn.py: each bench_*
// runs one operation on the buffers below (filled by the emulator driver).
#include "tn_crypto.h"
#include "tn_internal.h"

uint8_t g_sk[32], g_pk[32], g_out[32], g_key[32], g_nonce[24];
uint8_t g_buf[1420 + 32];

void bench_x25519(void) { tn_x25519(g_out, g_sk, g_pk); }
void bench_aead_seal_64(void) { tn_aead_seal(g_buf, g_key, g_nonce, 0, 0, g_buf, 64); }
void bench_aead_seal_1024(void) { tn_aead_seal(g_buf, g_key, g_nonce, 0, 0, g_buf, 1024); }
void bench_aead_seal_1420(void) { tn_aead_seal(g_buf, g_key, g_nonce, 0, 0, g_buf, 1420); }
void bench_aead_open_1024(void) { tn_aead_open(g_buf, g_key, g_nonce, 0, 0, g_buf, 1024 + 16); }
void bench_chacha20_1024(void) { tn_chacha20_xor(g_buf, g_buf, 1024, g_key, g_nonce, 1); }
void bench_poly1305_1024(void) { tn_poly1305(g_out, g_buf, 1024, g_key); }
void bench_secretbox_1024(void) { tn_secretbox_seal(g_buf, g_buf + 16, 1024, g_nonce, g_key); }
void bench_blake2s_1024(void) { tn_blake2s(g_out, 32, 0, 0, g_buf, 1024); }
