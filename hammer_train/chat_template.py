"""The Hammer training prompt as a chat template, so that a served adapter sees what it was trained on.

With ``prompt_style: hammer`` a row is trained as the base model's own chat template applied to a
system turn (``system_prompt``) and ONE user turn holding the four Hammer blocks
(:func:`hammer_train.prompts.hammer_user_content`); the target is the answers JSON in a ``` fence
(:func:`hammer_train.prompts.format_answers`). A server (vLLM, SGLang, a ``transformers``
pipeline, llama.cpp with ``--jinja``) gets OpenAI ``messages`` + ``tools`` instead and renders
them with the saved chat template: :func:`hammer_chat_template` builds a Jinja template that
renders them into exactly the training text (byte for byte; ``tests/test_chat_template.py``
checks every row of the real data).

How a request maps onto the training prompt:

* ``tools``: OpenAI ``{"type": "function", "function": {...JSON schema...}}`` or flat xLAM
  ``{"name", "description", "parameters": {p: {...}}}`` specs; AVAILABLE TOOLS is what
  ``json.dumps([Tool.from_dict(t).to_xlam() for t in tools], ensure_ascii=False)`` gives
  (JSON-schema tools get ``"required": true`` on required parameters). An invalid spec raises
  the same cases as :meth:`Tool.from_dict` (``raise_exception``: ``jinja2.TemplateError``).
* ``messages``: a last ``assistant`` message, when no generation prompt is asked for, is the
  completion: its ``tool_calls`` as the trained fenced list (``[]`` without calls; its text is not
  rendered). Everything before it is the QUERY: one ``user`` message is its text as is (a plain
  query), a longer history is rendered as :func:`hammer_train.prompts.render_query` renders it
  (``User:`` / ``AI:`` lines, ``API-Request: [f(a=1)]->result`` for a call joined to the tool
  message after it). Tool-call ``arguments`` must be objects (``transformers`` and vLLM pass them
  parsed); a JSON string raises.
* a client's ``system`` message is part of the QUERY, as a ``System: ...`` line, exactly as the
  training data has system prompts (BFCL v4 live rows); the system TURN is always the one the
  adapter was trained with (``system_prompt``, Hammer's "You are a helpful assistant."). A
  client cannot replace it: the model never saw another one.

The template relies on ``tojson`` being ``json.dumps(x, ensure_ascii=False)`` for strings and
numbers, as in ``transformers`` (and so vLLM and SGLang); objects and lists are written by hand in
the template, so key order never depends on the engine's ``tojson``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ._hammer_jinja import TEMPLATE as _TEMPLATE
from .prompts import ROLE_PREFIX, SYSTEM_PROMPT, TOOL_ROLES, hammer_prompt_text, to_conversation
from .schema import Example


__all__ = [
    "TEMPLATE_MARKER",
    "TurnPieces",
    "hammer_chat_template",
    "is_hammer_template",
    "save_chat_template",
    "template_messages",
    "template_tools",
    "turn_pieces",
]

TEMPLATE_MARKER = "hammer-train chat template"
"""Written in a comment at the top of every generated template (see :func:`is_hammer_template`)."""

_USER_PROBE = "HammerProbeUserTurn"
_ASSISTANT_PROBE = "HammerProbeAssistantTurn"
_SPACED = " \n {} \n "  # a probe with surrounding whitespace: does the base template trim content?


class TurnPieces(dict):
    """The base chat template cut around one system + user (+ assistant) conversation.

    Keys: ``system_prompt`` (the one rendered, or ``None``); ``head`` (everything before the user
    text: BOS, system turn, user header); ``user_tail`` (after the user text: end of turn);
    ``generation`` (the generation prompt); ``assistant_head`` / ``assistant_tail`` (around the
    assistant text); ``user_trim`` / ``assistant_trim`` (``bool``: the base template strips that
    text, as Llama 3's does).
    """


def _default_template(tokenizer: Any) -> str | None:
    """The template ``apply_chat_template`` uses without ``tools=`` (the one training rendered with)."""
    template = getattr(tokenizer, "chat_template", None)
    return template.get("default") if isinstance(template, dict) else template


def _render(tokenizer: Any, messages: list[dict[str, Any]], generation: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)


def _split_on(text: str, probe: str, what: str) -> tuple[str, str]:
    if text.count(probe) != 1:
        raise ValueError(
            f"the base chat template does not write the {what} text once as given (found {text.count(probe)} "
            f"times in {text!r}); hammer_chat_template handles templates that concatenate turns (ChatML, Llama, ...)"
        )
    before, after = text.split(probe)
    return before, after


def _trims(make: Any, before: str, after: str, probe: str, what: str) -> bool:
    """Whether the base template writes ``probe`` with its surrounding whitespace stripped."""
    spaced = _SPACED.format(probe)
    text = make(spaced)
    if text == before + spaced + after:
        return False
    if text == before + spaced.strip() + after:
        return True
    raise ValueError(
        f"the base chat template changes the {what} text beyond stripping it ({text!r}); "
        "it cannot be turned into the Hammer chat template"
    )


def turn_pieces(tokenizer: Any, system_prompt: str | None = SYSTEM_PROMPT) -> TurnPieces:
    """Cut the tokenizer's own chat template into the pieces that wrap the Hammer turns.

    The template is rendered on probe conversations (``system_prompt`` + one user turn, with and
    without the generation prompt, and with an assistant turn after it), as
    :func:`hammer_train.data.tokenize_conversation` renders training rows.

    A tokenizer whose template is already a Hammer template (a saved adapter's) gives the pieces
    stored in it, when it was made for the same ``system_prompt``.

    Raises:
        ValueError: the tokenizer has no chat template, or a Hammer template for another system
            prompt, or a base template that is not concatenative (a turn's text is not written
            once, verbatim or stripped, between fixed pieces; a prompt is not a prefix of the
            conversation that continues it).
    """
    template = _default_template(tokenizer)
    if not template:
        raise ValueError("the tokenizer has no chat template to wrap the Hammer prompt in")
    if is_hammer_template(template):
        pieces = _stored_pieces(template)
        if pieces.get("system_prompt") != system_prompt:
            raise ValueError(
                f"the tokenizer's chat template is a Hammer chat template for the system prompt "
                f"{pieces.get('system_prompt')!r}, not {system_prompt!r}; pass the base tokenizer"
            )
        return pieces
    system = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []

    def prompt(user: str, generation: bool = False) -> str:
        return _render(tokenizer, system + [{"role": "user", "content": user}], generation)

    def full(answer: str) -> str:
        return _render(
            tokenizer,
            system + [{"role": "user", "content": _USER_PROBE}, {"role": "assistant", "content": answer}],
            False,
        )

    plain = prompt(_USER_PROBE)
    head, user_tail = _split_on(plain, _USER_PROBE, "user")
    generated = prompt(_USER_PROBE, generation=True)
    answered = full(_ASSISTANT_PROBE)
    for name, text in (("generation prompt", generated), ("assistant turn", answered)):
        if not text.startswith(plain):
            raise ValueError(f"the base chat template rewrites the prompt when a {name} follows it: {text!r}")
    assistant_head, assistant_tail = _split_on(answered[len(plain) :], _ASSISTANT_PROBE, "assistant")
    return TurnPieces(
        system_prompt=system_prompt,
        head=head,
        user_tail=user_tail,
        generation=generated[len(plain) :],
        assistant_head=assistant_head,
        assistant_tail=assistant_tail,
        user_trim=_trims(prompt, head, user_tail, _USER_PROBE, "user"),
        assistant_trim=_trims(full, plain + assistant_head, assistant_tail, _ASSISTANT_PROBE, "assistant"),
    )


def _literal(value: Any) -> str:
    """A Jinja literal for a string, a bool, or a list or dict of strings (JSON's syntax is Jinja's;
    ``ensure_ascii=False`` keeps characters outside the BMP out of ``\\u`` surrogate escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _build(pieces: TurnPieces) -> str:
    tools_mark, query_mark = "\x00TOOLS\x00", "\x00QUERY\x00"
    pre_tools, rest = hammer_prompt_text(tools_mark, query_mark).split(tools_mark)
    pre_query, post_query = rest.split(query_mark)
    values = {
        "MARKER": TEMPLATE_MARKER,
        "PIECES": json.dumps(pieces, sort_keys=True).replace("#}", "#\\u007d"),  # no "#}" inside the comment
        "ROLE_PREFIX": _literal(ROLE_PREFIX),
        "TOOL_ROLES": _literal(list(TOOL_ROLES)),
        "PRE_TOOLS": _literal(pre_tools),
        "PRE_QUERY": _literal(pre_query),
        "POST_QUERY": _literal(post_query),
        "HEAD": _literal(pieces["head"]),
        "USER_TAIL": _literal(pieces["user_tail"]),
        "USER_TRIM": _literal(pieces["user_trim"]),
        "ASSISTANT_HEAD": _literal(pieces["assistant_head"]),
        "ASSISTANT_TAIL": _literal(pieces["assistant_tail"]),
        "ASSISTANT_TRIM": _literal(pieces["assistant_trim"]),
        "GENERATION": _literal(pieces["generation"]),
    }
    out = _TEMPLATE
    for name, value in values.items():
        out = out.replace(f"@{name}@", value)
    return out


def is_hammer_template(template: Any) -> bool:
    """True when ``template`` (a chat template string) was made by :func:`hammer_chat_template`."""
    return isinstance(template, str) and template.startswith("{#- " + TEMPLATE_MARKER)


def _stored_pieces(template: str) -> TurnPieces:
    found = re.match(r"\{#- [^\n]*? pieces=(\{.*?\}) -#\}", template)
    if not found:
        raise ValueError("a Hammer chat template without its pieces comment (edited by hand?)")
    return TurnPieces(json.loads(found.group(1)))


_SELF_CHECK = Example.from_raw(
    [{"role": "system", "content": "Reply in French."}, {"role": "user", "content": "Météo à Paris, en °C ?"}],
    [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
                    "required": ["city"],
                },
            },
        }
    ],
    [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}],
)


