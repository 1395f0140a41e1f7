"""Function masking (Hammer, arXiv 2410.04587 §3; DESIGN.md "Function masking"), seeded per row and epoch.

A masked row gets, each kind switchable by a probability in :class:`MaskingConfig`:

1. ``"function"``: every function name becomes a random string (5 to 15 characters from
   ``A-Z a-z 0-9 _ .``); the answers, and the ``tool_calls`` of earlier turns in a multi-turn
   query, are rewritten to match;
2. ``"parameter"``: every parameter name becomes a random string (4 to 10 characters); argument
   keys are rewritten only in calls to that function;
3. ``"default"``: a parameter default that an answer actually uses gets a fresh value, written
   consistently into the spec's ``default``, that parameter's description, the query and the
   answers (see "Default values" below);
4. ``"shuffle"``: the tools are shuffled (and de-duplicated by name).

Function descriptions never change. The point (paper §3): the model must read descriptions, not
lean on names it saw in pre-training.

What we do better than the reference code (DESIGN.md, "Where the reference code falls short"):

* **Per-row seeding.** :func:`row_rng` seeds a ``random.Random`` from a blake2b hash of
  ``(seed, row, epoch)``, so any row's masking is reproducible alone, in any process, in any
  order; with :attr:`MaskingConfig.dynamic` the names are fresh every epoch instead of frozen
  copies.
* **Names are safe.** Masked names are unique within the row and never equal any real function or
  parameter name of the row.
* **Default values are typed.** Values are compared as typed JSON scalars after normalization
  (a string that spells a JSON number or boolean, such as the xLAM default ``"10"`` of an ``int``
  parameter, equals the number ``10``; ``True`` never equals ``1``), a bool default is negated
  (the reference turned it into a float), each place keeps its own JSON type (``"10"`` becomes
  ``"13"``, ``10`` becomes ``13``), and text is replaced only as whole tokens, never by raw
  substring (``"top 10 results"`` is untouched when the default is ``1``).
* **Reversible.** :class:`InverseMap` (JSON-serializable) maps masked names and values back;
  :func:`unmask_calls` applies it to predicted calls.

Default values
--------------
A default ``d`` (not ``MISSING``, ``None``, ``""``, a list or a dict) is *used* when some answer
calls its function and passes a top-level argument equal to ``d`` after normalization. Its fresh
value follows the default's JSON type (a numeric / boolean string used by a numeric / boolean
answer is treated as that number / boolean):

* string: 5 random characters from the letters and digits of :attr:`MaskingConfig.alphabet`
  (Hammer's rule), chosen so that it does not already occur in the query;
* integer: ``d + k``, ``k`` uniform in 1..4 (Hammer's rule); an integral float used by an integer
  answer counts as an integer;
* float: ``round(d + u, n)`` with ``u ~ U(0, 1)`` and ``n`` the number of decimals ``d`` is
  written with (``repr``; at least 1, at most 15; ``46.95828`` keeps 5 decimals), bumped by one
  unit in the last place if rounding gave ``d`` back;
* bool: ``not d``.

A fresh value never equals another value that the answers pass to the same parameter, so the
inverse map is unambiguous; when no such value exists (a bool default whose negation another call
also passes) that default is left unmasked. Equal old values in one row get the same fresh value.

A default is also left unmasked in a row where another argument (of another parameter or
another call, at any depth) passes the same value: its text in the query is that argument's
evidence too, and replacing it there would leave that argument unsupported (``"10 items from page
10"`` with ``limit`` defaulting to 10 and ``page=10``).

When the parameter lists allowed values (an ``enum`` in its spec, as in JSON-schema tools), the
old value is replaced in the enum too, and the fresh value is none of the other allowed values, so
the masked answer stays inside the masked spec.

Text replacement: in the parameter's description and in the query (user turns only for a
multi-turn query) every whole-token spelling of the old value becomes the new one. Strings are
replaced in four letter-case variants (original, lower, upper, capitalized -> the same variant of
the new value), as Hammer did. A token is "whole" when it is not glued to a word character; a
number additionally must not be part of a longer number (``1`` inside ``10``, ``1.5``, ``-1``,
``1,000`` or ``2020-01-05`` is left alone). All spellings are replaced in one pass, so a
replacement is never replaced again.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import string
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from .schema import MISSING, Example, Parameter, Tool, ToolCall


__all__ = [
    "DEFAULT_ALPHABET",
    "MASK_KINDS",
    "MaskingConfig",
    "InverseMap",
    "MaskedExample",
    "row_rng",
    "mask_example",
    "mask_dataset_rows",
    "mask_row",
    "unmask_calls",
]

DEFAULT_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "_."
"""Hammer's alphabet for masked names: ``A-Z a-z 0-9 _ .`` (DESIGN.md, "Function masking")."""

