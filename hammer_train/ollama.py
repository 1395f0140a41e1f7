"""An Ollama ``Modelfile`` whose ``TEMPLATE`` writes the Hammer training prompt and offers tools.

Ollama does not run Jinja: a model's prompt comes from a Go ``text/template`` in its Modelfile,
and a request's ``tools`` are offered only when that template uses ``.Tools`` and has an
``{{ if .ToolCalls }}`` branch (ollama#7127, #9353; Ollama's ``docs/template.mdx``). Ollama also
finds tool calls in the output with that branch: its first text (up to a ``{``) is the tag it
waits for (``tools/template.go`` ``parseTag``), then it reads each ``{"name", "arguments"}``
object after the tag whose name is an offered tool. Here that text is the fence ```` ``` ````
(the trained answer is ```` ```\\n[{"name": ..., "arguments": {...}}]\\n``` ````), so Ollama
returns the calls as ``tool_calls``, and ```` ```\\n[]\\n``` ```` as a reply with neither calls
nor content.

The template mirrors :mod:`hammer_train.chat_template`: the trained system turn, one user turn
holding the four Hammer blocks (AVAILABLE TOOLS in the xLAM layout, ``"required": true`` on
required parameters; QUERY as :func:`hammer_train.prompts.render_query` writes a history), then
the generation prompt; a last ``assistant`` message is the answer, left open (Ollama's prefill).
``.System`` is not written on its own: Ollama keeps every system message in ``.Messages`` too
(``template.go`` ``collate``), where it is written as the ``System: ...`` QUERY line that
training shows; writing both would repeat it. Where Ollama's data loses what the training text
holds, the prompt differs from the Jinja template's (which is byte-equal to training):

* Ollama keeps no parameter ``default`` and no unknown schema keys (``api.ToolProperty``);
  properties, tool-call arguments and nested objects are Go maps, written in sorted key order,
  nested values as compact JSON; ``json`` escapes ``<``, ``>`` and ``&`` as ``\\u003c``...;
* Ollama merges consecutive messages of one role (``collate``); roles other than ``user``,
  ``assistant``, ``system`` and ``tool`` are written as they are (Go templates cannot capitalize).

Ollama's server is not installable on the project's machines (no reachable registry ships it:
PyPI's ``ollama`` is the Python client, Debian has none, and building it needs a newer Go than
Debian's). So the template is checked with Go's own ``text/template`` (Debian's ``golang-go``
1.19) fed data of the shapes of Ollama's ``template/template.go`` (v0.33.0-rc2), by
``tests/test_ollama.py``: it renders the real BFCL v4 live rows that Ollama's data keeps whole
(90 of 2,251; most BFCL tools have defaults) byte-equal to the training prompt, the QUERY block
of the API-Bank L1 and Glaive histories likewise, and the tag Ollama would parse is the fence.
Not checked: a live ``ollama create`` / ``ollama run``.
"""

from __future__ import annotations

import json
from typing import Any

from .chat_template import turn_pieces
from .prompts import SYSTEM_PROMPT, hammer_prompt_text


__all__ = ["ollama_modelfile", "ollama_template", "end_of_turn"]

_TOOL_CALL_TAG = "```"
"""The text Ollama waits for before it parses tool calls (see module docstring)."""