def hammer_chat_template(tokenizer: Any, system_prompt: str | None = SYSTEM_PROMPT) -> str:
    """The Jinja chat template that renders OpenAI ``messages`` + ``tools`` as the Hammer training prompt.

    See the module docstring for how requests map onto the prompt. The base template's turn markup
    is learned with :func:`turn_pieces`; the result is checked on a built-in row (system message,
    unicode, a required JSON-schema parameter, an enum, a call) against
    :func:`hammer_train.prompts.to_conversation` rendered with the base template.

    Args:
        tokenizer: a ``transformers`` tokenizer whose ``chat_template`` is the base model's (the one
            training rendered rows with), or a Hammer template saved with an adapter (rebuilt
            from the pieces stored in its first line); it is not modified.
        system_prompt: the system turn used in training (``HammerArguments.system_prompt``);
            ``None`` when training left it out (the base template's default, if any, is kept).

    Returns:
        The template text, to set as ``tokenizer.chat_template`` or save with
        :func:`save_chat_template`.

    Raises:
        ValueError: see :func:`turn_pieces`; or the built-in check renders differently.
    """
    template = _build(turn_pieces(tokenizer, system_prompt))
    if is_hammer_template(_default_template(tokenizer)):
        return template  # rebuilt from the pieces stored in it; the base template is not at hand
    conv = to_conversation(_SELF_CHECK, "hammer", system_prompt)
    for with_answer in (False, True):
        want = _render(tokenizer, conv["prompt"] + (conv["completion"] if with_answer else []), not with_answer)
        got = tokenizer.apply_chat_template(
            template_messages(_SELF_CHECK, with_answers=with_answer),
            tools=template_tools(_SELF_CHECK),
            chat_template=template,
            tokenize=False,
            add_generation_prompt=not with_answer,
        )
        if got != want:
            raise ValueError(
                "the Hammer chat template built from this tokenizer's template does not reproduce the training "
                f"prompt:\nwant {want!r}\ngot  {got!r}"
            )
    return template


