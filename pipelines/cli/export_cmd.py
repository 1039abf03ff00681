"""``python -m pipelines export OUT [--filters LINK]``: what a dashboard link selects, to a file.

Why a command as well as the Export page: the page hands the file to the browser, which
holds it in memory; an export of millions of posts belongs on disk. The filters are given
as the dashboard writes them into its address (``Filters.to_params``), so the link of an
Explore view, pasted whole or as its query string, exports exactly that view.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

import typer

from pipelines.cli import app
from pipelines.core.config import get_settings

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx", ".pdf": "pdf"}


def filter_params(link: str) -> dict[str, str]:
    """The query parameters of a dashboard link, or of a bare ``a=1&b=2`` string.

    A parameter given twice keeps its last value, as the dashboard does.
    """
    link = link.strip()
    if not link:
        return {}
    query = urlsplit(link).query if "?" in link or "://" in link else link
    return dict(parse_qsl(query, keep_blank_values=False))


def pick_format(out: Path, fmt: str | None) -> str:
    """``fmt`` when given, else the output file's suffix; a clear error otherwise."""
    if fmt:
        fmt = fmt.lower().removeprefix(".")
        if fmt not in SUFFIXES.values():
            raise typer.BadParameter(
                f"unknown format {fmt!r}; one of csv, parquet, xlsx, pdf", param_hint="--format"
            )
        return fmt
    try:
        return SUFFIXES[out.suffix.lower()]
    except KeyError:
        raise typer.BadParameter(
            f"cannot tell the format from {out.name!r}; end it in .csv, .parquet, .xlsx or .pdf, or give --format",
            param_hint="OUT",
        ) from None


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Argument(help="The file to write (.csv, .parquet, .xlsx or .pdf).")],
    filters: Annotated[
        str,
        typer.Option(
            "--filters",
            help="A dashboard link (or its query string, e.g. 'q=flood&since=2013-06-20T00:00'); "
            "empty exports every post.",
        ),
    ] = "",
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, parquet, xlsx or pdf (default: OUT's suffix).")
    ] = None,
    title: Annotated[str, typer.Option(help="The PDF report's title.")] = "Vigil report",
) -> None:
    """Export what the filters select, in batches, to a file on disk (audited as the CLI user)."""
    from pipelines.auth.audit import audit, cli_actor
    from pipelines.read import reports
    from pipelines.read.queries import Reader
    from pipelines.search.filters import Filters
    from pipelines.search.index import SearchIndex, SearchIndexError, index_path
    from pipelines.search.select import SelectError
    from pipelines.store import Store, StoreError

    kind = pick_format(out, fmt)
    params = filter_params(filters)
    try:
        selection = Filters.from_params(params)
    except ValueError as exc:  # FilterError, QuerySyntaxError: one line naming the value
        raise typer.BadParameter(str(exc), param_hint="--filters") from None
    if not out.parent.is_dir():
        raise typer.BadParameter(f"no such folder: {out.parent}", param_hint="OUT")

    last = [0.0]

    def progress(done: int, total: int) -> None:
        # One line per tenth: a terminal and a log read alike.
        share = done / total if total else 1.0
        if share - last[0] >= 0.1 or done == total:
            last[0] = share
            print(f"  {done:,} of {total:,} posts examined", file=sys.stderr, flush=True)

    try:
        with Store.open(get_settings()) as store:
            reader = Reader(store, SearchIndex.open(index_path(get_settings().vigil_data_dir)))
            audit(
                store,
                cli_actor(),
                "export",
                f"cli-{kind}",
                {"filters": dict(selection.describe()), "file": out.name},
            )
            if kind == "pdf":
                pdf, summary = reports.pdf_report(reader, selection, title, progress)
                out.write_bytes(pdf)
                rows = summary.posts
            else:
                rows = reports.export(reader, selection, kind, out, progress).rows
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(3) from None
    except SearchIndexError as exc:  # missing, corrupt, locked: the message gives the rebuild command
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    except (reports.ExportError, SelectError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    print(f"wrote {out} ({kind}): {rows:,} posts")