# @NAME@ marks are replaced by Go string literals. Between actions there is only layout whitespace,
# trimmed by {{- ; text is written by actions, except the fence that follows {{ if .ToolCalls }}:
# Ollama takes the first text node of that branch as its tool-call tag.
_TEMPLATE = """{{- /* hammer-train Ollama template (hammer_train/ollama.py): the Hammer training prompt */ -}}
{{- $last := "" }}{{ range .Messages }}{{ $last = .Role }}{{ end }}
{{- $n := len .Messages }}
{{- $lone := or (and (eq $n 1) (eq (index .Messages 0).Role "user"))
    (and (eq $n 2) (eq $last "assistant") (eq (index .Messages 0).Role "user")) }}
{{- @HEAD@ }}{{ @PRE_TOOLS@ }}{{ "[" }}
{{- range $i, $t := .Tools }}
  {{- if $i }}{{ ", " }}{{ end }}
  {{- "{\\"name\\": " }}{{ json $t.Function.Name }}{{ ", \\"description\\": " }}{{ json $t.Function.Description }}
  {{- ", \\"parameters\\": {" }}
  {{- $sep := "" }}
  {{- range $name, $p := $t.Function.Parameters.Properties }}
    {{- $sep }}{{ json $name }}{{ ": {\\"description\\": " }}{{ json $p.Description }}
    {{- if $p.Type }}{{ ", \\"type\\": " }}{{ json $p.Type }}{{ end }}
    {{- if $p.Enum }}{{ ", \\"enum\\": [" }}
      {{- range $k, $e := $p.Enum }}{{ if $k }}{{ ", " }}{{ end }}{{ json $e }}{{ end }}{{ "]" }}
    {{- end }}
    {{- if $p.Items }}{{ ", \\"items\\": " }}{{ json $p.Items }}{{ end }}
    {{- if $p.Properties }}{{ ", \\"properties\\": " }}{{ json $p.Properties }}{{ end }}
    {{- $required := false }}
    {{- range $t.Function.Parameters.Required }}{{ if eq . $name }}{{ $required = true }}{{ end }}{{ end }}
    {{- if $required }}{{ ", \\"required\\": true" }}
    {{- else if $p.Required }}{{ ", \\"required\\": " }}{{ json $p.Required }}
    {{- end }}
    {{- "}" }}{{ $sep = ", " }}
  {{- end }}
  {{- "}}" }}
{{- end }}
{{- "]" }}{{ @PRE_QUERY@ }}
{{- if $lone }}{{ (index .Messages 0).Content }}
{{- else }}
  {{- $sep := "" }}{{ $open := false }}
  {{- range $i, $m := .Messages }}
    {{- if and (eq (len (slice $.Messages $i)) 1) (eq $m.Role "assistant") }}
    {{- else if and $open (eq $m.Role @TOOL_ROLES@) }}{{ $m.Content }}{{ $open = false }}
    {{- else }}
      {{- $open = false }}
      {{- $prefix := $m.Role }}
      {{- if eq $m.Role "user" "human" }}{{ $prefix = "User" }}
      {{- else if eq $m.Role "assistant" "agent" "gpt" }}{{ $prefix = "AI" }}
      {{- else if eq $m.Role "system" }}{{ $prefix = "System" }}
      {{- end }}
      {{- if $m.ToolCalls }}
        {{- if $m.Content }}{{ $sep }}{{ $prefix }}{{ ": " }}{{ $m.Content }}{{ $sep = "\\n" }}{{ end }}
        {{- $sep }}{{ "API-Request: [" }}
        {{- range $k, $c := $m.ToolCalls }}
          {{- if $k }}{{ ", " }}{{ end }}{{ $c.Function.Name }}{{ "(" }}{{ $s := "" }}
          {{- range $a, $v := $c.Function.Arguments }}{{ $s }}{{ $a }}{{ "=" }}{{ json $v }}{{ $s = ", " }}{{ end }}
          {{- ")" }}
        {{- end }}
        {{- "]->" }}{{ $open = true }}
      {{- else if eq $m.Role @TOOL_ROLES@ }}{{ $sep }}{{ "API-Response: " }}{{ $m.Content }}
      {{- else }}{{ $sep }}{{ $prefix }}{{ ": " }}{{ $m.Content }}
      {{- end }}
      {{- $sep = "\\n" }}
    {{- end }}
  {{- end }}
{{- end }}
{{- @POST_QUERY@ }}{{ @USER_TAIL@ }}
{{- if eq $last "assistant" }}{{ @ASSISTANT_HEAD@ }}
  {{- range $i, $m := .Messages }}
    {{- if eq (len (slice $.Messages $i)) 1 }}
      {{- if .ToolCalls }}```{{ "\\n[" }}
        {{- range $k, $c := .ToolCalls }}
          {{- if $k }}{{ ", " }}{{ end }}{{ "{\\"name\\": " }}{{ json $c.Function.Name }}{{ ", \\"arguments\\": {" }}
          {{- $s := "" }}
          {{- range $a, $v := $c.Function.Arguments }}{{ $s }}{{ json $a }}{{ ": " }}{{ json $v }}{{ $s = ", " }}{{ end }}
          {{- "}}" }}
        {{- end }}
        {{- "]\\n```" }}
      {{- else }}{{ "```\\n[]\\n```" }}
      {{- end }}
    {{- end }}
  {{- end }}
{{- else }}{{ @GENERATION@ }}
{{- end }}"""


def _go_string(value: str) -> str:
    """A Go interpreted string literal (JSON string syntax is a subset of it)."""
    return json.dumps(value, ensure_ascii=False)