MASK_KINDS = ("function", "parameter", "default", "shuffle")

_MAX_NAME_TRIES = 1000


# ----------------------------------------------------------------------------------- config


@dataclass
class MaskingConfig:
    """How rows are masked (Hammer's values are the defaults; arXiv 2410.04587 §3, DESIGN.md).

    Attributes:
        row_prob: share of rows that are masked (Hammer: 2/3; the other third keeps real names).
        function_prob: in a masked row, probability that function names are masked.
        parameter_prob: in a masked row, probability that parameter names are masked.
        default_prob: in a masked row, probability that used default values are replaced.
        function_name_length: inclusive ``(lo, hi)`` length of a masked function name (Hammer 5-15).
        parameter_name_length: inclusive ``(lo, hi)`` length of a masked parameter name (Hammer 4-10).
        alphabet: characters masked names are drawn from (Hammer: ``A-Za-z0-9_.``); fresh string
            defaults use its letters and digits only.
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
        ValueError: naming the field, when a probability is outside [0, 1], a length pair is not
            ``1 <= lo <= hi``, or the alphabet has fewer than two distinct characters.
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
        for name in ("row_prob", "function_prob", "parameter_prob", "default_prob"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= float(v) <= 1.0):
                raise ValueError(f"MaskingConfig.{name} must be a probability in [0, 1], got {v!r}")
        for name in ("function_name_length", "parameter_name_length"):
            v = getattr(self, name)
            try:
                lo, hi = v
            except (TypeError, ValueError):
                raise ValueError(f"MaskingConfig.{name} must be a pair (lo, hi), got {v!r}") from None
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in (lo, hi)) or not (1 <= lo <= hi):
                raise ValueError(f"MaskingConfig.{name} must satisfy 1 <= lo <= hi (integers), got {v!r}")
            setattr(self, name, (lo, hi))
        if not isinstance(self.alphabet, str) or len(set(self.alphabet)) < 2:
            raise ValueError(
                f"MaskingConfig.alphabet must hold at least two distinct characters, got {self.alphabet!r}"
            )
        # precomputed draw tables (not fields)
        self._alphabet = list(dict.fromkeys(self.alphabet))
        value_chars = [c for c in self._alphabet if c.isascii() and c.isalnum()]
        self._value_alphabet = value_chars if len(value_chars) >= 2 else list(string.ascii_letters + string.digits)
        self._name_tables = _byte_tables(self._alphabet)
        self._value_tables = _byte_tables(self._value_alphabet)


def _byte_tables(chars: list[str]) -> tuple[bytes, bytes] | None:
    """``bytes.translate`` tables that turn uniform random bytes into uniform characters of
    ``chars``: byte ``b < lim`` maps to ``chars[b % n]`` and bytes ``>= lim`` are deleted
    (rejection sampling, so every character is equally likely). ``None`` for non-ASCII alphabets."""
    n = len(chars)
    if n > 256 or not all(c.isascii() for c in chars):
        return None
    lim = (256 // n) * n
    table = bytes(ord(chars[b % n]) if b < lim else 0 for b in range(256))
    return table, bytes(range(lim, 256))


def _random_string(rng: random.Random, k: int, chars: list[str], tables: tuple[bytes, bytes] | None) -> str:
    """``k`` characters drawn uniformly and independently from ``chars``."""
    if tables is None:
        return "".join(rng.choices(chars, k=k))
    table, reject = tables
    out = b""
    while len(out) < k:
        m = k - len(out) + 8
        out += rng.getrandbits(8 * m).to_bytes(m, "little").translate(table, reject)
    return out[:k].decode("ascii")


# ----------------------------------------------------------------------------------- seeding


def row_rng(seed: int, row: int, epoch: int = 0) -> random.Random:
    """A ``random.Random`` for one row in one epoch, seeded from a stable hash.

    The seed is the first 8 bytes of ``blake2b("seed:row:epoch")`` (never Python's salted
    ``hash()``), so it is the same in every process and run (DESIGN.md, TRL traps: masking fresh
    each epoch). With ``MaskingConfig.dynamic=False`` callers pass ``epoch=0`` always.

    Args:
        seed, row, epoch: integers (any sign or size).

    Returns:
        A fresh ``random.Random``.
    """
    digest = hashlib.blake2b(f"{int(seed)}:{int(row)}:{int(epoch)}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "little"))


# ----------------------------------------------------------------------------------- inverse


@dataclass
class InverseMap:
    """How to map a masked row's names and values back to the real ones.

    Attributes:
        functions: masked function name -> real function name.
        parameters: real function name -> {masked parameter name -> real parameter name}.
        values: real function name -> {real parameter name -> ``[[masked value, real value], ...]``}
            for replaced default values. A predicted argument value is mapped back only when it has
            the masked value's exact JSON type and is equal to it.

    JSON-serializable through :meth:`to_dict` / :meth:`from_dict` (evaluation stores it).
    """

    functions: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, list[list[Any]]]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.functions or self.parameters or self.values)

    def to_dict(self) -> dict[str, Any]:
        """``{"functions": ..., "parameters": ..., "values": ...}``, plain JSON types only."""
        return {
            "functions": dict(self.functions),
            "parameters": {f: dict(m) for f, m in self.parameters.items()},
            "values": {
                f: {p: [list(pair) for pair in pairs] for p, pairs in m.items()} for f, m in self.values.items()
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InverseMap":
        """Inverse of :meth:`to_dict` (missing keys read as empty)."""
        return cls(
            functions=dict(d.get("functions") or {}),
            parameters={f: dict(m) for f, m in (d.get("parameters") or {}).items()},
            values={
                f: {p: [list(pair) for pair in pairs] for p, pairs in m.items()}
                for f, m in (d.get("values") or {}).items()
            },
        )

    def unmask_name(self, name: str) -> str:
        """The real function name for ``name`` (unknown names are returned unchanged)."""
        return self.functions.get(name, name)


def _unmask_value(value: Any, pairs: list[list[Any]] | None) -> Any:
    if not pairs:
        return value
    tv = type(value)
    for masked, real in pairs:
        if type(masked) is tv and masked == value:
            return real
    return value


def unmask_calls(calls: Iterable[Any], inverse: InverseMap) -> list[dict[str, Any]]:
    """Map predicted calls of a masked row back to real names, keys and default values.

    Args:
        calls: predicted calls, each a ``{"name", "arguments"}`` dict (a :class:`ToolCall` is
            accepted too). Other keys of a call are kept.
        inverse: the row's :class:`InverseMap`.

    Returns:
        New list of new dicts. Unknown function names, unknown argument keys, values that match no
        replaced default, and malformed items (not a dict, arguments not a dict) are left as they are.
    """
    out: list[dict[str, Any]] = []
    functions, parameters, values = inverse.functions, inverse.parameters, inverse.values
    for call in calls:
        if isinstance(call, ToolCall):
            call = call.to_dict()
        if not isinstance(call, dict):
            out.append(call)
            continue
        new = dict(call)
        name = call.get("name")
        real = functions.get(name, name) if isinstance(name, str) else name
        new["name"] = real
        args = call.get("arguments")
        if isinstance(args, dict) and isinstance(real, str):
            pmap = parameters.get(real) or {}
            vmap = values.get(real) or {}
            new_args = {}
            for k, v in args.items():
                rk = pmap.get(k, k)
                new_args[rk] = _unmask_value(v, vmap.get(rk))
            new["arguments"] = new_args
        out.append(new)
    return out


@dataclass
class MaskedExample:
    """Result of masking one row.

    Attributes:
        example: the masked row (a new :class:`Example`; the input is never mutated). For a row left
            unmasked by :func:`mask_dataset_rows` this is the input object itself: treat it as
            read-only.
        inverse: maps masked names / values back (empty for an unmasked row).
        masked_kinds: kinds applied to at least one item, among ``"function"``, ``"parameter"``,
            ``"default"``, ``"shuffle"`` (empty for an unmasked row).
    """

    example: Example
    inverse: InverseMap = field(default_factory=InverseMap)
    masked_kinds: set[str] = field(default_factory=set)

    @property
    def is_masked(self) -> bool:
        return bool(self.masked_kinds)


# ----------------------------------------------------------------------------------- values


def _decode_scalar(s: str) -> Any:
    """A string spelling a finite JSON number or a JSON boolean -> that value, else ``None``."""
    if not s or s[0] not in "-0123456789tf" or s[-1].isspace():
        return None
    if s[0] in "tf":
        return True if s == "true" else False if s == "false" else None
    try:
        v = json.loads(s)
    except ValueError:
        return None
    if type(v) is int or (type(v) is float and math.isfinite(v)):
        return v
    return None


def _skippable(v: Any) -> bool:
    """Values never masked: None, "", lists, dicts and anything that is not a JSON scalar."""
    if v is None or v is MISSING:
        return True
    t = type(v)
    if t is str:
        return v == ""
    return t not in (int, float, bool)


def _scalars(value: Any) -> Iterator[Any]:
    """Every scalar inside an argument value (lists and dicts walked), in order."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _scalars(v)
    else:
        yield value