def template_tools(example: Example) -> list[dict[str, Any]]:
    """The ``tools=`` list that makes the Hammer chat template render ``example``'s AVAILABLE TOOLS
    as training does: OpenAI specs (:meth:`Tool.to_openai`) for tools that came as JSON schema, flat
    xLAM specs (:meth:`Tool.to_xlam`) for tools that came in xLAM layout."""
    return [t.to_openai() if t.layout == "openai" else t.to_xlam() for t in example.tools]


def _client_message(message: dict[str, Any]) -> dict[str, Any]:
    out = {"role": message.get("role", "user"), "content": message.get("content")}
    if message.get("tool_calls"):
        out["tool_calls"] = [
            {"type": "function", "function": {"name": c.get("name"), "arguments": c.get("arguments")}}
            for c in message["tool_calls"]
        ]
    return out


def template_messages(example: Example, with_answers: bool = False) -> list[dict[str, Any]]:
    """OpenAI-style ``messages`` for ``example``, as a client would send them.

    A string query is one ``user`` message; a chat history keeps its roles (``agent``, ``tool``...)
    and its calls become OpenAI ``tool_calls`` (``{"type": "function", "function": {"name",
    "arguments": dict}}``). A history of ONE user message is rendered as ``User: ...`` by
    :func:`hammer_train.prompts.render_query` (two API-Bank L1 rows), while the template writes a
    lone ``user`` message as a plain query; it is given the role ``human`` (also ``User:``) here.

    Args:
        with_answers: append the completion: an ``assistant`` message with the answers as
            ``tool_calls`` (none for ``[]``).
    """
    if isinstance(example.query, str):
        messages = [{"role": "user", "content": example.query}]
    else:
        messages = [_client_message(m) for m in example.query]
        if len(messages) == 1 and messages[0]["role"] == "user":
            messages[0]["role"] = "human"
    if with_answers:
        answer: dict[str, Any] = {"role": "assistant", "content": ""}
        if example.answers:
            answer["tool_calls"] = [
                {"type": "function", "function": {"name": a.name, "arguments": a.arguments}} for a in example.answers
            ]
        messages.append(answer)
    return messages


