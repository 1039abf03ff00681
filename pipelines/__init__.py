"""Vigil's core: settings, the post model, the store and the processing stages.

Nothing in this package imports streamlit or scrapy; only :mod:`pipelines.store`
imports pymongo.
"""

__version__ = "0.1.0"
