"""Board firmware: the RP2040 (RPI_PICO) build made here, and the fail-fast paths of the boards
whose toolchain is not on this machine (ESP32 family: ESP-IDF; Pico W: cyw43-driver).

The RP2040 test builds `make firmware BOARD=RPI_PICO` (cold: fetches pico-sdk/tinyusb/lwip/
mbedtls/picotool sources from Debian trixie and builds, a few minutes on 2 cores; warm: seconds),
then reads the ELF: every C binding module under cmodules/ and the core crypto symbols are
linked, the frozen `tailnet` package is in, and flash / static RAM / frozen sizes are recorded in
build/firmware/RPI_PICO/sizes.json.
"""
import glob
import json
import os
import re
import subprocess
import time

import pytest

from mpy import BUILD, REPO

FW = os.path.join(BUILD, "firmware", "RPI_PICO")
ELF = os.path.join(FW, "firmware.elf")
MAP = os.path.join(FW, "firmware.map")
RP2040_FLASH = 2 * 1024 * 1024
RP2040_RAM = 264 * 1024
HOST_ONLY = ("_crypto_cpython.py",)  # boards/tailnet_manifest.py keeps these out of boards


def _make_firmware(board, env=None, timeout=900):
    e = dict(os.environ)
    e.pop("MAKEFLAGS", None)
    if env:
        e.update(env)
    return subprocess.run(["make", "-s", "firmware", "BOARD=" + board], cwd=REPO, env=e,
                          capture_output=True, text=True, timeout=timeout)


def _binding_modules():
    """cmodules/<dir>/micropython.cmake -> MicroPython module name `_<dir>`."""
    return sorted("_" + os.path.basename(os.path.dirname(p))
                  for p in glob.glob(os.path.join(REPO, "cmodules", "*", "micropython.cmake")))


def _frozen_py():
    base = os.path.join(REPO, "modules")
    return sorted(os.path.relpath(p, base)
                  for p in glob.glob(os.path.join(base, "tailnet", "**", "*.py"), recursive=True)
                  if os.path.basename(p) not in HOST_ONLY)