def _same_value(default: Any, value: Any) -> bool:
    """Typed equality after JSON normalization (numeric / boolean strings decode; bool != int)."""
    td, tv = type(default), type(value)
    if td is tv:
        return default == value
    if tv not in (str, int, float, bool) or (tv is str and value == ""):
        return False
    if td is str:
        default = _decode_scalar(default)
        if default is None:
            return False
        td = type(default)
    if tv is str:
        value = _decode_scalar(value)
        if value is None:
            return False
        tv = type(value)
    if td is bool or tv is bool:
        return td is tv and default == value
    return default == value


def _float_decimals(x: float) -> int:
    r = repr(float(x))
    if "e" in r or "E" in r:
        mant, exp = r.lower().split("e")
        dec = (len(mant.split(".")[1]) if "." in mant else 0) - int(exp)
    else:
        dec = len(r.split(".")[1]) if "." in r else 0
    return min(max(dec, 1), 15)


def _str_decimals(s: str) -> int:
    if "e" in s or "E" in s or "." not in s:
        return 0
    return len(s.split(".", 1)[1])


def _render_like(new: Any, like: Any, int_mode: bool) -> Any:
    """``new`` (the fresh typed value) written with the JSON type of ``like`` (an old occurrence)."""
    tl = type(like)
    if tl is type(new) and tl is not float:
        return new
    if tl is bool:
        return bool(new)
    if tl is int:
        return int(new)
    if tl is float:
        return float(new)
    # a string occurrence of a number / bool
    if type(new) is bool:
        return "true" if new else "false"
    if type(new) is str:
        return new
    if int_mode:
        dec = _str_decimals(like)
        return f"{float(new):.{dec}f}" if dec else str(int(new))
    return repr(float(new))


