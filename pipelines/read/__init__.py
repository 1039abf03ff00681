"""Read: what the dashboard pages, exports and alert views read (the end of the flow).

- :mod:`pipelines.read.queries`         the :class:`Reader`: counts, timelines, pages of posts
- :mod:`pipelines.read.reports`         CSV / XLSX / PDF exports
- :mod:`pipelines.read.triage`          anomalies and alerts as listed, drilled into and acted on
- :mod:`pipelines.read.incident_views`  incident cards and their evidence
- :mod:`pipelines.read.mapview`         every located post of a selection, as points or clusters
- :mod:`pipelines.read.highlight`       query hits marked in post text
- :mod:`pipelines.read.spans`           which time range a first screen shows (archive or live)
- :mod:`pipelines.read.health`          each source's health beside its recent crawls

Nothing here writes posts or scores; the one write is an analyst's verdict on an
anomaly (:func:`pipelines.read.triage.set_status`), which pages call through here.
"""
