// _tnnet: hot loops of the tailnet netstack (modules/tailnet/ip.py falls back
// to pure Python when this module is absent).
//
//   _tnnet.csum(buf, off, n, acc) -> int
//       acc plus buf[off:off+n] read as big-endian 16-bit words (an odd last
//       byte is padded with zero), folded to 16 bits (ones' complement sum).
//       Allocates nothing; ValueError if the range is outside buf or acc < 0.
#include <stdint.h>
#include "py/runtime.h"

static mp_obj_t tnnet_csum(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[0], &bi, MP_BUFFER_READ);
    mp_int_t off = mp_obj_get_int(args[1]);
    mp_int_t n = mp_obj_get_int(args[2]);
    mp_int_t acc = mp_obj_get_int(args[3]);
    if (off < 0 || n < 0 || acc < 0 || (size_t)off > bi.len || (size_t)n > bi.len - (size_t)off) {
        mp_raise_ValueError(MP_ERROR_TEXT("csum range"));
    }
    const uint8_t *p = (const uint8_t *)bi.buf + off;
    uint64_t s = (uint64_t)acc;
    while (n > 1) {
        s += ((uint32_t)p[0] << 8) | p[1];
        p += 2;
        n -= 2;
    }
    if (n) {
        s += (uint32_t)p[0] << 8;
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return MP_OBJ_NEW_SMALL_INT((mp_int_t)s);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tnnet_csum_obj, 4, 4, tnnet_csum);

static const mp_rom_map_elem_t tnnet_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__tnnet) },
    { MP_ROM_QSTR(MP_QSTR_csum), MP_ROM_PTR(&tnnet_csum_obj) },
};
static MP_DEFINE_CONST_DICT(tnnet_globals, tnnet_globals_table);

const mp_obj_module_t tnnet_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&tnnet_globals,
};

MP_REGISTER_MODULE(MP_QSTR__tnnet, tnnet_user_cmodule);