def _spelling(v: Any) -> str:
    if type(v) is str:
        return v
    if type(v) is bool:
        return "true" if v else "false"
    return repr(v) if type(v) is float else str(v)


# ----------------------------------------------------------------------------------- text


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_"


def _is_number_spelling(s: str) -> bool:
    v = _decode_scalar(s)
    return v is not None and type(v) is not bool


def _token_ok(text: str, start: int, end: int, numeric: bool, spelling: str) -> bool:
    """Whole-token check for ``text[start:end]`` (see module docstring)."""
    n = len(text)
    if start > 0:
        prev = text[start - 1]
        if _is_word(spelling[0]) and _is_word(prev):
            return False
        if numeric:
            if prev == ".":
                return False
            if prev == "-" and spelling[0] != "-":
                return False
            if prev == "," and start >= 2 and text[start - 2].isdigit():
                return False
    if end < n:
        nxt = text[end]
        if _is_word(spelling[-1]) and _is_word(nxt):
            return False
        if numeric:
            if nxt in ".,-" and end + 1 < n and text[end + 1].isdigit():
                return False
    return True


class _Replacer:
    """Whole-token replacement of several spellings in one pass (longest spelling wins)."""

    __slots__ = ("pairs",)

    def __init__(self) -> None:
        self.pairs: dict[str, tuple[str, bool]] = {}

    def add(self, old: str, new: str) -> None:
        if old and old != new and old not in self.pairs:
            self.pairs[old] = (new, _is_number_spelling(old))

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def apply(self, text: str) -> str:
        if not text or not self.pairs:
            return text
        hits: list[tuple[int, int, str]] = []
        for old, (new, numeric) in self.pairs.items():
            if old not in text:
                continue
            start = text.find(old)
            ln = len(old)
            while start != -1:
                end = start + ln
                if _token_ok(text, start, end, numeric, old):
                    hits.append((start, -ln, new))
                start = text.find(old, start + 1)
        if not hits:
            return text
        hits.sort()
        out = []
        pos = 0
        for start, neg_len, new in hits:
            if start < pos:
                continue
            out.append(text[pos:start])
            out.append(new)
            pos = start - neg_len
        out.append(text[pos:])
        return "".join(out)


