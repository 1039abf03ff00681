"""MongoDB storage: the only package in Vigil that imports pymongo (and bson).

``server`` starts or reuses the embedded SecantusDB, ``client`` connects and prepares
the schema, and one repository module per aggregate holds that aggregate's queries;
:class:`Store` opens a database and holds the repositories (``store.posts``,
``store.rollups``, ...). ``docs/architecture.md`` ("Storage") lists which repository
owns which collection.
"""

from pipelines.store.common import StoreError, UpsertResult, hour_floor, utcnow
from pipelines.store.facade import Store
from pipelines.store.server import EmbeddedServer, local_uri, ping

__all__ = [
    "EmbeddedServer",
    "Store",
    "StoreError",
    "UpsertResult",
    "hour_floor",
    "local_uri",
    "ping",
    "utcnow",
]