def ollama_template(tokenizer: Any, system_prompt: str | None = SYSTEM_PROMPT) -> str:
    """The Go template text of the Modelfile's ``TEMPLATE`` (see the module docstring).

    Args:
        tokenizer: the base tokenizer, or one carrying the Hammer chat template (a saved adapter's).
        system_prompt: the system turn of training (``HammerArguments.system_prompt``).

    Raises:
        ValueError: see :func:`hammer_train.chat_template.turn_pieces`.
    """
    pieces = turn_pieces(tokenizer, system_prompt)
    tools_mark, query_mark = "\x00TOOLS\x00", "\x00QUERY\x00"
    pre_tools, rest = hammer_prompt_text(tools_mark, query_mark).split(tools_mark)
    pre_query, post_query = rest.split(query_mark)
    if pieces["user_trim"]:  # the user text ends with the fixed "[END OF QUERY]\n\n": stripping cuts only that
        post_query = post_query.rstrip()
    values = {
        "HEAD": pieces["head"],
        "PRE_TOOLS": pre_tools,
        "PRE_QUERY": pre_query,
        "POST_QUERY": post_query,
        "USER_TAIL": pieces["user_tail"],
        "ASSISTANT_HEAD": pieces["assistant_head"],
        "GENERATION": pieces["generation"],
    }
    out = _TEMPLATE.replace("@TOOL_ROLES@", '"tool" "observation" "function"')
    for name, value in values.items():
        out = out.replace(f"@{name}@", _go_string(value))
    return out


def end_of_turn(tokenizer: Any, system_prompt: str | None = SYSTEM_PROMPT) -> str:
    """The text that ends an assistant turn (``<|im_end|>`` for ChatML), for ``PARAMETER stop``:
    the base template's assistant-turn tail without its whitespace, else the tokenizer's EOS token.

    Raises:
        ValueError: neither is known.
    """
    tail = turn_pieces(tokenizer, system_prompt)["assistant_tail"].strip()
    stop = tail or getattr(tokenizer, "eos_token", None)
    if not stop:
        raise ValueError("the base template ends an assistant turn with nothing and the tokenizer has no EOS token")
    return stop


def ollama_modelfile(tokenizer: Any, gguf_file: str, system_prompt: str | None = SYSTEM_PROMPT) -> str:
    """An Ollama ``Modelfile`` for a GGUF export of a Hammer-style adapter.

    ``ollama create NAME -f Modelfile`` then serves it with tool calling (``/api/chat`` and the
    OpenAI-compatible ``/v1/chat/completions`` with ``tools``).

    Args:
        tokenizer: the base tokenizer, or one carrying the Hammer chat template (a saved adapter's).
        gguf_file: the ``FROM`` path, as Ollama reads it (relative to the Modelfile's folder, e.g.
            ``"./model-f16.gguf"``, or absolute).
        system_prompt: the system turn of training (``HammerArguments.system_prompt``).

    Returns:
        The Modelfile text: ``FROM``, ``TEMPLATE`` (:func:`ollama_template`), ``PARAMETER stop``
        (:func:`end_of_turn`), ``PARAMETER temperature 0`` (Hammer decodes greedily) and
        ``PARAMETER repeat_penalty 1``: Ollama's default of 1.1 (its docs/modelfile.md) penalizes
        the JSON punctuation and parameter names an answer must repeat (docs/quality.md, "A
        repetition penalty at decoding").

    Raises:
        ValueError: ``gguf_file`` holds a quote, a newline or leading/trailing spaces (the Modelfile
            parser would cut it); the template text holds ``\"\"\"`` (it could not be quoted); see
            :func:`hammer_train.chat_template.turn_pieces`.
    """
    if not gguf_file or any(c in gguf_file for c in '"\n\r') or gguf_file != gguf_file.strip():
        raise ValueError(f"gguf_file {gguf_file!r} cannot stand in a Modelfile FROM line")
    template = ollama_template(tokenizer, system_prompt)
    stop = end_of_turn(tokenizer, system_prompt)
    if '"""' in template or '"' in stop or "\n" in stop:
        raise ValueError("the template or the stop text cannot be quoted in a Modelfile")
    return (
        "# Ollama Modelfile written by hammer-train (hammer_train/ollama.py): the Hammer prompt with tools.\n"
        f"FROM {gguf_file}\n"
        f'TEMPLATE """{template}"""\n'
        f'PARAMETER stop "{stop}"\n'
        "PARAMETER temperature 0\n"
        "PARAMETER repeat_penalty 1\n"
    )
