"""Prompt rendering: the Hammer prompt, and the model's own tool chat template.

Two styles, both returning TRL's *conversational prompt / completion* rows
(``{"prompt": [messages], "completion": [messages]}``), so that ``SFTTrainer`` puts the loss on
the completion only:

* ``"hammer"``: the four fenced blocks of the Hammer authors' training data (TASK INSTRUCTION,
  AVAILABLE TOOLS as an xLAM-layout JSON string, FORMAT INSTRUCTION, QUERY), one user turn after
  the system prompt "You are a helpful assistant."; the target is the answers JSON in a ``` fence.
  Layout checked character for character against the authors' own example
  (``shared/data/hammer_reference/masking_sft_data_example.json``; paper arXiv 2410.04587 §3).
  Works with any chat template, including SmolLM2's, which ignores ``tools=``.
* ``"native"``: the conversation as chat messages plus ``tools`` in OpenAI layout, rendered by the
  tokenizer's own chat template (TRL passes a ``tools`` column to ``apply_chat_template``); the
  completion is an assistant turn with ``tool_calls`` (arguments as dicts). Only for templates
  that render tools (Qwen2.5); :func:`template_renders_tools` tells.

Multi-turn queries (API-Bank, Glaive) in the Hammer style are rendered as Hammer's 1.0 test
prompts do (docs/design.md, "Multi-turn queries"): ``User: ...`` / ``AI: ...`` lines and
``API-Request: [name(args)]->result`` for a call joined to the tool result after it.
"""

from __future__ import annotations

import json
from typing import Any

from .schema import Example, Tool, ToolCall


__all__ = [
    "SYSTEM_PROMPT",
    "TASK_INSTRUCTION",
    "FORMAT_INSTRUCTION",
    "PROMPT_STYLES",
    "ROLE_PREFIX",
    "TOOL_ROLES",
    "hammer_user_content",
    "hammer_prompt_text",
    "render_query",
    "format_answers",
    "to_conversation",
    "template_renders_tools",
]

SYSTEM_PROMPT = "You are a helpful assistant."

TASK_INSTRUCTION = (
    "You are a tool calling assistant. In order to complete the user's request, you need to select one or more "
    "appropriate tools from the following tools and fill in the correct values for the tool parameters. "
    "Your specific tasks are:\n"
    "1. Make one or more function/tool calls to meet the request based on the question.\n"
    "2. If none of the function can be used, point it out and refuse to answer.\n"
    "3. If the given question lacks the parameters required by the function, also point it out.\n"
)

FORMAT_INSTRUCTION = (
    "\nThe output MUST strictly adhere to the following JSON format, and NO other text MUST be included.\n"
    "The example format is as follows. Please make sure the parameter type is correct. "
    "If no function call is needed, please directly output an empty list '[]'\n"
    "```\n[\n"
    '    {"name": "func_name1", "arguments": {"argument1": "value1", "argument2": "value2"}},\n'
    "    ... (more tool calls as required)\n"
    "]\n```\n"
)

PROMPT_STYLES = ("hammer", "native")

ROLE_PREFIX = {"user": "User", "human": "User", "assistant": "AI", "agent": "AI", "gpt": "AI", "system": "System"}
"""Line prefix of each role in a multi-turn QUERY block; other roles are capitalized (``str.capitalize``)."""

TOOL_ROLES = ("tool", "observation", "function")
"""Roles of a tool-result message in a chat history."""


def _block(title: str, body: str) -> str:
    return f"[BEGIN OF {title}]\n{body}\n[END OF {title}]\n\n"


def _call_str(call: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in (call.get("arguments") or {}).items())
    return f"{call.get('name')}({args})"


def render_query(query: str | list[dict[str, Any]]) -> str:
    """The QUERY block's text.

    A string is returned as is. A message list (roles ``user``/``assistant``/``agent``/``tool``;
    an assistant turn may carry ``tool_calls``) becomes lines ``User: ...``, ``AI: ...`` and
    ``API-Request: [f(a=1)]->result`` (the call joined to the tool message that follows it), as in
    Hammer's multi-turn test prompts; text in a call turn's ``content`` comes first, as an ``AI:``
    line. A turn of parallel calls is one ``API-Request: [f(...), g(...)]`` line joined to the
    first tool message; each further tool message becomes an ``API-Response: ...`` line. A
    conversation whose last message already asks for the call (API-Bank's "Generate API
    Request:") is left as is; otherwise nothing is appended.
    """
    if isinstance(query, str):
        return query
    lines: list[str] = []
    i = 0
    while i < len(query):
        msg = query[i]
        role = msg.get("role", "user")
        content = msg.get("content") or ""
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        calls = msg.get("tool_calls")
        if calls:
            if content.strip():  # text said alongside the call is kept, on its own AI line
                lines.append(f"{ROLE_PREFIX.get(role, role.capitalize())}: {content}")
            request = "[" + ", ".join(_call_str(c) for c in calls) + "]"
            result = ""
            if i + 1 < len(query) and query[i + 1].get("role") in TOOL_ROLES:
                result = query[i + 1].get("content") or ""
                if not isinstance(result, str):
                    result = json.dumps(result, ensure_ascii=False)
                i += 1
            lines.append(f"API-Request: {request}->{result}")
        elif role in TOOL_ROLES:
            lines.append(f"API-Response: {content}")
        else:
            lines.append(f"{ROLE_PREFIX.get(role, role.capitalize())}: {content}")
        i += 1
    return "\n".join(lines)