def _case_variants(old: str, new: str) -> list[tuple[str, str]]:
    return [(old, new), (old.lower(), new.lower()), (old.upper(), new.upper()), (old.capitalize(), new.capitalize())]


# ----------------------------------------------------------------------------------- masking


def _draw_names(
    rng: random.Random, count: int, length: tuple[int, int], config: MaskingConfig, used: set[str]
) -> list[str]:
    """``count`` names, each not in ``used`` (all added to it): lengths first, then all characters
    in one draw; a name that collides is redrawn alone (:func:`_draw_name`)."""
    lo, hi = length
    span = hi - lo + 1
    rand = rng.random
    lens = [lo + int(rand() * span) for _ in range(count)]
    pool = _random_string(rng, sum(lens), config._alphabet, config._name_tables)
    out = []
    pos = 0
    for k in lens:
        s = pool[pos : pos + k]
        pos += k
        if s in used:
            s = _draw_name(rng, length, config._alphabet, config._name_tables, used)
        else:
            used.add(s)
        out.append(s)
    return out


def _draw_name(rng: random.Random, length: tuple[int, int], alphabet: list[str], tables, used: set[str]) -> str:
    """A name of uniform length in ``length`` (inclusive) from ``alphabet``, not in ``used``
    (added to it)."""
    lo, hi = length
    span = hi - lo + 1
    rand = rng.random
    for _ in range(_MAX_NAME_TRIES):
        s = _random_string(rng, lo + int(rand() * span), alphabet, tables)
        if s not in used:
            used.add(s)
            return s
    raise ValueError(
        f"could not draw a unique masked name of length {length} from {len(alphabet)} characters "
        f"in {_MAX_NAME_TRIES} tries: lengthen MaskingConfig name lengths or alphabet"
    )


@dataclass
class _DefaultPlan:
    new_default: Any
    replacer: _Replacer  # spellings for description and query
    new_value: Any  # typed fresh value
    old_value: Any  # typed old value (the default, normalized)
    int_mode: bool


def _fresh_value(
    base: Any,
    int_mode: bool,
    rng: random.Random,
    config: MaskingConfig,
    avoid: list[Any],
    query_text: str,
) -> Any:
    tb = type(base)
    if tb is bool:
        return not base
    if tb is str:
        new = base
        for _ in range(20):
            new = _random_string(rng, 5, config._value_alphabet, config._value_tables)
            if new != base and new not in query_text and not any(_same_value(new, a) for a in avoid):
                break
        return new
    if int_mode:
        ib = int(base)
        new = ib + rng.randint(1, 4)
        k = 5
        while any(_same_value(new, a) for a in avoid) and k < 1000:
            new = ib + k
            k += 1
        return new
    dec = _float_decimals(base)
    unit = 10.0**-dec
    new = base
    for _ in range(20):
        new = round(base + rng.random(), dec)
        if new == base:
            new = round(base + unit, dec)
        if not any(_same_value(new, a) for a in avoid):
            break
    return new


