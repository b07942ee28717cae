#!/usr/bin/env python3
"""Cortex-M0+ instruction counts for the crypto core, by running code built with
-mcpu=cortex-m0plus under the unicorn emulator (RP2040's core).

    python3 tools/bench/crypto_m0_unicorn.py [--opt -O2] [--cpu m0|m33]

Counts executed instructions exactly (block hooks + Thumb decoding) and gives
an estimated cycle count from a static ARMv6-M cost model (1 cycle ALU/MULS,
2 loads/stores, 1+N push/pop/ldm/stm, +1 per taken branch, 3 for BL): the
RP2040 has the single-cycle multiplier and zero-wait SRAM. The X25519 output
is checked against RFC 7748 so the count is for correct code.
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

from unicorn import Uc, UC_ARCH_ARM, UC_MODE_THUMB, UC_MODE_MCLASS, UC_HOOK_BLOCK
from unicorn import arm_const as A

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CORE = os.path.join(REPO, "cmodules", "core")
SRCS = ["util.c", "x25519.c", "chacha20.c", "poly1305.c", "aead.c", "salsa20.c", "blake2s.c"]
BASE = 0x20000000
STOP = 0x30000000  # LR target: emulation stops there


def build(opt, cpu, out):
    elf = os.path.join(out, "bench.elf")
    cmd = ["arm-none-eabi-gcc", "-mcpu=" + cpu, "-mthumb", opt, "-std=c99", "-Wall", "-Wextra", "-Werror",
           "-ffunction-sections", "-I" + CORE, "-nostartfiles", "--specs=nano.specs", "-T",
           os.path.join(HERE, "crypto_m0.ld"), "-Wl,--gc-sections", "-Wl,-e,bench_x25519",
           "-Wl,--undefined=bench_aead_seal_64",
           os.path.join(HERE, "crypto_m0_harness.c")] + [os.path.join(CORE, s) for s in SRCS] + ["-o", elf]
    # keep every bench_* entry
    cmd += ["-Wl,--undefined=" + s for s in ("bench_aead_seal_1024", "bench_aead_seal_1420", "bench_aead_open_1024",
            "bench_chacha20_1024", "bench_poly1305_1024", "bench_secretbox_1024", "bench_blake2s_1024")]
    subprocess.run(cmd, check=True)
    binf = os.path.join(out, "bench.bin")
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", elf, binf], check=True)
    syms = {}
    for line in subprocess.run(["arm-none-eabi-nm", elf], capture_output=True, text=True, check=True).stdout.splitlines():
        f = line.split()
        if len(f) == 3:
            syms[f[2]] = int(f[0], 16)
    size = subprocess.run(["arm-none-eabi-size", elf], capture_output=True, text=True).stdout
    return open(binf, "rb").read(), syms, size


def insn_cost(hw, hw2):
    """(length, cycles) of the Thumb instruction starting with halfword hw."""
    if (hw >> 11) in (0b11101, 0b11110, 0b11111):
        return 4, 3  # BL (the only 32-bit instruction the compiler emits on v6-M, with DMB/MSR/MRS)
    if (hw >> 12) in (0b0101, 0b0110, 0b0111, 0b1000, 0b1001) or (hw >> 11) == 0b01001:
        return 2, 2  # LDR/STR (register, immediate, SP-relative, literal)
    if (hw >> 9) == 0b1011010 or (hw >> 9) == 0b1011110:  # PUSH / POP
        n = bin(hw & 0x1FF).count("1")
        return 2, 1 + n + (3 if (hw >> 9) == 0b1011110 and hw & 0x100 else 0)
    if (hw >> 12) == 0b1100:  # LDM/STM
        return 2, 1 + bin(hw & 0xFF).count("1")
    if (hw >> 7) == 0b010001110 or (hw >> 7) == 0b010001111:  # BX / BLX
        return 2, 3
    return 2, 1


class Counter:
    def __init__(self, uc):
        self.cache = {}
        self.insns = 0
        self.cycles = 0
        self.prev_end = None
        uc.hook_add(UC_HOOK_BLOCK, self.block)

    def block(self, uc, addr, size, _):
        key = (addr, size)
        c = self.cache.get(key)
        if c is None:
            code = bytes(uc.mem_read(addr, size + 2))
            i = n = cyc = 0
            while i < size:
                hw = struct.unpack_from("<H", code, i)[0]
                ln, cy = insn_cost(hw, 0)
                i += ln
                n += 1
                cyc += cy
            c = self.cache[key] = (n, cyc)
        self.insns += c[0]
        self.cycles += c[1]
        if self.prev_end is not None and addr != self.prev_end:
            self.cycles += 1  # taken branch refills the 2-stage pipeline
        self.prev_end = addr + size


CPU_MODEL = {"cortex-m0plus": A.UC_CPU_ARM_CORTEX_M0, "cortex-m33": A.UC_CPU_ARM_CORTEX_M33}
CPU = ["cortex-m0plus"]


def run(image, syms, fn, setup):
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(CPU_MODEL[CPU[0]])
    uc.mem_map(BASE, 0x40000)
    uc.mem_write(BASE, image)
    uc.mem_map(STOP, 0x1000)
    uc.mem_write(STOP, b"\x00\xbf" * 8)  # nop
    for name, data in setup.items():
        uc.mem_write(syms[name], data)
    sp = BASE + 0x40000 - 16
    uc.reg_write(A.UC_ARM_REG_SP, sp)
    uc.reg_write(A.UC_ARM_REG_LR, STOP | 1)
    # stack watermark: fill and measure later
    uc.mem_write(BASE + 0x38000, b"\xa5" * (0x40000 - 0x38000 - 16))
    cnt = Counter(uc)
    uc.emu_start(syms[fn] | 1, STOP)
    stack = bytes(uc.mem_read(BASE + 0x38000, 0x40000 - 0x38000 - 16))
    used = len(stack) - next((i for i, b in enumerate(stack) if b != 0xA5), len(stack))
    return uc, cnt.insns, cnt.cycles, used


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--opt", default="-Os", help="-Os is what MicroPython's rp2 port uses (MinSizeRel)")
    ap.add_argument("--cpu", default="cortex-m0plus", choices=sorted(CPU_MODEL),
                    help="cortex-m33: instruction counts only (the cycle model is ARMv6-M's)")
    a = ap.parse_args()
    CPU[0] = a.cpu
    with tempfile.TemporaryDirectory() as d:
        image, syms, size = build(a.opt, a.cpu, d)
    print("build: arm-none-eabi-gcc -mcpu=%s -mthumb %s (code in SRAM)" % (a.cpu, a.opt))
    print(size.strip())
    sk = bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
    pk = bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
    want = bytes.fromhex("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
    uc, n, cyc, st = run(image, syms, "bench_x25519", {"g_sk": sk, "g_pk": pk})
    ok = bytes(uc.mem_read(syms["g_out"], 32)) == want
    print("%-22s %12d insns  ~%12d cycles  stack %5d B  (RFC 7748 output %s)" % (
        "X25519", n, cyc, st, "correct" if ok else "WRONG"))
    if not ok:
        return 1
    res = {"x25519": (n, cyc)}
    key, nonce = bytes(range(32)), bytes(range(24))
    for fn, nbytes in (("bench_aead_seal_64", 64), ("bench_aead_seal_1024", 1024), ("bench_aead_seal_1420", 1420),
                       ("bench_aead_open_1024", 1024), ("bench_chacha20_1024", 1024), ("bench_poly1305_1024", 1024),
                       ("bench_secretbox_1024", 1024), ("bench_blake2s_1024", 1024)):
        setup = {"g_key": key, "g_nonce": nonce}
        if fn == "bench_aead_open_1024":  # a valid ciphertext, so the full open (MAC + decrypt) runs
            from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
            setup["g_buf"] = ChaCha20Poly1305(key).encrypt(nonce[:12], bytes(1024), None)
        uc, n, cyc, st = run(image, syms, fn, setup)
        res[fn] = (n, cyc)
        print("%-22s %12d insns  ~%12d cycles  stack %5d B  %7.1f insn/B  ~%6.1f cycles/B" % (
            fn[6:], n, cyc, st, n / nbytes, cyc / nbytes))
    if a.cpu != "cortex-m0plus":
        print("\n(%s: only the instruction counts are meaningful; the cycle column uses the ARMv6-M model)" % a.cpu)
        return 0
    x = res["x25519"][1]
    s = res["bench_aead_seal_1024"][1] / 1024
    print("\ntargets (issue 3): X25519 <= 8 M cycles: %s (~%.2f M; anchors: 3.23 M asm record, 15.2 M donna C)"
          % ("MET" if x <= 8e6 else "NOT met", x / 1e6))
    print("                   ChaCha20-Poly1305 <= 60 cycles/B (1 KiB seal): %s (~%.1f; anchor cifra ChaCha20 C 107 cpb)"
          % ("MET" if s <= 60 else "NOT met", s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
