"""Core: what every stage needs and nothing stage-specific.

- :mod:`pipelines.core.config`  settings from the environment (``VIGIL_*``), ``REPO_ROOT``
- :mod:`pipelines.core.post`    the post: dates, URLs, coordinates, :func:`build_post`
- :mod:`pipelines.core.text`    text rules: cleaning, tokens, stop words, index terms, hashes
- :mod:`pipelines.core.scores`  what a scorer says: :class:`Scores`, places, entities
- :mod:`pipelines.core.escape`  escaping untrusted text for each place it is shown

Imports nothing from the other packages of :mod:`pipelines`, so any stage may import it.
"""
