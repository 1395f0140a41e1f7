"""Seeded randomness for masking: the per-row rng and masked names drawn from it.

Masked names are unique within a row and never equal any real function or parameter name of the
row (module docstring of :mod:`hammer_train.masking`, "Names are safe").
"""

from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from .config import MaskingConfig

__all__ = ["MAX_NAME_TRIES", "byte_tables", "draw_name", "draw_names", "random_string", "row_rng"]

MAX_NAME_TRIES = 1000
"""Draws of one name before giving up (:func:`draw_name` raises then)."""

Tables = tuple[bytes, bytes]


def row_rng(seed: int, row: int, epoch: int = 0) -> random.Random:
    """A ``random.Random`` for one row in one epoch, seeded from a stable hash.

    The seed is the first 8 bytes of ``blake2b("seed:row:epoch")`` (never Python's salted
    ``hash()``), so it is the same in every process and run, and any row's masking is
    reproducible alone, in any order (fresh names each epoch need exactly that). With
    ``MaskingConfig.dynamic=False`` callers pass ``epoch=0`` always.

    Args:
        seed, row, epoch: integers (any sign or size).

    Returns:
        A fresh ``random.Random``.
    """
    digest = hashlib.blake2b(f"{int(seed)}:{int(row)}:{int(epoch)}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "little"))


def byte_tables(chars: list[str]) -> Tables | None:
    """``bytes.translate`` tables that turn uniform random bytes into uniform characters of ``chars``.

    Byte ``b < lim`` maps to ``chars[b % n]`` and bytes ``>= lim`` are deleted (rejection
    sampling, so every character is equally likely), with ``n = len(chars)`` and ``lim`` the
    largest multiple of ``n`` up to 256.

    Returns:
        ``(table, deleted_bytes)``, or ``None`` for a non-ASCII alphabet or one of over 256
        characters (then :func:`random_string` falls back to ``rng.choices``).
    """
    n = len(chars)
    if n > 256 or not all(c.isascii() for c in chars):
        return None
    lim = (256 // n) * n
    table = bytes(ord(chars[b % n]) if b < lim else 0 for b in range(256))
    return table, bytes(range(lim, 256))


def random_string(rng: random.Random, k: int, chars: list[str], tables: Tables | None) -> str:
    """``k`` characters drawn uniformly and independently from ``chars``.

    Args:
        rng: the random source; consumes ``getrandbits`` draws (or one ``choices`` draw when
            ``tables`` is ``None``).
        k: length (>= 0).
        chars: distinct characters.
        tables: :func:`byte_tables` of ``chars``.
    """
    if tables is None:
        return "".join(rng.choices(chars, k=k))
    table, reject = tables
    out = b""
    while len(out) < k:
        m = k - len(out) + 8
        out += rng.getrandbits(8 * m).to_bytes(m, "little").translate(table, reject)
    return out[:k].decode("ascii")


def draw_names(
    rng: random.Random, count: int, length: tuple[int, int], config: MaskingConfig, used: set[str]
) -> list[str]:
    """``count`` distinct masked names from ``config.alphabet``, none in ``used``.

    Draw order: all ``count`` lengths (uniform in the inclusive ``length``), then all characters
    in one draw; a name that collides with ``used`` is redrawn alone (:func:`draw_name`).

    Args:
        rng: the row's random source.
        count: names wanted.
        length: inclusive ``(lo, hi)`` name length.
        config: gives the alphabet (its precomputed draw tables).
        used: names taken (the row's real names and names drawn so far); every name drawn is added.

    Returns:
        ``count`` names, in draw order.

    Raises:
        ValueError: from :func:`draw_name`.
    """
    lo, hi = length
    span = hi - lo + 1
    rand = rng.random
    lens = [lo + int(rand() * span) for _ in range(count)]
    pool = random_string(rng, sum(lens), config._alphabet, config._name_tables)
    out = []
    pos = 0
    for k in lens:
        s = pool[pos : pos + k]
        pos += k
        if s in used:
            s = draw_name(rng, length, config._alphabet, config._name_tables, used)
        else:
            used.add(s)
        out.append(s)
    return out


def draw_name(
    rng: random.Random, length: tuple[int, int], alphabet: list[str], tables: Tables | None, used: set[str]
) -> str:
    """A name of uniform length in ``length`` (inclusive) from ``alphabet``, not in ``used`` (added to it).

    Raises:
        ValueError: no unused name in :data:`MAX_NAME_TRIES` draws (lengths or alphabet too small
            for the row).
    """
    lo, hi = length
    span = hi - lo + 1
    rand = rng.random
    for _ in range(MAX_NAME_TRIES):
        s = random_string(rng, lo + int(rand() * span), alphabet, tables)
        if s not in used:
            used.add(s)
            return s
    raise ValueError(
        f"could not draw a unique masked name of length {length} from {len(alphabet)} characters "
        f"in {MAX_NAME_TRIES} tries: lengthen MaskingConfig name lengths or alphabet"
    )
