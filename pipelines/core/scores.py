"""What a scorer says about a post: :class:`Scores`, with its :class:`Place` and
:class:`Entity` lists and the limits and taxonomy they are validated against.

Apart from the post model (:mod:`pipelines.core.post`) because the scorers, the LLM's
answer schema and the detector's sample run build scores without building posts.
Validation only, no I/O.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_TOPICS: tuple[str, ...] = (
    "crisis/disaster",
    "violence/crime",
    "politics",
    "business/brand",
    "health",
    "technology",
    "sports",
    "entertainment",
    "other",
)
"""The default topic taxonomy (``VIGIL_TOPICS`` overrides it); ``other`` is the catch-all."""

MAX_TOPICS = 4
MAX_ENTITIES = 12
MAX_PLACES = 8
MAX_RATIONALE_CHARS = 400
ENTITY_TYPES = ("person", "org", "place", "product")
"""Entity types a post can carry (the search index stores them as ``"type:name"``)."""
_OLD_ENTITY_TYPES = {"organization": "org", "organisation": "org", "location": "place", "gpe": "place"}
"""Type names written before issue 14 (and synonyms an LLM may use), read as today's."""


class Place(BaseModel):
    """A place a post mentions, geocoded from the bundled GeoNames tables (never from an LLM)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 code")
    population: int | None = Field(default=None, ge=0)
    kind: str = Field(default="city", pattern="^(city|region|country)$")

    @property
    def key(self) -> str:
        """Stable id of the place in rollups: country, name and rounded coordinates."""
        return f"{self.country or '-'}:{self.name}:{self.lat:.2f},{self.lon:.2f}"


class Entity(BaseModel):
    """A named entity as written in the post: a person, organisation, place or product.

    Stored as ``{name, type}`` in ``posts.scores.entities``; the search index keeps
    ``"type:name"`` so Explore can filter on "org:Red Cross". Documents written before
    issue 14 used ``text`` and the types ``organization``/``location``: they still read.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=200)
    type: str = Field(pattern="^(" + "|".join(ENTITY_TYPES) + ")$")

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "name" not in data and "text" in data:
                data["name"] = data.pop("text")
            t = data.get("type")
            if isinstance(t, str):
                data["type"] = _OLD_ENTITY_TYPES.get(t.lower(), t.lower())
        return data

    @property
    def key(self) -> str:
        """``"type:name"``: how the search index, filters and watchlists name this entity."""
        return f"{self.type}:{self.name}"


class Scores(BaseModel):
    """What a scorer says about one post; stored as ``posts.scores``.

    ``model`` names what produced the scores (``cpu:<embedder>+heads`` or
    ``ollama:<tag>``), so after a circuit-breaker fallback a reader can see which one
    scored a post; ``version`` is the scorer version that makes writes idempotent.
    ``confidence`` is ``"low"`` when the post's language is one the scorer was not
    trained on (or could not be detected): the numbers are then a guess, flagged as such.
    """

    model_config = ConfigDict(frozen=True)

    sentiment: float = Field(ge=-1.0, le=1.0, description="-1 negative .. 1 positive")
    threat: float = Field(ge=0.0, le=1.0, description="intent of violence or harm")
    hate: float = Field(ge=0.0, le=1.0)
    toxicity: float = Field(ge=0.0, le=1.0)
    topics: list[str] = Field(default_factory=list, max_length=MAX_TOPICS)
    entities: list[Entity] = Field(default_factory=list, max_length=MAX_ENTITIES)
    places: list[Place] = Field(default_factory=list, max_length=MAX_PLACES)
    language: str = Field(default="und", max_length=16, description="ISO 639-1, 'und' when unknown")
    confidence: str = Field(default="high", pattern="^(high|low)$")
    model: str = Field(min_length=1, max_length=120)
    version: str = Field(min_length=1, max_length=60)
    rationale: str | None = Field(default=None, max_length=MAX_RATIONALE_CHARS)

    def to_doc(self) -> dict[str, Any]:
        """The ``posts.scores`` sub-document (plain types, ``None`` fields dropped)."""
        return self.model_dump(exclude_none=True)
