"""``Store``: one open database and its repositories, one per aggregate.

Callers name the repository they use (``store.posts.upsert(...)``,
``store.rollups.sums(...)``); ``Store`` itself only connects, prepares the schema and
closes. ``db`` and ``client`` stay reachable for tests and repairs.
"""

from __future__ import annotations

from typing import Self

from pymongo.errors import PyMongoError

from pipelines.core.config import Settings, get_settings
from pipelines.store.alerts import Alerts
from pipelines.store.anomalies import Anomalies
from pipelines.store.audit import AuditLog
from pipelines.store.client import Schema, connect
from pipelines.store.detector import Detector
from pipelines.store.feed import ChangeFeed
from pipelines.store.incidents import Incidents
from pipelines.store.meta import Meta
from pipelines.store.posts import Posts
from pipelines.store.quarantine import Quarantine
from pipelines.store.rollups import Rollups
from pipelines.store.score_queue import ScoreQueue
from pipelines.store.server import EmbeddedServer
from pipelines.store.sources import CrawlRuns, Sources
from pipelines.store.users import LoginThrottle, Sessions, Users


class Store:
    """One Vigil database. Construct with :meth:`open` or a URI.

    Repositories (each module's docstring says which collections it owns):
    ``schema``, ``meta``, ``feed``, ``posts``, ``score_queue``, ``rollups``,
    ``quarantine``, ``sources``, ``crawl_runs``, ``anomalies``, ``detector``,
    ``incidents``, ``alerts``, ``users``, ``sessions``, ``login_throttle``, ``audit``.
    """

    def __init__(self, uri: str, db_name: str = "vigil", server: EmbeddedServer | None = None):
        self.uri = uri
        self.server = server
        self.client = connect(uri)
        self.db = self.client[db_name]
        db = self.db
        self.schema = Schema(db, uri)
        self.meta = Meta(db)
        self.feed = ChangeFeed(db)
        self.rollups = Rollups(db)
        self.posts = Posts(db, self.feed, self.rollups)
        self.score_queue = ScoreQueue(db, self.feed, self.rollups)
        self.quarantine = Quarantine(db)
        self.sources = Sources(db)
        self.crawl_runs = CrawlRuns(db)
        self.anomalies = Anomalies(db)
        self.detector = Detector(db)
        self.incidents = Incidents(db)
        self.alerts = Alerts(db)
        self.users = Users(db)
        self.sessions = Sessions(db)
        self.login_throttle = LoginThrottle(db)
        self.audit = AuditLog(db)

    @classmethod
    def open(cls, settings: Settings | None = None, *, ensure_schema: bool = True) -> Store:
        """Connect to ``MONGODB_URI`` or to the embedded server (starting it if needed)."""
        settings = settings or get_settings()
        server = None
        if settings.mongodb_uri:
            uri = settings.mongodb_uri
        else:
            server = EmbeddedServer(settings.db_path, settings.vigil_db_port)
            uri = server.ensure_running()
        store = cls(uri, settings.mongodb_db, server=server)
        if ensure_schema:
            store.schema.ensure()
        return store

    def close(self) -> None:
        """Close the client; stop the embedded server if this store started it."""
        self.client.close()
        if self.server is not None:
            self.server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> bool:
        """True when the server answers."""
        try:
            self.client.admin.command("ping")
            return True
        except PyMongoError:
            return False
