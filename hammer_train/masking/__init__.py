"""Function masking (Hammer, arXiv 2410.04587 §3), seeded per row and epoch.

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

What we do better than the authors' reference code (repository MadeAgents/Hammer,
``train/data_processing.py``: one global random state, defaults replaced by raw substring and
compared with mismatched equality, bools turned into floats):

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

Where each part lives
---------------------
:mod:`.config` (:class:`MaskingConfig`, the one place defaults are defined and validated),
:mod:`.names` (the per-row rng, masked names), :mod:`.values` (typed comparison and rendering),
:mod:`.text` (whole-token replacement), :mod:`.defaults` (used defaults and their fresh values),
:mod:`.rewrite` (tools, answers and query rewritten from a plan), :mod:`.inverse` (the way back)
and :mod:`.core` (:func:`mask_example`, :func:`mask_row`, :func:`mask_dataset_rows`).
"""

from .config import DEFAULT_ALPHABET, MASK_KINDS, MaskingConfig, MaskingConfigError
from .core import MaskedExample, mask_dataset_rows, mask_example, mask_row
from .inverse import InverseMap, unmask_calls
from .names import row_rng


__all__ = [
    "DEFAULT_ALPHABET",
    "MASK_KINDS",
    "MaskingConfig",
    "MaskingConfigError",
    "InverseMap",
    "MaskedExample",
    "row_rng",
    "mask_example",
    "mask_dataset_rows",
    "mask_row",
    "unmask_calls",
]