def _symbols(elf):
    out = subprocess.run(["arm-none-eabi-nm", "-S", "--size-sort", elf], capture_output=True,
                         text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            syms[parts[3]] = int(parts[1], 16)
    return syms


def _map_bytes_from(mapfile, path_part):
    """Bytes of the input sections, in flash-or-RAM output sections, from objects whose path
    contains path_part (parsed from the GNU ld map)."""
    total = 0
    pending = None
    sec = re.compile(r"^ (\.[\w.$]+)\s*$")
    full = re.compile(r"^ (\.[\w.$]+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$")
    in_memory_map = False
    with open(mapfile) as f:
        for line in f:
            if line.startswith("Linker script and memory map"):
                in_memory_map = True
                continue
            if not in_memory_map:
                continue
            m = sec.match(line)
            if m:
                pending = m.group(1)
                continue
            m = full.match(line)
            if m:
                name = m.group(1) or pending
                pending = None
                addr, size, obj = int(m.group(2), 16), int(m.group(3), 16), m.group(4)
                if addr and path_part in obj and name and not name.startswith((".debug", ".comment", ".ARM.attributes")):
                    total += size
    return total


@pytest.fixture(scope="module")
def rp2_firmware():
    t0 = time.time()
    p = _make_firmware("RPI_PICO")
    assert p.returncode == 0, "make firmware BOARD=RPI_PICO failed\n%s\n%s" % (p.stdout[-4000:], p.stderr[-8000:])
    assert os.path.isfile(ELF) and os.path.isfile(os.path.join(FW, "firmware.uf2"))
    return time.time() - t0


@pytest.mark.slow
def test_rp2040_elf_has_c_modules_and_frozen_tailnet(rp2_firmware):
    syms = _symbols(ELF)
    # The crypto core made it in (not garbage-collected away) for Cortex-M0+.
    for name in ("tn_x25519", "tn_aead_seal", "tn_aead_open", "tn_blake2s", "tn_hkdf"):
        assert name in syms, "%s missing from the RP2040 ELF" % name
    with open(os.path.join(FW, "firmware.bin"), "rb") as f:
        image = f.read()
    # Every binding module is registered (its name is a qstr in the image) ...
    modules = _binding_modules()
    assert "_tncrypto" in modules
    for mod in modules:
        assert mod.encode() + b"\x00" in image or mod.encode() in image, "module %s not in image" % mod
    # ... and every tailnet source file is frozen: the frozen-names table lists them.
    frozen = _frozen_py()
    assert "tailnet/__init__.py" in frozen
    for rel in frozen:
        assert rel.encode() + b"\x00" in image, "frozen module %s missing" % rel
    for rel in HOST_ONLY:
        assert ("tailnet/" + rel).encode() + b"\x00" not in image, "host-only %s frozen" % rel
    for sym in syms:
        if sym.startswith("mp_frozen_names"):
            break
    else:
        pytest.fail("no mp_frozen_names in the ELF")


def _sections(elf):
    out = subprocess.run(["arm-none-eabi-size", "-A", elf], capture_output=True, text=True,
                         check=True).stdout
    secs = {}
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3 and p[0].startswith(".") and p[1].isdigit():
            secs[p[0]] = (int(p[1]), int(p[2]))
    return secs


@pytest.mark.slow
def test_rp2040_sizes_recorded(rp2_firmware):
    secs = _sections(ELF)
    # RAM: 0x20000000..0x20042000 (SRAM incl. the scratch banks); flash image: firmware.bin.
    # .heap is a placeholder inside the GC heap; .stack_dummy is the 8 KiB stack in scratch Y.
    static_ram = sum(sz for name, (sz, addr) in secs.items()
                     if 0x20000000 <= addr < 0x20042000 and name not in (".heap", ".stack_dummy"))
    stacks = sum(sz for name, (sz, addr) in secs.items() if name == ".stack_dummy")
    flash = os.path.getsize(os.path.join(FW, "firmware.bin"))
    out = subprocess.run(["arm-none-eabi-nm", ELF], capture_output=True, text=True, check=True).stdout
    addr = {p[2]: int(p[0], 16) for p in (l.split() for l in out.splitlines()) if len(p) == 3}
    gc_heap = addr["__GcHeapEnd"] - addr["__GcHeapStart"]
    syms = _symbols(ELF)
    # Frozen tailnet: the bytecode, constants and child tables mpy-tool emitted for it.
    frozen = sum(sz for name, sz in syms.items() if "tailnet" in name)
    cmod = _map_bytes_from(MAP, "/cmodules/")
    # All frozen content: tailnet + asyncio (+ mip when micropython-lib has it) + their qstr pool.
    frozen_all = _map_bytes_from(MAP, "frozen_content.c")
    sizes = {
        "board": "RPI_PICO",
        "flash_image_bytes": flash,
        "static_ram_bytes": static_ram,
        "gc_heap_bytes": gc_heap,
        "stack_bytes": stacks,
        "frozen_tailnet_bytes": frozen,
        "frozen_content_total_bytes": frozen_all,
        "cmodules_code_bytes": cmod,
        "sections": {k: v[0] for k, v in secs.items() if not k.startswith((".debug", ".comment", ".ARM"))},
        "modules": _binding_modules(),
        "frozen_files": len(_frozen_py()),
        "build_seconds_this_run": round(rp2_firmware, 1),
    }
    with open(os.path.join(FW, "sizes.json"), "w") as f:
        json.dump(sizes, f, indent=1)
    print("RPI_PICO sizes:", json.dumps(sizes))
    assert frozen > 10000, "frozen tailnet symbols not found (%d bytes)" % frozen
    assert frozen_all > frozen
    assert cmod > 5000, "cmodules code not found in the map (%d bytes)" % cmod
    # It fits the board: 2 MiB flash of which the filesystem takes the last 1280 KiB, and the
    # GC heap (what static RAM leaves of the 264 KiB) stays above 200 KiB.
    assert flash < RP2040_FLASH - 1280 * 1024, "image too big for the board's flash layout"
    assert gc_heap > 200 * 1024, "GC heap only %d bytes" % gc_heap
    assert static_ram + gc_heap + stacks <= RP2040_RAM


@pytest.mark.parametrize("board, needle", [
    ("ESP32_GENERIC", "IDF_PATH"),
    ("ESP32_GENERIC_S3", "IDF_PATH"),
    ("ESP32_GENERIC_C3", "IDF_PATH"),
])
def test_esp32_without_idf_fails_fast(board, needle):
    t0 = time.time()
    p = _make_firmware(board, env={"IDF_PATH": ""}, timeout=60)
    elapsed = time.time() - t0
    assert p.returncode != 0
    assert elapsed < 10, "should fail before fetching anything (took %.1fs)" % elapsed
    err = p.stderr
    assert needle in err and "ESP-IDF" in err and "v5.2" in err and "install.sh" in err, err
    assert board in err
    assert not os.path.exists(os.path.join(BUILD, "firmware", board, "firmware.bin"))


@pytest.mark.parametrize("board", ["RPI_PICO_W", "RPI_PICO2_W"])
def test_pico_w_without_cyw43_fails_fast(board):
    env = {"MICROPY_DIR": "", "CYW43_DRIVER_DIR": ""}
    t0 = time.time()
    p = _make_firmware(board, env=env, timeout=60)
    assert p.returncode != 0
    assert time.time() - t0 < 10
    assert "cyw43-driver" in p.stderr and "MICROPY_DIR" in p.stderr and "CYW43_DRIVER_DIR" in p.stderr, p.stderr


def test_unknown_board_lists_boards():
    p = _make_firmware("NO_SUCH_BOARD", timeout=60)
    assert p.returncode != 0
    assert "unknown board" in p.stderr and "RPI_PICO" in p.stderr and "ESP32_GENERIC" in p.stderr


def test_board_definitions_complete():
    """Each board dir has what its port's CMake needs and freezes tailnet."""
    for board in ("ESP32_GENERIC", "ESP32_GENERIC_S3", "ESP32_GENERIC_C3", "RPI_PICO",
                  "RPI_PICO_W", "RPI_PICO2_W"):
        d = os.path.join(REPO, "boards", board)
        for f in ("board.env", "mpconfigboard.cmake", "mpconfigboard.h", "manifest.py"):
            assert os.path.isfile(os.path.join(d, f)), "%s/%s missing" % (board, f)
        with open(os.path.join(d, "mpconfigboard.cmake")) as f:
            assert "MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py" in f.read()
        with open(os.path.join(d, "manifest.py")) as f:
            assert 'include("../tailnet_manifest.py")' in f.read()
        if board.startswith("ESP32"):
            with open(os.path.join(d, "mpconfigboard.cmake")) as f:
                assert "sdkconfig.tailnet" in f.read()
        else:
            assert os.path.isfile(os.path.join(d, "pins.csv"))


# ---- tools/flash -------------------------------------------------------------------------------
FLASH = os.path.join(REPO, "tools", "flash")


def _flash(*args):
    return subprocess.run([FLASH] + list(args), capture_output=True, text=True, timeout=60)


def test_flash_esp32_dry_run_offsets(tmp_path):
    fw = tmp_path / "firmware.bin"
    fw.write_bytes(b"\xe9" + bytes(100))
    for board, chip, off in (("ESP32_GENERIC", "esp32", "0x1000"), ("ESP32_GENERIC_S3", "esp32s3", "0x0"),
                             ("ESP32_GENERIC_C3", "esp32c3", "0x0")):
        p = _flash("--board", board, "--port", "/dev/ttyUSB9", "--firmware", str(fw), "--erase", "--dry-run")
        assert p.returncode == 0, p.stderr
        lines = [l for l in p.stdout.splitlines() if l.startswith("+ ")]
        assert lines[0].endswith("--chip %s --port /dev/ttyUSB9 --baud 460800 erase_flash" % chip)
        assert lines[1].endswith("write_flash -z %s %s" % (off, fw))


def test_flash_missing_firmware_is_clear():
    p = _flash("--board", "ESP32_GENERIC_C3", "--port", "/dev/ttyUSB9",
               "--firmware", "/nonexistent/firmware.bin")
    assert p.returncode == 2 and "make firmware BOARD=ESP32_GENERIC_C3" in p.stderr


@pytest.mark.slow
def test_flash_rp2_copies_uf2_to_bootsel_drive(rp2_firmware, tmp_path):
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    p = _flash("--board", "RPI_PICO", "--mount", str(drive))
    assert p.returncode == 0, p.stderr
    with open(os.path.join(FW, "firmware.uf2"), "rb") as a, open(drive / "firmware.uf2", "rb") as b:
        data = b.read()
        assert a.read() == data
    # UF2 blocks: magic numbers and the RP2040 family id (0xe48bff56).
    assert data[:8] == b"UF2\nWQ]\x9e" and data[28:32] == (0xE48BFF56).to_bytes(4, "little")


@pytest.mark.slow
@pytest.mark.parametrize("board", ["RPI_PICO_W", "RPI_PICO2_W"])
def test_pico_w_builds_when_cyw43_driver_is_given(board):
    """Only where a cyw43-driver v1.1.0 checkout exists (no registry has it): then the wifi
    boards build with tailnet, lwIP, mbedTLS and the CYW43 driver, and fit their flash layout."""
    cyw43 = os.environ.get("CYW43_DRIVER_DIR")
    if not cyw43 or not os.path.isfile(os.path.join(cyw43, "src", "cyw43.h")):
        pytest.skip("CYW43_DRIVER_DIR (a cyw43-driver v1.1.0 checkout) not given")
    p = _make_firmware(board, env={"CYW43_DRIVER_DIR": cyw43})
    assert p.returncode == 0, p.stderr[-6000:]
    fw = os.path.join(BUILD, "firmware", board)
    syms = _symbols(os.path.join(fw, "firmware.elf"))
    for name in ("tn_x25519", "cyw43_wifi_join", "mbedtls_ssl_handshake", "mp_module_network"):
        assert name in syms, name
    secs = _sections(os.path.join(fw, "firmware.elf"))
    static_ram = sum(sz for n, (sz, addr) in secs.items()
                     if 0x20000000 <= addr < 0x20082000 and n not in (".heap", ".stack_dummy"))
    flash = os.path.getsize(os.path.join(fw, "firmware.bin"))
    print("%s: flash image %d bytes, static RAM %d bytes" % (board, flash, static_ram))
    if board == "RPI_PICO_W":
        assert flash < 2 * 1024 * 1024 - 800 * 1024  # boards/RPI_PICO_W: 800 KiB filesystem
