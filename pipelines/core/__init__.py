"""Core: what every stage needs and nothing stage-specific.

- :mod:`pipelines.core.config`  settings from the environment (``VIGIL_*``), ``REPO_ROOT``
- :mod:`pipelines.core.models`  the post, its validation, its scores and the word rules
- :mod:`pipelines.core.escape`  escaping untrusted text for each place it is shown

Imports nothing from the other packages of :mod:`pipelines`, so any stage may import it.
"""
