"""Arguments of the ``synthesize`` command: one dataclass, parsed by TRL's ``TrlParser`` from the
command line and an optional YAML file (``--config synth.yaml``), as the training recipes are."""

from __future__ import annotations

from dataclasses import dataclass, field

from .prompts import EVOLUTION_OPERATIONS, JUDGES


__all__ = ["SynthesisArguments", "STAGES"]

STAGES = ("all", "apis", "dialogs", "rules", "judges")
"""``--stage`` values: ``all`` runs the four stages in order; each other name runs one stage on the
previous stage's file in ``output_dir``."""


@dataclass
class SynthesisArguments:
    """Everything the synthesis pipeline takes (docs/synthesis.md).

    Inputs: ``tools_file`` (OpenAI tools, xLAM tools or an OpenAPI 3 document, JSON or YAML),
    ``tools_data`` (``FORMAT:PATH``: the tools of an existing dataset), ``domains`` (seed domains
    for new APIs). Endpoint: ``base_url`` / ``model`` of any OpenAI-compatible server, the key from
    the environment variable ``api_key_env`` (never logged); with neither ``base_url`` nor
    ``model`` the embedded local server is started. Mix shares are relative weights of the four
    dialog kinds. ``judges`` lists the model checks to run (``none`` for none).
    """

    tools_file: str | None = field(
        default=None, metadata={"help": "the user's tools: OpenAI / xLAM JSON or OpenAPI 3"}
    )
    tools_format: str = field(default="auto", metadata={"help": "auto, openai, xlam or openapi"})
    tools_data: str | None = field(default=None, metadata={"help": "FORMAT:PATH: take the tools of a dataset"})
    domains: list[str] = field(default_factory=list, metadata={"help": "seed domains for new APIs"})
    output_dir: str = field(default="outputs/synthesis", metadata={"help": "stage files, report and cache"})
    output_file: str | None = field(
        default=None, metadata={"help": "accepted rows (default OUTPUT_DIR/synthesized.jsonl)"}
    )
    stage: str = field(default="all", metadata={"help": f"one of {', '.join(STAGES)}"})
    base_url: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible root, e.g. http://127.0.0.1:8000/v1"}
    )
    model: str | None = field(default=None, metadata={"help": "served model name (default: the server's first)"})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "environment variable holding the key"})
    judge_base_url: str | None = field(default=None, metadata={"help": "judge endpoint (default: the generator's)"})
    judge_model: str | None = field(default=None, metadata={"help": "judge model (default: the generator's)"})
    timeout: float = field(default=120.0, metadata={"help": "seconds per request"})
    max_retries: int = field(default=4, metadata={"help": "retries on 429 / 5xx / timeouts (openai client)"})
    concurrency: int = field(default=4, metadata={"help": "requests in flight"})
    cache_dir: str | None = field(default=None, metadata={"help": "answer cache (default OUTPUT_DIR/cache)"})
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature of the agents"})
    max_tokens: int = field(default=512, metadata={"help": "completion tokens per request"})
    json_mode: bool = field(default=False, metadata={"help": "send response_format json_object (vLLM guided JSON)"})
    new_apis_per_domain: int = field(default=2, metadata={"help": "APIs designed per seed domain"})
    evolutions_per_api: int = field(default=1, metadata={"help": "variants generated per API and round"})
    expansion_rounds: int = field(default=1, metadata={"help": "evolution rounds (round r evolves round r-1's APIs)"})
    evolution_ops: list[str] = field(
        default_factory=lambda: list(EVOLUTION_OPERATIONS), metadata={"help": "diversity operations to draw from"}
    )
    num_dialogs: int = field(default=20, metadata={"help": "dialogs to generate"})
    tools_per_dialog: int = field(default=3, metadata={"help": "APIs offered in one dialog"})
    share_single: float = field(default=0.4, metadata={"help": "mix share: one call"})
    share_parallel: float = field(default=0.2, metadata={"help": "mix share: parallel calls"})
    share_dependent: float = field(default=0.2, metadata={"help": "mix share: dependent calls across turns"})
    share_irrelevance: float = field(default=0.2, metadata={"help": "mix share: no tool fits (answer [])"})
    max_call_rounds: int = field(default=3, metadata={"help": "assistant call turns per dialog"})
    judges: list[str] = field(default_factory=lambda: list(JUDGES), metadata={"help": "model checks, or none"})
    max_turn_chars: int = field(default=8000, metadata={"help": "longest assistant / tool turn"})
    verify_only: bool = field(default=False, metadata={"help": "lint DATA_PATH with the rule layer, no generation"})
    data_format: str | None = field(
        default=None, metadata={"help": "--verify_only: reader (openai, sharegpt, bfcl...)"}
    )
    data_path: str | None = field(default=None, metadata={"help": "--verify_only: file or BFCL categories"})
    seed: int = field(default=42, metadata={"help": "same seed, same requests, same rows"})
    progress: bool = field(default=True, metadata={"help": "progress bars"})

    def __post_init__(self) -> None:
        if self.judges in (["none"], ["None"], [""]):
            self.judges = []
        problems = []
        if self.stage not in STAGES:
            problems.append(f"stage must be one of {STAGES}, got {self.stage!r}")
        for name in ("timeout", "concurrency", "num_dialogs", "tools_per_dialog", "max_call_rounds", "max_tokens"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("new_apis_per_domain", "evolutions_per_api", "expansion_rounds", "max_retries"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        shares = self.shares()
        if any(v < 0 for v in shares.values()) or not sum(shares.values()) > 0:
            problems.append(f"the share_* fields must be >= 0 with a positive sum, got {shares}")
        bad_ops = [op for op in self.evolution_ops if op not in EVOLUTION_OPERATIONS]
        if bad_ops:
            problems.append(f"evolution_ops {bad_ops} not among {list(EVOLUTION_OPERATIONS)}")
        bad_judges = [j for j in self.judges if j not in JUDGES]
        if bad_judges:
            problems.append(f"judges {bad_judges} not among {list(JUDGES)} (or 'none')")
        if self.verify_only and not (self.data_format and self.data_path):
            problems.append("--verify_only needs --data_format and --data_path")
        if problems:
            raise ValueError("; ".join(problems))

    def shares(self) -> dict[str, float]:
        """Dialog kind -> its mix share (relative weight)."""
        return {
            "single": self.share_single,
            "parallel": self.share_parallel,
            "dependent": self.share_dependent,
            "irrelevance": self.share_irrelevance,
        }
