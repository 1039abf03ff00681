"""``python -m pipelines search QUERY`` and ``python -m pipelines index``: the search index.

``search`` answers from the index alone (exact counts and breakdowns) and reads the rows
it prints from MongoDB by id. With ``--count`` the last line of the output is the exact
number of matching posts, whatever the format, so a script can read it with ``tail -1``.
``index --loop`` is the one indexer process (started by ``pipelines up``); ``index
--rebuild`` recreates the index from MongoDB with a progress bar.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import sys
import threading
from datetime import datetime
from typing import Annotated, Any

import typer

from pipelines.cli import app, setup_logging
from pipelines.core.config import get_settings

BY = {"hour": "1h", "day": "1d"}
BY_FIELDS = ("source", "lang", "terms", "places", "topics", "entities", "author")
FORMATS = ("table", "csv", "json")


def _fail(message: str, code: int = 1) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date or time like 2013-06-20T08:00", param_hint=name
        ) from None


def _emit(rows: list[dict[str, Any]], fmt: str) -> None:
    if not rows:
        return
    if fmt == "json":
        print(json.dumps(rows, ensure_ascii=False, default=str))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        print(buf.getvalue(), end="")
    else:
        cols = list(rows[0])
        width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
        print("  ".join(c.ljust(width[c]) for c in cols))
        for r in rows:
            print("  ".join(str(r[c]).ljust(width[c]) for c in cols))


def _one_line(text: str, n: int = 100) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def _check_options(fmt: str, by: str | None, order: str, entities: list[str]) -> None:
    """Refuse an unknown --format/--by/--order or a malformed --entity, naming the option."""
    from pipelines.search.filters import FilterError, validate_entities

    if fmt not in FORMATS:
        raise typer.BadParameter(
            f"unknown format {fmt!r}; one of {', '.join(FORMATS)}", param_hint="--format"
        )
    if by is not None and by not in BY and by not in BY_FIELDS:
        raise typer.BadParameter(
            f"unknown field {by!r}; one of hour, day, {', '.join(BY_FIELDS)}", param_hint="--by"
        )
    if order not in ("newest", "relevance"):
        raise typer.BadParameter(f"unknown order {order!r}; newest or relevance", param_hint="--order")
    for value in entities:  # name the offending --entity value, not only "entities item"
        try:
            validate_entities([value])
        except FilterError as exc:
            raise _fail(f"invalid --entity {value!r}: {exc}", code=2) from None


@app.command("search")
def search_cmd(
    query: Annotated[
        str, typer.Argument(help='Keywords: flood calgary, "state of emergency", evacuat*, -rt, OR, ( ).')
    ],
    since: Annotated[
        str | None, typer.Option(help="From this UTC time (inclusive), e.g. 2013-06-20.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Before this UTC time (exclusive).")] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only this source (repeatable).")] = None,
    lang: Annotated[list[str] | None, typer.Option(help="Only this language code (repeatable).")] = None,
    place: Annotated[
        list[str] | None, typer.Option(help="Only posts naming this place (repeatable).")
    ] = None,
    entity: Annotated[
        list[str] | None,
        typer.Option(
            help='Only posts naming this entity, TYPE:NAME, e.g. "org:Red Cross" (repeatable: any).'
        ),
    ] = None,
    count: Annotated[
        bool, typer.Option("--count", help="End with the exact number of matching posts.")
    ] = False,
    by: Annotated[
        str | None, typer.Option(help=f"Break down by hour, day or a field ({', '.join(BY_FIELDS)}).")
    ] = None,
    limit: Annotated[int, typer.Option(min=0, max=10_000, help="Rows to print (0: none).")] = 20,
    order: Annotated[str, typer.Option(help="newest or relevance.")] = "newest",
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Search the posts: newest (or most relevant) matches, a breakdown, an exact count."""
    from pipelines.search import aggregate, areaterms, halves, termroll
    from pipelines.search.compile import SearchCompileError, filters_query
    from pipelines.search.filters import Filters
    from pipelines.search.index import SearchIndex, SearchIndexError, index_path

    _check_options(fmt, by, order, entity or [])
    try:
        selection = Filters.make(
            query=query,
            since=_when(since, "--since"),
            until=_when(until, "--until"),
            sources=source or [],
            langs=lang or [],
            places=place or [],
            entities=entity or [],
        )
    except ValueError as exc:  # QuerySyntaxError names the position; FilterError the field
        raise _fail(f"invalid query or filter: {exc}", code=2) from None
    settings = get_settings()
    try:
        index = SearchIndex.open(index_path(settings.vigil_data_dir))
        searcher = index.searcher()
        q = filters_query(index.schema, selection)
    except (SearchIndexError, SearchCompileError) as exc:
        raise _fail(str(exc)) from None
    if by in BY:
        rows = [{by: t.isoformat(), "posts": n} for t, n in aggregate.histogram(searcher, q, BY[by])]
        _emit(rows, fmt)
    elif by:
        size = max(limit, 1)
        rolled = termroll.top_terms(index.path, selection, size) if by == "terms" else None
        if rolled is None and by == "terms" and selection.area is not None:  # (no --area option yet)
            rolled = areaterms.area_top_terms(index.path, selection, size, index.searcher, index.schema)
        bound = halves.selection_bound(searcher, selection) if by == "terms" else None  # small: one thread
        try:
            top = (
                rolled
                if rolled is not None
                else aggregate.top_values(searcher, q, by, size, index.path, bound)
            )
        except SearchIndexError as exc:  # the term-id vocabulary missing or damaged
            raise _fail(str(exc)) from None
        _emit([{by: v, "posts": n} for v, n in top], fmt)
    elif limit:
        _emit(_rows(searcher, q, limit, order, aggregate), fmt)
    if count:
        print(aggregate.count(searcher, q))


