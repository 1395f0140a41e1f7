"""Masking settings: :class:`MaskingConfig`, the one place where masking defaults are defined and
validated (the recipe's ``masking_*`` fields in :mod:`hammer_train.config` take theirs from it)."""

from __future__ import annotations

import string
from dataclasses import dataclass

from .names import byte_tables


__all__ = ["DEFAULT_ALPHABET", "MASK_KINDS", "MaskingConfig", "MaskingConfigError"]

DEFAULT_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "_."
"""Hammer's alphabet for masked names, in this order: ``A-Z a-z 0-9 _ .`` (arXiv 2410.04587 §3).
The order matters: the same seed draws the same positions, so another order gives other names."""

MASK_KINDS = ("function", "parameter", "default", "shuffle")
"""What a masked row can get, as named in :attr:`MaskedExample.masked_kinds`."""

_PROBABILITIES = ("row_prob", "function_prob", "parameter_prob", "default_prob")
_LENGTHS = ("function_name_length", "parameter_name_length")


class MaskingConfigError(ValueError):
    """A :class:`MaskingConfig` field is out of range.

    Attributes:
        field: the field's name (``"row_prob"``...).
        problem: what is wrong, ending with the value given (``"must be ..., got 1.5"``).
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"MaskingConfig.{field} {problem}")
        self.field = field
        self.problem = problem


@dataclass
class MaskingConfig:
    """How rows are masked (Hammer's values are the defaults; arXiv 2410.04587 §3).

    Attributes:
        row_prob: share of rows that are masked (Hammer: 2/3; the other third keeps real names).
        function_prob: in a masked row, probability that function names are masked.
        parameter_prob: in a masked row, probability that parameter names are masked.
        default_prob: in a masked row, probability that used default values are replaced.
        function_name_length: inclusive ``(lo, hi)`` length of a masked function name (Hammer 5-15).
        parameter_name_length: inclusive ``(lo, hi)`` length of a masked parameter name (Hammer 4-10).
        alphabet: characters masked names are drawn from (Hammer: ``A-Za-z0-9_.``, in that order,
            :data:`DEFAULT_ALPHABET`); fresh string defaults use its letters and digits only.
        shuffle_tools: shuffle the tools of a masked row (Hammer does).
        duplicate_padding: Hammer's reference data keeps duplicate tool entries (same name listed
            twice) in unmasked rows and drops them in masked rows, where it de-duplicates by name
            before shuffling. ``False`` (default) de-duplicates masked rows by name like Hammer;
            ``True`` keeps duplicate entries in masked rows too (each copy renamed identically).
            Canonical rows from :meth:`Example.from_raw` never hold duplicates (exact copies are
            dropped, different specs under one name are refused), so for them this flag is a no-op.
        dynamic: draw fresh names every epoch. When ``False``, :func:`mask_dataset_rows` ignores
            the epoch it is given and always masks as epoch 0 (Hammer's frozen masking); when
            ``True`` the epoch passed in selects the names.

    Raises:
        MaskingConfigError: a ``ValueError`` naming the field, when a probability is outside
            [0, 1], a length pair is not ``1 <= lo <= hi``, or the alphabet has fewer than two
            distinct characters.
    """

    row_prob: float = 2 / 3
    function_prob: float = 1.0
    parameter_prob: float = 1.0
    default_prob: float = 1.0
    function_name_length: tuple[int, int] = (5, 15)
    parameter_name_length: tuple[int, int] = (4, 10)
    alphabet: str = DEFAULT_ALPHABET
    shuffle_tools: bool = True
    duplicate_padding: bool = False
    dynamic: bool = False

    def __post_init__(self) -> None:
        for name in _PROBABILITIES:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= float(v) <= 1.0):
                raise MaskingConfigError(name, f"must be a probability in [0, 1], got {v!r}")
        for name in _LENGTHS:
            setattr(self, name, _length_pair(name, getattr(self, name)))
        if not isinstance(self.alphabet, str) or len(set(self.alphabet)) < 2:
            raise MaskingConfigError("alphabet", f"must hold at least two distinct characters, got {self.alphabet!r}")
        # precomputed draw tables (not fields), read by names.draw_names and defaults.fresh_value
        self._alphabet = list(dict.fromkeys(self.alphabet))
        value_chars = [c for c in self._alphabet if c.isascii() and c.isalnum()]
        self._value_alphabet = value_chars if len(value_chars) >= 2 else list(string.ascii_letters + string.digits)
        self._name_tables = byte_tables(self._alphabet)
        self._value_tables = byte_tables(self._value_alphabet)


def _length_pair(name: str, v: object) -> tuple[int, int]:
    try:
        lo, hi = v
    except (TypeError, ValueError):
        raise MaskingConfigError(name, f"must be a pair (lo, hi), got {v!r}") from None
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (lo, hi)) or not (1 <= lo <= hi):
        raise MaskingConfigError(name, f"must satisfy 1 <= lo <= hi (integers), got {v!r}")
    return lo, hi