def _rewrite_call(
    name: str,
    args: Any,
    fn_map: dict[str, str],
    param_maps: dict[str, dict[str, str]],
    value_plans: dict[str, dict[str, _DefaultPlan]],
) -> tuple[str, Any]:
    new_name = fn_map.get(name, name)
    if not isinstance(args, dict):
        return new_name, args
    pmap = param_maps.get(name)
    vplans = value_plans.get(name)
    if not pmap and not vplans:
        return new_name, dict(args)
    new_args = {}
    for k, v in args.items():
        if vplans:
            plan = vplans.get(k)
            if plan is not None and _same_value(plan.old_value, v):
                v = _render_like(plan.new_value, v, plan.int_mode)
        new_args[pmap.get(k, k) if pmap else k] = v
    return new_name, new_args


def _rewrite_history_call(call: Any, fn_map, param_maps, value_plans) -> Any:
    if not isinstance(call, dict):
        return call
    new = dict(call)
    if isinstance(call.get("function"), dict):  # OpenAI shape
        new["function"] = _rewrite_history_call(call["function"], fn_map, param_maps, value_plans)
        return new
    name = call.get("name")
    if not isinstance(name, str):
        return new
    args = call.get("arguments")
    encoded = False
    if isinstance(args, str):
        try:
            args = json.loads(args)
            encoded = isinstance(args, dict)
        except ValueError:
            pass
    new_name, new_args = _rewrite_call(name, args, fn_map, param_maps, value_plans)
    new["name"] = new_name
    if "arguments" in call:
        new["arguments"] = json.dumps(new_args, ensure_ascii=False) if encoded else new_args
    return new


def _query_text(query: Any) -> str:
    if isinstance(query, str):
        return query
    parts = []
    for m in query:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, str):
            parts.append(c)
    return "\n".join(parts)


