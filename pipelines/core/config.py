"""Settings from the environment and an optional ``.env`` file.

Every knob Vigil has lives here, with a safe default, so that ``make run`` works on a
fresh machine with nothing configured. Secrets (database credentials, webhook URLs,
SMTP passwords) are only ever read from the environment, ``.env`` or
``.streamlit/secrets.toml`` -- never from the repository.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Runtime configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    mongodb_uri: str | None = Field(
        default=None,
        description="MongoDB connection string. Unset: start the embedded SecantusDB server.",
    )
    mongodb_db: str = Field(default="vigil", description="Database name inside the server.")
    vigil_data_dir: Path = Field(
        default=REPO_ROOT / "data" / "runtime",
        description="Folder for the embedded database, caches and logs.",
    )
    vigil_db_port: int = Field(default=27217, description="Port of the embedded SecantusDB server.")
    vigil_ui_port: int = Field(default=8501, description="Port of the Streamlit dashboard.")
    vigil_ui_host: str = Field(
        default="127.0.0.1",
        description="Interface the dashboard binds; set 0.0.0.0 to serve other machines.",
    )
    vigil_map_tiles: str = Field(
        default="",
        description=(
            "Tile URL template for the Map's background, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png"
            " (optionally followed by a space and the attribution). Empty: the bundled country outlines only,"
            " which work offline."
        ),
    )
    vigil_sample_dir: Path = Field(
        default=REPO_ROOT / "data" / "sample",
        description="Bundled sample imported by `pipelines up` on first start.",
    )
    vigil_load_sample: bool = Field(default=True, description="Import the bundled sample on `up`.")
    ollama_host: str = Field(
        default="http://127.0.0.1:11434",
        description="One or more Ollama base URLs, comma separated (round robin).",
    )
    vigil_log_level: str = Field(default="INFO", description="Logging level of every process.")
    # crawler (issue 3)
    vigil_crawl_contact: str = Field(
        default="https://example.org/vigil-operator",
        description="Contact URL (or mailto:) put in the crawler's User-Agent; set it to your own.",
    )
    vigil_crawl_concurrency: int = Field(
        default=2, ge=1, le=32, description="Crawl subprocesses the scheduler runs at once."
    )
    vigil_crawl_sources_file: Path = Field(
        default=REPO_ROOT / "sources.yaml",
        description="Default sources seeded into an empty `sources` collection by `crawl --loop`.",
    )
    vigil_crawl_max_backoff_s: int = Field(
        default=6 * 3600, ge=60, description="Longest wait before retrying a source that keeps failing."
    )
    vigil_crawl_retry_after_max_s: int = Field(
        default=120, ge=0, description="Longest Retry-After honoured inside a run; longer waits end the run."
    )

    # scoring (issue 4)
    vigil_scorer: str = Field(
        default="auto",
        pattern="^(auto|ollama|cpu)$",
        description="auto: Ollama while it answers, the CPU scorer otherwise; ollama or cpu force one.",
    )
    ollama_model: str = Field(
        default="qwen2.5:7b-instruct",
        description="Ollama model tag used for scoring (must support JSON-schema `format`).",
    )
    ollama_timeout_s: float = Field(default=60.0, gt=0, description="Timeout of one Ollama request.")
    ollama_concurrency: int = Field(
        default=2, ge=1, le=64, description="Ollama requests in flight at once per worker."
    )
    ollama_batch_posts: int = Field(
        default=8, ge=1, le=32, description="Posts sent in one Ollama chat request (1 disables batching)."
    )
    ollama_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries of a failed or invalid Ollama answer (backoff 0.5 s x 2^n).",
    )
    vigil_topics: str = Field(
        default="crisis/disaster,violence/crime,politics,business/brand,health,technology,sports,entertainment,other",
        description="Topic taxonomy, comma separated; `other` is the catch-all.",
    )
    vigil_score_batch: int = Field(
        default=64, ge=1, le=2000, description="Posts a scorer worker claims at once."
    )
    vigil_score_lease_s: float = Field(
        default=300.0,
        gt=0,
        description="Lease on claimed posts; a dead worker's posts are reclaimed after it.",
    )
    vigil_score_max_attempts: int = Field(
        default=3, ge=1, description="Failed scoring attempts before a post goes to status `failed`."
    )
    vigil_score_invalid_fallback: bool = Field(
        default=True,
        description="When the LLM's answer never validates: quarantine it and score the post on CPU "
        "(true) or count a failed attempt (false).",
    )
    vigil_score_threads: int = Field(
        default=0,
        ge=0,
        description="Embedding batches the CPU scorer runs at once, one core each (0: one per core, max 4).",
    )
    vigil_score_idle_s: float = Field(
        default=2.0, gt=0, description="Sleep of `score --loop` when no post is waiting."
    )
    vigil_high_cuts: dict[Literal["threat", "hate", "toxicity"], Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        description='Override of the tuned "high" cut per score, JSON such as {"threat": 0.4} '
        "(default: the cuts chosen on tune splits, heads/card.json). Rollups already written keep "
        "the cut they were counted with: run `score --rebuild-rollups` after changing it.",
    )

    # alerts (issue 7)
    vigil_public_url: str = Field(
        default="http://localhost:8501",
        description="Dashboard address used in alert links (drill-downs); set it to the URL your team opens.",
    )
    vigil_alerts_file: Path = Field(
        default=REPO_ROOT / "alerts.yaml",
        description="YAML of channels, watchlists and rules applied when the alerts loop starts (if it exists).",
    )
    vigil_alerts_interval_s: float = Field(
        default=30.0, gt=0, description="Seconds between two cycles of `alerts --loop`."
    )
    vigil_alerts_max_attempts: int = Field(
        default=5,
        ge=1,
        le=50,
        description="Delivery attempts per alert and channel before it is marked failed.",
    )
    vigil_alerts_retry_base_s: float = Field(
        default=30.0,
        gt=0,
        description="First retry delay of a failed delivery; doubles with each attempt (max 1 h).",
    )
    vigil_secrets_file: Path = Field(
        default=REPO_ROOT / ".streamlit" / "secrets.toml",
        description="TOML file searched for channel secrets named by a channel but absent from the environment.",
    )

    # auth (issue 8)
    vigil_session_idle_minutes: float = Field(
        default=30, gt=0, description="A dashboard session ends after this many minutes without a request."
    )
    vigil_session_max_hours: float = Field(
        default=12, gt=0, description="A dashboard session ends this many hours after login, active or not."
    )
    vigil_login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins (password or code) of one user before a lockout."
    )
    vigil_login_client_max_failures: int = Field(
        default=20, ge=1, description="Failed logins from one client (IP address) before a lockout."
    )
    vigil_login_lockout_minutes: float = Field(
        default=15, gt=0, description="How long a lockout lasts; failures older than this are forgotten."
    )
    vigil_password_min_chars: int = Field(
        default=12, ge=8, le=128, description="Shortest password `user add` and the admin page accept."
    )
    vigil_totp_issuer: str = Field(
        default="Vigil", description="Issuer name shown by authenticator apps next to the account."
    )
    vigil_user_password: SecretStr | None = Field(
        default=None,
        description="Password read by `user add` / `user passwd` for automation instead of a prompt. "
        "Never stored; unset it afterwards.",
    )
    # detection (issue 5): docs/detection.md
    vigil_detect_interval_s: float = Field(
        default=300.0, gt=0, description="Seconds between two `detect --loop` cycles."
    )
    vigil_detect_lookback_days: float = Field(
        default=2.0,
        gt=0,
        description="A changed series is rescored over this many days before its newest bucket "
        "(a series seen for the first time is scored over its whole history).",
    )
    vigil_detect_max_series: int = Field(
        default=300, ge=1, description="Busiest series keys scored per cycle (bounds a cycle's cost)."
    )
    vigil_detect_threshold: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Severity (0..1) at or above which the detector raises an anomaly; "
        "unset: the method's default (robust 0.34, robust+context 0.475; docs/detection.md).",
    )
    vigil_detect_method: str = Field(
        default="robust",
        description="Detector method: `robust` (default) or `robust+context` (adds sequence "
        "novelty; docs/detection.md).",
    )

    @property
    def db_path(self) -> Path:
        """Storage folder of the embedded server (one server per folder)."""
        return self.vigil_data_dir / "db"

    @property
    def ollama_hosts(self) -> list[str]:
        """``OLLAMA_HOST`` split on commas, blanks dropped."""
        return [h.strip() for h in self.ollama_host.split(",") if h.strip()]

    @property
    def topics(self) -> list[str]:
        """``VIGIL_TOPICS`` split on commas, blanks and repeats dropped."""
        return list(dict.fromkeys(t.strip() for t in self.vigil_topics.split(",") if t.strip()))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
