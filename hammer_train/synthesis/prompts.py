"""The prompts of every generator and judge call: our own wording, after the papers' descriptions.

Each prompt is one system message (``# Task: <name>`` first, then what to do and the exact reply
format) and one user message holding the material in tagged blocks (``<tools>``, ``<api>``,
``<call>``, ``<dialog>``). The dialog is rendered as text in the prompt rather than sent as chat
turns, so the same prompt works on any OpenAI-compatible server whatever its chat template does
with ``tool`` roles (SmolLM2's ignores tools). Every reply but the final answer is one JSON object.

=============================== ==================================================================
task                            follows
=============================== ==================================================================
``api_design``                  ToolACE (arXiv 2409.00920) §2.1, speciation: new APIs for a domain
``api_evolution``               ToolACE §2.1, evolution with diversity operations (add a
                                parameter, add a constraint, change a type, change the return)
``user_agent``                  ToolAlpaca (arXiv 2306.05301) §2.2 instruction generation (authors'
                                ``instance_generation/instruction.py``, ``prompts/Instruction.txt``:
                                concrete values, no API names) and ToolACE §2.2's user agent with
                                single / parallel / dependent / non-tool requests
``assistant_calls``             ToolACE §2.2's assistant agent; ToolAlpaca's assistant
                                (``instance_generation/generation.py``); calls in Hammer's JSON
                                list form, ``[]`` when no tool fits (Hammer, arXiv 2410.04587 §3)
``tool_agent``                  ToolAlpaca's tool executor (``instance_generation/simulator.py``,
                                ``prompts/Simulator.txt``: a realistic JSON response that follows
                                the spec, errors for invalid requests); ToolACE §2.2's tool agent
``assistant_answer``            the final answer that closes a dialog (ToolACE §2.2, ToolAlpaca §2.2)
``judge_hallucination``         ToolACE §2.3 model checks: argument values not found in the dialog
``judge_consistency``           ToolACE §2.3: the reply serves the request and agrees with results
``judge_tool_response``         ToolACE §2.3: the simulated tool response is plausible for the spec
=============================== ==================================================================
"""

from __future__ import annotations

import json
from typing import Any


__all__ = [
    "EVOLUTION_OPERATIONS",
    "DIALOG_KINDS",
    "JUDGES",
    "render_dialog",
    "api_design_messages",
    "api_evolution_messages",
    "user_agent_messages",
    "assistant_calls_messages",
    "tool_agent_messages",
    "assistant_answer_messages",
    "judge_messages",
]

_API_FORMAT = (
    'Reply with one JSON object and nothing else: {"name": "...", "description": "...", "parameters": '
    '{"type": "object", "properties": {"<parameter>": {"type": "...", "description": "..."}}, "required": '
    '["..."]}, "returns": {<JSON Schema of the result>}}\n'
    "The name uses letters, digits, _ or - only. Every parameter has a type (string, integer, number, "
    'boolean, array or object) and a description; "required" names only defined parameters.'
)

EVOLUTION_OPERATIONS = {
    "add_parameter": "add one new parameter that such a function would plausibly accept",
    "add_constraint": "add a constraint to one parameter: an enum of allowed values, a numeric range "
    "(minimum / maximum) or a string pattern",
    "change_type": "change the type of one parameter to another type that still makes sense (for "
    "example a date string becomes an object with year, month and day)",
    "change_return": "change what the function returns: write a different, richer return schema",
}
"""ToolACE §2.1's diversity operations: name -> what the generator is asked to do."""

DIALOG_KINDS = {
    "single": "The user needs exactly one call of one of the tools.",
    "parallel": "The user needs two or more calls made at once that do not depend on each other "
    "(the same tool with different values, or different tools).",
    "dependent": "The user needs two calls in sequence: the second call needs a value that only the "
    "result of the first call provides.",
    "irrelevance": "The user asks for something on a related topic that NONE of the tools can do. "
    "No listed tool may be able to serve the request.",
}
"""The four kinds of user request (ToolACE §2.2; ``irrelevance`` are Hammer's irrelevance rows)."""

JUDGES = {
    "hallucination": "You check a tool-use dialog for hallucinated arguments. For every argument value "
    "of every tool call, decide whether it is stated or clearly implied by the user's messages or by an "
    "earlier tool result. Defaults written in a tool's definition count as given. A value that appears "
    "nowhere is hallucinated, and the dialog fails.",
    "consistency": "You check whether the assistant served the user's request: the calls made are the "
    "ones the request needs (no call at all when no tool can serve it), and the final answer agrees with "
    "the tool results and answers what was asked. Anything else fails.",
    "tool_response": "You check every tool response of a dialog: it must be plausible for the tool's "
    "definition and return schema, consistent with the call's arguments, with realistic values (no "
    "placeholders such as 'string' or 'example'), and not an error for a valid call. Anything else fails.",
}
"""ToolACE §2.3's model checks: judge name -> what it decides."""

_VERDICT = 'Reply with one JSON object and nothing else: {"verdict": "pass" or "fail", "reason": "<short>"}'


def _block(tag: str, value: Any) -> str:
    body = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"<{tag}>\n{body}\n</{tag}>"