def mask_example(example: Example, config: MaskingConfig, rng: random.Random) -> MaskedExample:
    """Mask one row (always; the "is this row masked" draw belongs to :func:`mask_dataset_rows`).

    Rules: Hammer §3 (arXiv 2410.04587) as restated in DESIGN.md "Function masking", with the
    reference code's bugs fixed; see the module docstring for the exact rules on names, default
    values and text replacement.

    Draw order (fixed, so a given ``rng`` state gives one result): three ``rng.random()`` draws
    decide function / parameter / default masking against ``config.*_prob``; then function names
    in tool order (all lengths, then all characters in one draw); then parameter names in tool and
    parameter order (likewise); then fresh default values; then the shuffle.

    The new row shares the input's immutable pieces (``extra`` dicts of tools and parameters,
    except a rewritten ``enum``; strings) rather than deep-copying them: treat both as read-only.

    Args:
        example: the row; never mutated.
        config: masking settings.
        rng: the row's random source (usually :func:`row_rng`).

    Returns:
        :class:`MaskedExample` with a new ``Example`` (same ``source``, ``row``, ``kind``), its
        :class:`InverseMap` and the kinds applied.

    Raises:
        ValueError: when no unique masked name can be drawn (name lengths / alphabet too small
            for the row).
    """
    r_fn, r_par, r_def = rng.random(), rng.random(), rng.random()
    do_fn = r_fn < config.function_prob
    do_par = r_par < config.parameter_prob
    do_def = r_def < config.default_prob
    kinds: set[str] = set()
    tools = example.tools
    answers = example.answers
    query = example.query

    used: set[str] = set()
    for t in tools:
        used.add(t.name)
        for p in t.parameters:
            used.add(p.name)

    inverse = InverseMap()
    fn_map: dict[str, str] = {}
    if do_fn:
        real_fns = list(dict.fromkeys(t.name for t in tools))
        if real_fns:
            fn_map = dict(zip(real_fns, _draw_names(rng, len(real_fns), config.function_name_length, config, used)))
            inverse.functions = {m: r for r, m in fn_map.items()}
            kinds.add("function")

    param_maps: dict[str, dict[str, str]] = {}
    if do_par:
        keys: list[tuple[str, str]] = []
        for t in tools:
            if t.parameters:
                pm = param_maps.setdefault(t.name, {})
                for p in t.parameters:
                    if p.name not in pm:
                        pm[p.name] = ""
                        keys.append((t.name, p.name))
        if keys:
            for (fname, pname), m in zip(
                keys, _draw_names(rng, len(keys), config.parameter_name_length, config, used)
            ):
                param_maps[fname][pname] = m
            inverse.parameters = {f: {m: r for r, m in pm.items()} for f, pm in param_maps.items()}
            kinds.add("parameter")

    # --- default values actually used by an answer
    value_plans: dict[str, dict[str, _DefaultPlan]] = {}
    query_replacer = _Replacer()
    if do_def and answers:
        calls_by_fn: dict[str, list[dict[str, Any]]] = {}
        for c in answers:
            calls_by_fn.setdefault(c.name, []).append(c.arguments)
        fresh_cache: dict[tuple, Any] = {}
        qtext: str | None = None
        passed = [(c.name, k, v) for c in answers for k, a in c.arguments.items() for v in _scalars(a)]
        for t in tools:
            arg_lists = calls_by_fn.get(t.name)
            if not arg_lists or t.name in value_plans:
                continue
            for p in t.parameters:
                d = p.default
                if _skippable(d):
                    continue
                places = []
                others = []
                for args in arg_lists:
                    if p.name in args:
                        v = args[p.name]
                        if _same_value(d, v):
                            places.append(v)
                        else:
                            others.append(v)
                if not places:
                    continue
                if any(_same_value(d, v) for fn, k, v in passed if (fn, k) != (t.name, p.name)):
                    continue  # the query's text of this value also backs another argument
                enum = p.extra.get("enum") if p.extra else None
                if isinstance(enum, list):  # the fresh value must not be another allowed value
                    others.extend(e for e in enum if not _same_value(d, e))
                # normalized base value and its kind
                base = d
                if type(d) is str and any(type(v) is not str for v in places):
                    base = _decode_scalar(d)
                tb = type(base)
                int_mode = tb is int or (tb is float and base.is_integer() and any(type(v) is int for v in places))
                if qtext is None:
                    qtext = _query_text(query)
                key = (tb.__name__, base, int_mode)
                new = fresh_cache.get(key)
                if new is None or any(_same_value(new, a) for a in others):
                    new = _fresh_value(base, int_mode, rng, config, others, qtext)
                    if any(_same_value(new, a) for a in others):
                        continue  # no unambiguous fresh value (a bool whose negation is also passed)
                    fresh_cache.setdefault(key, new)
                rep = _Replacer()
                if tb is str:
                    for o, n in _case_variants(base, new):
                        rep.add(o, n)
                elif tb is bool:
                    for o, n in _case_variants(_spelling(base), _spelling(new)):
                        rep.add(o, n)
                else:  # a number: every string spelling seen, then the canonical spellings
                    for occ in [d] + places:
                        if type(occ) is str:
                            rep.add(occ, _render_like(new, occ, int_mode))
                    if tb is int:
                        rep.add(str(base), str(new))
                    else:
                        rep.add(repr(base), repr(float(new)))
                        if int_mode:
                            rep.add(str(int(base)), str(int(new)))
                for o, (n, _) in rep.pairs.items():
                    query_replacer.add(o, n)
                plan = _DefaultPlan(
                    new_default=_render_like(new, d, int_mode),
                    replacer=rep,
                    new_value=new,
                    old_value=base,
                    int_mode=int_mode,
                )
                value_plans.setdefault(t.name, {})[p.name] = plan
                pairs = inverse.values.setdefault(t.name, {}).setdefault(p.name, [])
                seen = set()
                for v in places:
                    mv = _render_like(new, v, int_mode)
                    k2 = (type(mv).__name__, mv)
                    if k2 not in seen:
                        seen.add(k2)
                        pairs.append([mv, v])
        if value_plans:
            kinds.add("default")

    # --- new tools
    new_tools: list[Tool] = []
    seen_names: set[str] = set()
    for t in tools:
        if not config.duplicate_padding:
            if t.name in seen_names:
                continue
            seen_names.add(t.name)
        pm = param_maps.get(t.name)
        vp = value_plans.get(t.name)
        params = []
        for p in t.parameters:
            plan = vp.get(p.name) if vp else None
            extra = p.extra
            if plan is not None:
                desc = plan.replacer.apply(p.description)
                default = plan.new_default
                enum = extra.get("enum") if extra else None
                if isinstance(enum, list):
                    extra = dict(extra)
                    extra["enum"] = [
                        _render_like(plan.new_value, e, plan.int_mode) if _same_value(plan.old_value, e) else e
                        for e in enum
                    ]
            else:
                desc = p.description
                default = p.default
            params.append(Parameter(pm[p.name] if pm else p.name, p.type, desc, default, p.required, extra))
        new_tools.append(
            Tool(
                name=fn_map.get(t.name, t.name),
                description=t.description,
                parameters=params,
                layout=t.layout,
                extra=t.extra,
            )
        )
    if config.shuffle_tools and len(new_tools) > 1:
        rng.shuffle(new_tools)
        kinds.add("shuffle")

    # --- answers
    new_answers = []
    for c in answers:
        name, args = _rewrite_call(c.name, c.arguments, fn_map, param_maps, value_plans)
        new_answers.append(ToolCall(name, args))

    # --- query
    if isinstance(query, str):
        new_query: Any = query_replacer.apply(query)
    elif isinstance(query, list):
        new_query = []
        for m in query:
            if not isinstance(m, dict):
                new_query.append(m)
                continue
            nm = dict(m)
            if query_replacer and m.get("role") in ("user", "human") and isinstance(m.get("content"), str):
                nm["content"] = query_replacer.apply(m["content"])
            if m.get("tool_calls"):
                nm["tool_calls"] = [_rewrite_history_call(c, fn_map, param_maps, value_plans) for c in m["tool_calls"]]
            new_query.append(nm)
    else:
        new_query = query

    masked = Example(
        query=new_query,
        tools=new_tools,
        answers=new_answers,
        source=example.source,
        row=example.row,
        kind=example.kind,
    )
    return MaskedExample(example=masked, inverse=inverse, masked_kinds=kinds)


