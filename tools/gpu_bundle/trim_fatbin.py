#!/usr/bin/env python3
"""Zeroes, in a shared library's .nv_fatbin section, the GPU code (ELF cubins) built for
other GPU architectures than the one given, and the given architecture's cubins whose
kernels are all attention, mixture-of-experts or CUTLASS GEMM kernels (which image
models never launch), so the library compresses to a fraction of its size for a machine
with one kind of GPU. PTX entries and every other cubin are left as they are; the
file's size and layout do not change.

  trim_fatbin.py LIBRARY SM OUT      (SM: 90 for H100/H200, 89 for RTX 40xx, …)

Fat binary layout (NVIDIA's, as cuobjdump reads it): containers of a 16-byte header
(magic 0xBA55ED50, version 1, header size 16, u64 size of what follows) and entries, each
a header (u16 kind: 1 PTX, 2 or 0x10 ELF; u32 header size at 4; u32 aligned data size at
8; u32 architecture at 28) followed by its data.
"""
import io
import re
import struct
import sys

import zstandard
from elftools.elf.elffile import ELFFile

MAGIC = 0xBA55ED50
ELF_KINDS = (0x02, 0x10)
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Kernels no restoration or captioning graph runs: attention, MoE, CUTLASS GEMMs.
UNUSED_KERNEL = re.compile(r"flash|fmha|attention|attn|moe|cutlass|xqa|mha", re.IGNORECASE)


def only_unused_kernels(payload: bytes) -> bool:
    """Whether every kernel of this cubin (its .text.NAME sections) is one nothing here
    launches; False when it cannot be read."""
    try:
        if payload.startswith(ZSTD_MAGIC):
            payload = zstandard.ZstdDecompressor().decompress(payload, max_output_size=1 << 30)
        elf = ELFFile(io.BytesIO(payload))
        kernels = [s.name[len(".text."):] for s in elf.iter_sections() if s.name.startswith(".text.")]
    except Exception:  # an entry this does not understand is kept
        return False
    return bool(kernels) and all(UNUSED_KERNEL.search(k) for k in kernels)


def trim(data: bytearray, start: int, end: int, keep: int) -> dict:
    counts = {"kept": 0, "zeroed": 0, "unused": 0, "ptx": 0, "zeroed_bytes": 0}
    at = start
    while at + 16 <= end:
        magic, _version, header, size = struct.unpack_from("<IHHQ", data, at)
        if magic != MAGIC:
            # Containers are packed with small gaps of padding; look for the next one.
            at += 8
            continue
        entry = at + header
        stop = min(at + header + size, end)
        while entry + 64 <= stop:
            kind, _unk, entry_header, aligned = struct.unpack_from("<HHII", data, entry)
            arch = struct.unpack_from("<I", data, entry + 28)[0]
            if entry_header == 0:
                break
            payload = entry + entry_header
            if kind in ELF_KINDS and arch != keep:
                data[payload : payload + aligned] = bytes(aligned)
                counts["zeroed"] += 1
                counts["zeroed_bytes"] += aligned
            elif kind in ELF_KINDS and only_unused_kernels(bytes(data[payload : payload + aligned])):
                data[payload : payload + aligned] = bytes(aligned)
                counts["unused"] += 1
                counts["zeroed_bytes"] += aligned
            elif kind in ELF_KINDS:
                counts["kept"] += 1
            else:
                counts["ptx"] += 1
            entry = payload + aligned
        at = stop
    return counts


def main() -> None:
    library, keep, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(library, "rb") as f:
        data = bytearray(f.read())
    with open(library, "rb") as f:
        section = ELFFile(f).get_section_by_name(".nv_fatbin")
        if section is None:
            sys.exit(f"{library}: no .nv_fatbin section")
        start, size = section["sh_offset"], section["sh_size"]
    counts = trim(data, start, start + size, keep)
    if counts["kept"] == 0:
        sys.exit(f"{library}: no cubin for sm_{keep}; nothing written")
    with open(out, "wb") as f:
        f.write(data)
    print(f"{library}: kept {counts['kept']} sm_{keep} cubins and {counts['ptx']} PTX entries, "
          f"zeroed {counts['zeroed']} of other architectures and {counts['unused']} sm_{keep} ones "
          f"of attention/MoE/CUTLASS kernels only ({counts['zeroed_bytes'] / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
