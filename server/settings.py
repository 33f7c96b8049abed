"""Server settings: defaults that work on a laptop, a TOML file, and ``AWEL_*`` variables.

Precedence, highest first: values passed in code (the CLI's flags), environment variables
(``AWEL_PORT=5671``), the TOML file (``--config awel.toml``), the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from operators.agents.signing import parse_key
from operators.export.sources import DEFAULT_MODELS

#: The listening backlog when the system's own ceiling cannot be read (Linux's default
#: ``somaxconn`` since 5.4).
FALLBACK_BACKLOG = 4096


def system_backlog(path: Path = Path("/proc/sys/net/core/somaxconn")) -> int:
    """The kernel's ceiling on a listening socket's backlog (``somaxconn``): asking for
    more gains nothing, and less drops connections of a burst the kernel could have held."""
    try:
        return max(1, int(path.read_text().strip()))
    except (OSError, ValueError):
        return FALLBACK_BACKLOG


class Settings(BaseSettings):
    """Everything the server can be told."""

    model_config = SettingsConfigDict(env_prefix="AWEL_", extra="forbid")

    host: str = Field("127.0.0.1", description="Address to bind; loopback unless asked.")
    port: int = Field(5670, description="Port of the DB-GPT webserver API.")
    model_api_port: int = Field(
        8100, ge=0, description="Port of the OpenAI-compatible model API; 0 turns it off."
    )
    # NoDecode: AWEL_API_KEYS is a comma-separated list (DB-GPT's form), not JSON.
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Keys every route but health and the docs requires, on every port, as"
        " 'Authorization: Bearer KEY' (none: open to whoever reaches the server).",
    )
    cluster_key: str | None = Field(
        None,
        description="The key a model cluster's processes send each other (workers to the"
        " controller, servers to the controller and workers); accepted like an API key.",
    )
    models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_MODELS),
        description="Names of the built models to serve (see `awel model build`).",
    )
    device: str = Field("cpu", description="Where the models run: cpu, or cuda.")
    data_dir: Path = Field(Path("data"), description="Everything the server writes lives here.")
    metadata_db: str | None = Field(
        None,
        description="SQLAlchemy URL of the metadata database (postgresql://..., mysql://...);"
        " default: SQLite in DATA/awel.db.",
    )
    secret_key: str | None = Field(
        None,
        description="Key (or passphrase) that encrypts stored datasource passwords;"
        " default: DATA/secret.key, made on first start.",
    )
    dags_dir: Path | None = Field(
        None, description="User flows, mounted under /api/v1/awel/trigger (default DATA/dags)."
    )
    reload: bool = Field(True, description="Reload user flows when their files change.")
    web_ui: Literal["old", "new", "off"] | None = Field(
        None,
        description="Which of DB-GPT's web UIs to serve at / (installed by `awel ui install`):"
        " old, new or off; default: whichever is installed, old first.",
    )
    ui_dir: Path | None = Field(
        None, description="Where `awel ui install` puts DB-GPT's web UIs (default DATA/ui)."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS ('*' for any)."
    )
    max_json_body: int = Field(
        1024 * 1024,
        gt=0,
        description="Largest request body of a route that takes no files (JSON, forms), bytes;"
        " a route's trigger may set its own (max_body_size).",
    )
    max_upload_size: int = Field(
        64 * 1024 * 1024,
        gt=0,
        description="Largest request body of a route that takes files (multipart), bytes.",
    )
    keepalive: float = Field(15.0, description="Seconds between SSE keep-alive comments.")
    backlog: int = Field(
        default_factory=system_backlog,
        gt=0,
        description="Connections the kernel holds for each listening socket before the server"
        " accepts them (default: the system's somaxconn, else 4096); a burst past it waits"
        " for the clients' SYN retries, a second or more.",
    )
    max_connections: int = Field(
        4096,
        ge=0,
        description="Open client connections the process keeps, over all its ports; one more"
        " is answered 503 with Retry-After and closed (0: no cap). Keep it under the open"
        " files limit (ulimit -n).",
    )
    request_head_timeout: float = Field(
        10.0,
        ge=0,
        description="Seconds a connection gets to send a whole request head (request line and"
        " headers), from when it opens or its next request begins; then it is closed."
        " Stops slow clients from holding connections (0: no limit).",
    )
    keepalive_timeout: float = Field(
        15.0,
        ge=0,
        description="Seconds an idle keep-alive connection stays open waiting for its next"
        " request (0: close after each response).",
    )
    max_queued_requests: int = Field(
        64,
        ge=0,
        description="Requests that may wait for each local model while it serves its batch;"
        " one more is answered 429 with Retry-After (0: none wait).",
    )
    max_queue_wait: float = Field(
        30.0,
        ge=0,
        description="Seconds a request may wait in a model's queue before it is answered 429"
        " with Retry-After (0: no limit).",
    )
    access_log: bool = Field(True, description="Log one line per request.")
    uvloop: bool = Field(
        True,
        description="Run on uvloop's event loop when it is installed (about a quarter less"
        " CPU per request than asyncio's own loop; bench/server.py).",
    )
    metrics: bool = Field(
        True, description="Serve Prometheus metrics at GET /metrics and count requests."
    )
    shutdown_timeout: float = Field(30.0, description="Seconds in-flight requests get to end.")
    allow_privileged_datasources: bool = Field(
        False,
        description="Let datasources log in as a PostgreSQL superuser (or a member of its"
        " server-file roles) or a MySQL user with FILE. Off: such logins are refused, since SQL"
        " from chat could then read the database server's files.",
    )
    pgvector_url: str | None = Field(
        None,
        description="A PostgreSQL database with the vector extension (postgresql://...) for"
        " knowledge spaces whose vector_type is PGVector; the others keep their vectors in the"
        " metadata database.",
    )
    allow_private_urls: bool = Field(
        False,
        description="Let URL documents of knowledge spaces point into the server's own network"
        " (loopback, private, link-local addresses). Off: such addresses are refused, so a"
        " user adding a document cannot make the server fetch its internal services.",
    )
    # NoDecode: AWEL_DATASOURCE_ROOTS is a comma-separated list of folders.
    datasource_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Folders that SQLite and DuckDB datasources registered through the API"
        " must lie in (none: anywhere but the data folder).",
    )
    agent_hub: str | None = Field(
        None,
        description="The agent hub a sync without a source reads (POST /api/v1/agent/hub/update"
        " with no body): a git URL or a folder. None: the agents shipped in"
        " examples/agent_hub.",
    )
    agent_trusted_sources: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Where agents with Python code may be installed from: hub URLs or"
        " folders (an entry ending in '/' covers what lies under it; 'upload' trusts"
        " uploads; '*' trusts every source). YAML-only agents install from anywhere.",
    )
    agent_trusted_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Ed25519 public keys (ed25519:BASE64, from `awel agent keygen`) whose"
        " signature lets an agent package ship Python from any source (`awel agent sign`).",
    )
    agent_params: dict[str, dict[str, str | bool | int | float]] = Field(
        default_factory=dict,
        description="Values of installed agents' parameters, by agent and parameter, over the"
        " defaults of their manifests (AWEL_AGENT_PARAMS as JSON:"
        ' {"knowledge_summary": {"space": "docs"}}).',
    )

    flow_api_code: bool = Field(
        False,
        description="Let flows saved through the flow API (/api/v1/serve/awel/flows) import"
        " Python by path (an op or fn written 'module:name'). Off: such flows are refused,"
        " since whoever may call the API would otherwise run any installed function; flows"
        " written into the flows folder may always.",
    )

    @field_validator(
        "api_keys",
        "models",
        "datasource_roots",
        "agent_trusted_sources",
        "agent_trusted_keys",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def _no_blank_key(cls, keys: list[str]) -> list[str]:
        # A blank key could never be sent (an empty Bearer token is no token), so it would
        # lock everyone out; say so instead. Headers lose surrounding blanks, so keys do too.
        if any(not k.strip() for k in keys):
            raise ValueError("an API key is blank")
        return [k.strip() for k in keys]

    @field_validator("agent_trusted_keys")
    @classmethod
    def _signing_keys(cls, keys: list[str]) -> list[str]:
        # A mistyped key would trust nothing and say nothing: refuse it at start-up.
        for key in keys:
            parse_key(key)
        return keys

    @field_validator("cluster_key")
    @classmethod
    def _no_blank_cluster_key(cls, key: str | None) -> str | None:
        if key is not None and not key.strip():
            raise ValueError("the cluster key is blank")
        return key.strip() if key is not None else None

    @property
    def web_ui_dir(self) -> Path:
        return self.ui_dir if self.ui_dir is not None else self.data_dir / "ui"

    @property
    def user_dags(self) -> Path:
        return self.dags_dir if self.dags_dir is not None else self.data_dir / "dags"

    @classmethod
    def load(cls, config: Path | None = None, **overrides: Any) -> Settings:
        """Settings from ``config`` (TOML), the environment and ``overrides``."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if config is None:
            return cls(**given)

        class FromFile(cls):  # type: ignore[valid-type, misc]
            @classmethod
            def settings_customise_sources(
                cls,
                settings_cls: type[BaseSettings],
                init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource,
                dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                toml = TomlConfigSettingsSource(settings_cls, toml_file=config)
                return (init_settings, env_settings, toml)

        loaded = FromFile(**given)
        return cls.model_validate(loaded.model_dump())
