"""Vigil's processing side: one package per stage, in the order the data flows.

``core`` (settings, the post, scores, text rules) -> ``ingest`` -> ``store`` ->
``scoring`` -> ``search`` -> ``detect`` -> ``alerts`` -> ``read`` (what the pages read),
with ``auth`` and ``cli`` beside them; ``docs/architecture.md`` opens with the tree.
Nothing in this package imports streamlit or scrapy; only :mod:`pipelines.store`
imports pymongo (``tests/test_architecture.py`` checks both).
"""

__version__ = "0.1.0"
