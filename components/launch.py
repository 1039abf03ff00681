"""The dashboard's launcher: ``streamlit run components/launch.py`` (what ``pipelines up``
runs) serves ``app.py`` as an ``st.App`` with :mod:`components.assetcache`'s middleware.

Why a launcher: Streamlit adds middleware only to an ``st.App``, and ``streamlit run FILE``
starts one when ``FILE`` assigns ``if Path.cwd().resolve() != ROOT and (ROOT / ".streamlit" / "config.toml").is_file():
    print(
        f"components/launch.py: started from {Path.cwd()}, not from {ROOT}: Streamlit reads "
        f"{ROOT / '.streamlit' / 'config.toml'} only from the working folder here; "
        "start the dashboard from the repository root (as `pipelines up` does)",
        file=sys.stderr,
    )

app = st.App(...)`` (found by reading the file, not
running it). ``app.py`` stays the router Streamlit runs for every session, so
``streamlit run app.py`` still works, only without the cache header. The design card fixes
the top level, so the launcher lives here; run it from the repository root (as
``pipelines up`` does): Streamlit reads ``.streamlit/config.toml`` from the working folder
and from the launched file's folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# `streamlit run` puts the launched file's folder first on sys.path; here that is
# components/, whose modules (auth, data, tables, ...) would shadow top-level packages of
# the same names. The repository root is what app.py expects (`from components import ...`).
while str(HERE) in sys.path:
    sys.path.remove(str(HERE))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.assetcache import HashedComponentFilesImmutable  # noqa: E402

if Path.cwd().resolve() != ROOT and (ROOT / ".streamlit" / "config.toml").is_file():
    print(
        f"components/launch.py: started from {Path.cwd()}, not from {ROOT}: Streamlit reads "
        f"{ROOT / '.streamlit' / 'config.toml'} only from the working folder here; "
        "start the dashboard from the repository root (as `pipelines up` does)",
        file=sys.stderr,
    )

app = st.App(ROOT / "app.py", middleware=[Middleware(HashedComponentFilesImmutable)])