def _rows(searcher: Any, q: Any, limit: int, order: str, aggregate: Any) -> list[dict[str, Any]]:
    """The matching posts to print, read from MongoDB by the ids the index returns."""
    from pipelines.store import Store, StoreError

    pick = aggregate.newest_ids if order == "newest" else aggregate.relevant_ids
    ids = pick(searcher, q, limit=limit)
    if not ids:
        return []
    try:
        with Store.open(get_settings(), ensure_schema=False) as store:
            posts = {p["_id"]: p for p in store.posts.by_ids(ids, {"ts": 1, "source": 1, "text": 1})}
    except StoreError as exc:
        raise _fail(str(exc)) from None
    return [
        {
            "id": i,
            "ts": posts[i]["ts"].isoformat() if isinstance(posts[i].get("ts"), datetime) else "",
            "source": posts[i].get("source", ""),
            "text": _one_line(posts[i].get("text", "")),
        }
        for i in ids
        if i in posts
    ]


@app.command("index")
def index_cmd(
    loop: Annotated[
        bool, typer.Option("--loop", help="Follow new and re-scored posts until stopped.")
    ] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Recreate the index from MongoDB.")] = False,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between passes when idle.")] = 1.0,
) -> None:
    """Bring the search index up to date with MongoDB (once, in a loop, or from scratch)."""
    from tqdm import tqdm

    from pipelines.search.index import SearchIndex, SearchIndexError, index_path
    from pipelines.search.indexer import Indexer, read_position
    from pipelines.store import Store, StoreError

    settings = get_settings()
    setup_logging(settings.vigil_log_level)
    path = index_path(settings.vigil_data_dir)
    try:
        with Store.open(settings) as store:
            index = SearchIndex.create(path) if rebuild else SearchIndex.open_or_create(path)
            indexer = Indexer(store, index)
            if rebuild or read_position(path) is None:
                with tqdm(total=store.posts.estimated_count(), unit="posts", file=sys.stderr) as bar:

                    def progress(done: int, total: int) -> None:
                        bar.total = max(total, done)
                        bar.update(done - bar.n)

                    n = indexer.rebuild(progress)
                print(f"indexed {n} posts into {path}", file=sys.stderr)
            if loop:
                stop = threading.Event()
                signal.signal(signal.SIGTERM, lambda *_: stop.set())
                signal.signal(signal.SIGINT, lambda *_: stop.set())
                indexer.loop(stop, interval)
            elif not rebuild:
                print(f"indexed {indexer.catch_up()} changed posts", file=sys.stderr)
            indexer.close()
    except (SearchIndexError, StoreError) as exc:
        raise _fail(str(exc)) from None
