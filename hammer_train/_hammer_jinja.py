"""The Jinja source of the Hammer chat template (filled in by :mod:`hammer_train.chat_template`).

Readable on its own: the macros write the xLAM-layout AVAILABLE TOOLS (``json_value`` writes a
JSON value as ``json.dumps(x, ensure_ascii=False)`` does, ``tool_json`` one tool as
``Tool.from_dict(spec).to_xlam()``), the QUERY of a history (``query_text``, as
``prompts.render_query``) and the answer's calls (``answer_call``, as ``prompts.format_answers``).
"""

# @NAME@ marks are replaced by Jinja literals (chat_template._build). Every tag trims
# the whitespace around it, so the only text that comes out is what the {{ }} expressions write.
TEMPLATE = r"""{#- @MARKER@ (hammer_train/chat_template.py): the Hammer training prompt. pieces=@PIECES@ -#}
{%- macro json_value(x) -%}
  {%- if x is mapping -%}
    {%- set items -%}
      {%- for k in x -%}
        {%- set v = x[k] -%}
        {{- ', ' ~ (k | tojson if k is string else '"' ~ k | tojson ~ '"') ~ ': '
            ~ (v | tojson if (v is string or v is number or v is none) else json_value(v)) -}}
      {%- endfor -%}
    {%- endset -%}
    {{- '{' ~ items[2:] ~ '}' -}}
  {%- elif x is string or x is not iterable -%}
    {{- x | tojson -}}
  {%- else -%}
    {%- set items -%}
      {%- for v in x -%}
        {{- ', ' ~ (v | tojson if (v is string or v is number or v is none) else json_value(v)) -}}
      {%- endfor -%}
    {%- endset -%}
    {{- '[' ~ items[2:] ~ ']' -}}
  {%- endif -%}
{%- endmacro -%}
{%- macro fail(message) -%}
  {{- raise_exception('hammer chat template: ' ~ message) -}}
{%- endmacro -%}
{%- macro text(m) -%}
  {%- set c = m['content'] if ('content' in m and m['content']) else '' -%}
  {{- c if c is string else json_value(c) -}}
{%- endmacro -%}
{%- macro tool_json(spec, where) -%}
  {%- set wrapped = spec is mapping and 'type' in spec and spec['type'] == 'function' and 'function' in spec
      and spec['function'] is mapping -%}
  {%- set t = spec['function'] if wrapped else spec -%}
  {%- if t is not mapping -%}{{- fail(where ~ ' must be an object') -}}{%- endif -%}
  {%- if 'name' not in t or t['name'] is not string or not (t['name'] | trim) -%}
    {{- fail(where ~ '.name must be a non-empty string') -}}
  {%- endif -%}
  {%- set d = t['description'] if ('description' in t and t['description']) else '' -%}
  {%- set ps = t['parameters'] if ('parameters' in t and t['parameters'] is not none) else {} -%}
  {%- if ps is not mapping -%}{{- fail(where ~ '.parameters must be an object') -}}{%- endif -%}
  {%- set pv = ps['properties'] if 'properties' in ps else none -%}
  {%- set schema = pv is mapping and (('type' in ps and ps['type'] in ['object', 'dict']) or ('type' not in ps
      and not (('type' in pv and pv['type'] is string) or ('description' in pv and pv['description'] is string)))) -%}
  {%- set props = pv if schema else ps -%}
  {%- set req = ps['required'] if (schema and 'required' in ps and ps['required']) else [] -%}
  {%- if req is string or req is mapping or req is not iterable -%}
    {{- fail(where ~ '.parameters.required must be a list of names') -}}
  {%- endif -%}
  {{- '{"name": ' ~ t['name'] | tojson ~ ', "description": ' ~ (d if d is string else json_value(d)) | tojson -}}
  {%- set items -%}
  {%- for name in props -%}
    {%- set p = props[name] -%}
    {%- if name is not string or not name -%}
      {{- fail(where ~ '.parameters: a parameter name is not a non-empty string') -}}
    {%- endif -%}
    {%- if p is not mapping -%}{{- fail(where ~ '.parameters.' ~ name ~ ' must be an object') -}}{%- endif -%}
    {%- set flag = schema and name in req -%}
    {%- set pd = p['description'] if ('description' in p and p['description']) else '' -%}
    {{- ', ' ~ name | tojson ~ ': {"description": ' ~ (pd if pd is string else pd | string) | tojson -}}
    {%- if 'type' in p and p['type'] is not none -%}
      {{- ', "type": ' ~ (p['type'] | tojson if p['type'] is string else json_value(p['type'])) -}}
    {%- endif -%}
    {%- if 'default' in p -%}{{- ', "default": ' ~ json_value(p['default']) -}}{%- endif -%}
    {%- for k in p -%}
      {%- if k not in ['type', 'description', 'default'] -%}
        {%- set v = p[k] -%}
        {{- ', ' ~ (k | tojson if k is string else '"' ~ k | tojson ~ '"') ~ ': ' -}}
        {{- 'true' if (flag and k == 'required') else (v | tojson if (v is string or v is number or v is none) else json_value(v)) -}}
      {%- endif -%}
    {%- endfor -%}
    {%- if flag and 'required' not in p -%}{{- ', "required": true' -}}{%- endif -%}
    {{- '}' -}}
  {%- endfor -%}
  {%- endset -%}
  {{- ', "parameters": {' ~ items[2:] ~ '}}' -}}
{%- endmacro -%}
{%- macro unwrap_call(c) -%}
  {%- if c is not mapping -%}{{- fail('a tool call must be an object') -}}{%- endif -%}
  {%- set f = c['function'] if ('function' in c and c['function'] is mapping) else c -%}
  {%- if 'arguments' in f and f['arguments'] and f['arguments'] is not mapping -%}
    {{- fail('tool call arguments must be an object, not a JSON string') -}}
  {%- endif -%}
{%- endmacro -%}
{%- macro history_call(c) -%}
  {{- unwrap_call(c) -}}
  {%- set f = c['function'] if ('function' in c and c['function'] is mapping) else c -%}
  {{- (f['name'] if 'name' in f else none) | string ~ '(' -}}
  {%- set args = f['arguments'] if ('arguments' in f and f['arguments']) else {} -%}
  {%- for k in args -%}
    {{- (', ' if not loop.first else '') ~ k | string ~ '=' ~ json_value(args[k]) -}}
  {%- endfor -%}
  {{- ')' -}}
{%- endmacro -%}
{%- macro answer_call(c) -%}
  {{- unwrap_call(c) -}}
  {%- set f = c['function'] if ('function' in c and c['function'] is mapping) else c -%}
  {%- if 'name' not in f -%}{{- fail('a tool call needs a name') -}}{%- endif -%}
  {%- set args = f['arguments'] if ('arguments' in f and f['arguments']) else {} -%}
  {{- '{"name": ' ~ json_value(f['name']) ~ ', "arguments": ' ~ json_value(args) ~ '}' -}}
{%- endmacro -%}
{%- macro query_text(msgs) -%}
  {%- set ns = namespace(skip=false, sep='', result='') -%}
  {%- for m in msgs -%}
    {%- if ns.skip -%}
      {%- set ns.skip = false -%}
    {%- else -%}
      {%- set role = m['role'] if 'role' in m else 'user' -%}
      {%- set prefix = @ROLE_PREFIX@[role] if role in @ROLE_PREFIX@ else role | capitalize -%}
      {%- set content = text(m) -%}
      {%- if 'tool_calls' in m and m['tool_calls'] -%}
        {%- if content | trim -%}
          {{- ns.sep ~ prefix ~ ': ' ~ content -}}
          {%- set ns.sep = '\n' -%}
        {%- endif -%}
        {%- set ns.result = '' -%}
        {%- if not loop.last and 'role' in msgs[loop.index0 + 1] and msgs[loop.index0 + 1]['role'] in @TOOL_ROLES@ -%}
          {%- set ns.result = text(msgs[loop.index0 + 1]) -%}
          {%- set ns.skip = true -%}
        {%- endif -%}
        {{- ns.sep ~ 'API-Request: [' -}}
        {%- for c in m['tool_calls'] -%}
          {{- (', ' if not loop.first else '') ~ history_call(c) -}}
        {%- endfor -%}
        {{- ']->' ~ ns.result -}}
      {%- elif role in @TOOL_ROLES@ -%}
        {{- ns.sep ~ 'API-Response: ' ~ content -}}
      {%- else -%}
        {{- ns.sep ~ prefix ~ ': ' ~ content -}}
      {%- endif -%}
      {%- set ns.sep = '\n' -%}
    {%- endif -%}
  {%- endfor -%}
{%- endmacro -%}
{%- set gen = add_generation_prompt is defined and add_generation_prompt -%}
{%- set msgs = messages if (messages is defined and messages) else [] -%}
{%- set done = (not gen) and msgs | length > 0 and msgs[-1] is mapping and 'role' in msgs[-1]
    and msgs[-1]['role'] == 'assistant' -%}
{%- set query = msgs[:-1] if done else msgs -%}
{%- if not query -%}{{- fail('no query: the messages hold no turn before the answer') -}}{%- endif -%}
{%- set tool_text -%}
  {%- for t in (tools if (tools is defined and tools is not none) else []) -%}
    {{- ', ' ~ tool_json(t, 'tools[' ~ loop.index0 ~ ']') -}}
  {%- endfor -%}
{%- endset -%}
{%- if query | length == 1 and query[0] is mapping and 'role' in query[0] and query[0]['role'] == 'user' -%}
  {%- set qtext = text(query[0]) -%}
{%- else -%}
  {%- set qtext = query_text(query) -%}
{%- endif -%}
{%- set user = @PRE_TOOLS@ ~ '[' ~ tool_text[2:] ~ ']' ~ @PRE_QUERY@ ~ qtext ~ @POST_QUERY@ -%}
{{- @HEAD@ ~ (user | trim if @USER_TRIM@ else user) ~ @USER_TAIL@ -}}
{%- if done -%}
  {%- set calls -%}
    {%- for c in (msgs[-1]['tool_calls'] if ('tool_calls' in msgs[-1] and msgs[-1]['tool_calls']) else []) -%}
      {{- ', ' ~ answer_call(c) -}}
    {%- endfor -%}
  {%- endset -%}
  {%- set answer = '```\n[' ~ calls[2:] ~ ']\n```' -%}
  {{- @ASSISTANT_HEAD@ ~ (answer | trim if @ASSISTANT_TRIM@ else answer) ~ @ASSISTANT_TAIL@ -}}
{%- endif -%}
{%- if gen -%}{{- @GENERATION@ -}}{%- endif -%}
"""