def _messages(task: str, system: str, user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": f"# Task: {task}\n{system}"}, {"role": "user", "content": user}]


def _tool_view(api: dict[str, Any]) -> dict[str, Any]:
    return {k: api[k] for k in ("name", "description", "parameters") if k in api}


def render_dialog(messages: list[dict[str, Any]]) -> str:
    """The dialog as prompt text: ``User: ...``, ``Assistant called: [{"name", "arguments"}]``,
    ``Tool <name> returned: ...``, ``Assistant: ...`` (system turns left out)."""
    lines = []
    for m in messages:
        if m["role"] == "user":
            lines.append(f"User: {m['content']}")
        elif m["role"] == "assistant" and m.get("tool_calls"):
            calls = [
                {"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
                for c in m["tool_calls"]
            ]
            lines.append(f"Assistant called: {json.dumps(calls, ensure_ascii=False)}")
        elif m["role"] == "assistant":
            lines.append(f"Assistant: {m['content']}")
        elif m["role"] == "tool":
            lines.append(f"Tool {m.get('name', '')} returned: {m['content']}")
    return "\n".join(lines)


def api_design_messages(domain: str, examples: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Ask for one new API of ``domain``, different from ``examples`` (names and descriptions shown)."""
    system = (
        "You design realistic web and software APIs. You receive a domain and, for reference, APIs that "
        "already exist. Write ONE new API that serves a common need in that domain and does something "
        "the listed APIs do not.\n" + _API_FORMAT
    )
    shown = [{"name": a["name"], "description": a["description"]} for a in examples]
    return _messages("api_design", system, f"Domain: {domain}\n{_block('existing', shown)}")


def api_evolution_messages(api: dict[str, Any], operation: str) -> list[dict[str, str]]:
    """Ask for a variant of ``api`` made by one diversity ``operation`` (a key of
    :data:`EVOLUTION_OPERATIONS`)."""
    system = (
        "You design realistic web and software APIs. You receive one API definition and an operation. "
        "Write ONE new API: a variant of the given one with the operation applied, under a new name, "
        "otherwise consistent with the original.\n" + _API_FORMAT
    )
    user = f"Operation: {EVOLUTION_OPERATIONS[operation]}\n{_block('api', api)}"
    return _messages("api_evolution", system, user)


def user_agent_messages(kind: str, apis: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Ask the user agent for one request of ``kind`` (a key of :data:`DIALOG_KINDS`) to an
    assistant offering ``apis``."""
    system = (
        "You play a user of an assistant that can call the tools listed below. Write the user's message "
        "for the situation given. Write as a real person would: one or two sentences, concrete values "
        "(names, dates, numbers, places) instead of placeholders, no tool names, and every value the "
        "needed calls will require.\n"
        'Reply with one JSON object and nothing else: {"query": "<the user\'s message>"}'
    )
    user = f"Situation: {DIALOG_KINDS[kind]}\n{_block('tools', [_tool_view(a) for a in apis])}"
    return _messages("user_agent", system, user)


def assistant_calls_messages(apis: list[dict[str, Any]], dialog: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Ask the assistant agent which calls to make now, given the dialog so far."""
    system = (
        "You are an assistant that serves the user by calling tools. Read the tools and the dialog so far "
        "and decide which calls to make NOW.\n"
        "- Use only the listed tools with their exact parameter names, and give every required parameter.\n"
        "- Take every value from the dialog (the user's words or earlier tool results); never invent one.\n"
        "- Calls that do not depend on each other go together in one list.\n"
        "- If a call needs a value that another call will return, make only the first call now.\n"
        "- If no listed tool can serve the request, or the tool results already answer it, reply with an "
        "empty list.\n"
        'Reply with one JSON object and nothing else: {"tool_calls": [{"name": "<tool>", "arguments": {...}}]}'
    )
    user = f"{_block('tools', [_tool_view(a) for a in apis])}\n{_block('dialog', render_dialog(dialog))}"
    return _messages("assistant_calls", system, user)


def tool_agent_messages(api: dict[str, Any], call: dict[str, Any]) -> list[dict[str, str]]:
    """Ask the tool agent to simulate the JSON result of ``call`` (``{"name", "arguments"}``) to ``api``."""
    system = (
        "You simulate the execution of an API. You receive its definition and one call. Reply with the JSON "
        "result the real API would return for exactly these arguments: realistic values (no placeholders), "
        "consistent with the arguments, following the return schema when one is given. If the arguments "
        'are invalid for the definition, reply with {"error": "<what is wrong>"} instead.\n'
        "Reply with one JSON object and nothing else."
    )
    return _messages("tool_agent", system, f"{_block('api', api)}\n{_block('call', call)}")


def assistant_answer_messages(apis: list[dict[str, Any]], dialog: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Ask the assistant agent for the final answer that closes the dialog (plain text)."""
    system = (
        "You are an assistant that has called tools for the user. Write your final reply to the user: answer "
        "the request from the tool results in the dialog, in the user's language, in a few sentences, "
        "without facts the results do not contain. If no tool could serve the request, say briefly that "
        "you cannot do it with the tools you have.\n"
        "Reply with the text of the answer only."
    )
    user = f"{_block('tools', [_tool_view(a) for a in apis])}\n{_block('dialog', render_dialog(dialog))}"
    return _messages("assistant_answer", system, user)


def judge_messages(judge: str, apis: list[dict[str, Any]], dialog: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Ask judge ``judge`` (a key of :data:`JUDGES`) for a JSON verdict on one dialog."""
    user = f"{_block('tools', apis)}\n{_block('dialog', render_dialog(dialog))}"
    return _messages(f"judge_{judge}", f"{JUDGES[judge]}\n{_VERDICT}", user)