def hammer_user_content(example: Example, tools_layout: str = "xlam") -> str:
    """The Hammer prompt for one example: four ``[BEGIN OF X]...[END OF X]`` blocks.

    Args:
        example: the row; its tools are rendered in the order given (masking shuffles them).
        tools_layout: ``"xlam"`` (Hammer's flat layout, the default) or ``"openai"`` (JSON schema).

    Returns:
        The user-turn text, ending with ``"[END OF QUERY]\\n\\n"`` like the authors' data.
    """
    if tools_layout == "xlam":
        tools = [t.to_xlam() for t in example.tools]
    elif tools_layout == "openai":
        tools = [t.to_openai()["function"] for t in example.tools]
    else:
        raise ValueError(f"tools_layout must be 'xlam' or 'openai', got {tools_layout!r}")
    return hammer_prompt_text(json.dumps(tools, ensure_ascii=False), render_query(example.query))


def hammer_prompt_text(tools_json: str, query_text: str) -> str:
    """The four Hammer blocks around an already rendered AVAILABLE TOOLS text (``tools_json``) and
    QUERY text (``query_text``); :func:`hammer_user_content` and the chat template of
    :mod:`hammer_train.chat_template` both build the user turn with it."""
    return (
        _block("TASK INSTRUCTION", TASK_INSTRUCTION)
        + _block("AVAILABLE TOOLS", tools_json)
        + _block("FORMAT INSTRUCTION", FORMAT_INSTRUCTION)
        + _block("QUERY", query_text)
    )


def format_answers(answers: list[ToolCall]) -> str:
    """The Hammer target: the answers as a JSON list inside a ``` fence, e.g.
    ``'```\\n[{"name": "f", "arguments": {"a": 1}}]\\n```'``; ``'```\\n[]\\n```'`` for no call.
    Argument values keep their JSON types (numbers stay numbers)."""
    return "```\n" + json.dumps([a.to_dict() for a in answers], ensure_ascii=False) + "\n```"


def _native_messages(query: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(query, str):
        return [{"role": "user", "content": query}]
    out = []
    for m in query:
        role = {
            "agent": "assistant",
            "human": "user",
            "gpt": "assistant",
            "observation": "tool",
            "function": "tool",
        }.get(m.get("role"), m.get("role"))
        msg: dict[str, Any] = {"role": role, "content": m.get("content") or ""}
        if m.get("tool_calls"):
            msg["tool_calls"] = [
                {"type": "function", "function": {"name": c["name"], "arguments": c.get("arguments") or {}}}
                for c in m["tool_calls"]
            ]
        out.append(msg)
    return out


def to_conversation(
    example: Example, style: str = "hammer", system_prompt: str | None = SYSTEM_PROMPT
) -> dict[str, Any]:
    """Render an example as a TRL conversational prompt / completion row.

    Args:
        example: the (possibly masked) row.
        style: ``"hammer"`` or ``"native"`` (see module docstring).
        system_prompt: the system turn; Hammer fixes "You are a helpful assistant." rather than
            the base model's default. ``None`` leaves it out.

    Returns:
        ``{"prompt": list[message], "completion": list[message]}``; with ``style="native"`` also
        ``"tools"``: the tools in OpenAI layout, for TRL's ``tools`` column.

    Raises:
        ValueError: unknown ``style``.
    """
    system = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []
    if style == "hammer":
        return {
            "prompt": system + [{"role": "user", "content": hammer_user_content(example)}],
            "completion": [{"role": "assistant", "content": format_answers(example.answers)}],
        }
    if style == "native":
        completion: dict[str, Any] = {"role": "assistant", "content": "" if example.answers else "[]"}
        if example.answers:
            completion["tool_calls"] = [
                {"type": "function", "function": {"name": a.name, "arguments": a.arguments}} for a in example.answers
            ]
        return {
            "prompt": system + _native_messages(example.query),
            "completion": [completion],
            "tools": [t.to_openai() for t in example.tools],
        }
    raise ValueError(f"prompt style must be one of {PROMPT_STYLES}, got {style!r}")


def template_renders_tools(tokenizer: Any) -> bool:
    """True when the tokenizer's chat template renders ``tools=`` (SmolLM2's does not: the text is
    identical with and without tools; docs/design.md, "TRL and transformers traps")."""
    probe = [{"role": "user", "content": "hi"}]
    tool = Tool.from_dict(
        {"name": "zz_probe_fn", "description": "probe", "parameters": {"type": "object", "properties": {}}}
    )
    try:
        with_tools = tokenizer.apply_chat_template(probe, tools=[tool.to_openai()], tokenize=False)
        without = tokenizer.apply_chat_template(probe, tokenize=False)
    except Exception:
        return False
    return with_tools != without and "zz_probe_fn" in with_tools
