"""Seeded ways to damage a file, as disks, networks and crashed writers damage them.

Every function takes the file's bytes and a ``random.Random`` and returns the damaged
bytes, so that a seed names exactly the same damaged file on every machine.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Damage = Callable[[bytes, random.Random], bytes]


def truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut anywhere: in the header, in the offset table, in the pixel data."""
    return data[: rng.randrange(1, len(data))]


def zero_length(data: bytes, rng: random.Random) -> bytes:
    return b""


def bit_flips(data: bytes, rng: random.Random) -> bytes:
    """1 to 16 bits flipped anywhere in the file."""
    damaged = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def header_bit_flips(data: bytes, rng: random.Random) -> bytes:
    """1 to 8 bits flipped in the first 400 bytes (the header of every format here)."""
    damaged = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        damaged[rng.randrange(min(400, len(damaged)))] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def header_garbage(data: bytes, rng: random.Random) -> bytes:
    """4 to 64 random bytes written over the first 400 bytes."""
    damaged = bytearray(data)
    span = rng.randint(4, 64)
    start = rng.randrange(max(1, min(400, len(damaged)) - span))
    damaged[start : start + span] = rng.randbytes(span)
    return bytes(damaged[: len(data)])


def wrong_sizes(data: bytes, rng: random.Random) -> bytes:
    """A 32-bit field of the header set to a value no writer would store (0, -1, 2^31,
    huge): dimensions, attribute sizes, offsets."""
    damaged = bytearray(data)
    start = rng.randrange(0, min(400, len(damaged)) - 4)
    value = rng.choice([0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x00FFFFFF, 65536, 1])
    damaged[start : start + 4] = value.to_bytes(4, rng.choice(["little", "big"]))
    return bytes(damaged)


def zeroed_block(data: bytes, rng: random.Random) -> bytes:
    """A 4 KiB block of zeros (a lost page), anywhere."""
    damaged = bytearray(data)
    start = rng.randrange(len(damaged))
    block = min(4096, len(damaged) - start)
    damaged[start : start + block] = bytes(block)
    return bytes(damaged)


def appended_garbage(data: bytes, rng: random.Random) -> bytes:
    """Random bytes after the end of a complete file (a write that was not truncated)."""
    return data + rng.randbytes(rng.randint(1, 4096))


DAMAGES: dict[str, Damage] = {
    "truncated": truncate,
    "zero-length": zero_length,
    "bit flips": bit_flips,
    "header bit flips": header_bit_flips,
    "header garbage": header_garbage,
    "wrong sizes": wrong_sizes,
    "zeroed block": zeroed_block,
    "appended garbage": appended_garbage,
}
"""Byte-level damage; a folder or a fifo where a frame should be is made by the harness."""