def save_chat_template(tokenizer: Any, folder: str | Path, system_prompt: str | None = SYSTEM_PROMPT) -> str:
    """Write the Hammer chat template into a saved tokenizer folder, where every reader finds it.

    ``transformers`` 5 ``save_pretrained`` writes the template to ``chat_template.jinja`` and drops
    the ``chat_template`` key from ``tokenizer_config.json``; new ``transformers`` and vLLM read the
    file, older readers the key. Both are
    written, with the same text (``gguf``'s ``SpecialVocab``, which llama.cpp's converter uses,
    prefers the key). A base with named templates also has ``additional_chat_templates/``: its
    ``tool_use.jinja``, which ``transformers`` picks when ``tools=`` is given, is overwritten with the
    Hammer template too.

    Args:
        tokenizer: the base tokenizer, or one already carrying the Hammer template (see
            :func:`hammer_chat_template`).
        folder: a folder that ``tokenizer.save_pretrained`` wrote.
        system_prompt: the system turn of training (``HammerArguments.system_prompt``).

    Returns:
        The template text.

    Raises:
        FileNotFoundError: ``folder`` has no ``tokenizer_config.json``.
        ValueError: see :func:`hammer_chat_template`.
    """
    folder = Path(folder)
    config_file = folder / "tokenizer_config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} does not exist: save the tokenizer there first (save_pretrained)")
    template = hammer_chat_template(tokenizer, system_prompt)
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["chat_template"] = template
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "chat_template.jinja").write_text(template, encoding="utf-8")
    tool_use = folder / "additional_chat_templates" / "tool_use.jinja"
    if tool_use.is_file():
        tool_use.write_text(template, encoding="utf-8")
    return template