def mask_dataset_rows(
    examples: Sequence[Example], config: MaskingConfig, seed: int, epoch: int = 0
) -> list[MaskedExample]:
    """Mask a list of rows the Hammer way, reproducibly per row.

    Row ``i`` uses ``row_rng(seed, i, e)`` with ``e = epoch`` when ``config.dynamic`` else ``0``.
    Its first draw decides whether the row is masked (``rng.random() < config.row_prob``; Hammer
    masks 2/3 of rows, DESIGN.md "Function masking"); a masked row then goes through
    :func:`mask_example` with the same rng. So the result for a row depends only on
    ``(seed, i, e)``, the row and the config.

    Args:
        examples: rows, indexed by position.
        config: masking settings.
        seed: base seed.
        epoch: training epoch (ignored unless ``config.dynamic``).

    Returns:
        One :class:`MaskedExample` per row, in order; an unmasked row holds the input object itself,
        an empty inverse and no kinds.

    Raises:
        ValueError: from :func:`mask_example`.
    """
    e = epoch if config.dynamic else 0
    return [mask_row(ex, config, seed, i, e) for i, ex in enumerate(examples)]


def mask_row(example: Example, config: MaskingConfig, seed: int, row: int, epoch: int = 0) -> MaskedExample:
    """Mask one row as :func:`mask_dataset_rows` would mask it at position ``row``.

    The row's rng is ``row_rng(seed, row, epoch)``; its first draw decides whether the row is
    masked (``< config.row_prob``; Hammer: 2/3), then :func:`mask_example` continues with it.
    Callers pass the epoch they mean (the static copy index, or the training epoch).

    Returns:
        A :class:`MaskedExample`; an unmasked row holds the input object, an empty inverse and
        no kinds.
    """
    rng = row_rng(seed, row, epoch)
    if rng.random() < config.row_prob:
        return mask_example(example, config, rng)
    return MaskedExample(example=example)
