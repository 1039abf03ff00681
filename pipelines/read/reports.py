"""Exports of exactly what a :class:`Filters` selects: CSV, Parquet, XLSX, and a PDF report.

Every export selects through the search index exactly what the pages count
(:meth:`pipelines.read.queries.Reader.select`), newest first, then reads the posts from MongoDB
by id in batches so memory stays flat; a ``progress(done, total)`` callback reports how
many of the selected posts have been written. The PDF report's figures are the index's
exact aggregations. Columns are :data:`pipelines.read.queries.FRAME_SCHEMA`.

CSV cells of free text (text, title, author) that start with ``= + - @`` or a tab get a
leading ``'``: spreadsheet programs would otherwise run them as formulas (CSV
injection). XLSX writes every string as a string (never a formula) and Parquet keeps
values as they are. No streamlit here.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
from tantivy import Order

from pipelines.read.queries import FRAME_SCHEMA, POST_PROJECTION, Reader, post_row
from pipelines.search import aggregate
from pipelines.search.filters import Filters

FORMATS = ("csv", "parquet", "xlsx")
BATCH = 5_000
XLSX_MAX_ROWS = 1_048_575
"""Excel's sheet limit (minus the header); larger selections must use CSV or Parquet."""
FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")
FREE_TEXT = ("author", "title", "text")

Progress = Callable[[int, int], None]


class ExportError(ValueError):
    """An export that cannot be produced (unknown format, too many rows for XLSX)."""


def neutralise_formula(value: str | None) -> str | None:
    """Prefix ``'`` to text a spreadsheet would run as a formula."""
    if value and value.startswith(FORMULA_CHARS):
        return "'" + value
    return value


def expected_posts(reader: Reader, filters: Filters) -> int:
    """How many posts ``filters`` select (exact): the progress total."""
    searcher, query = reader.select(filters)
    return aggregate.count(searcher, query)


def iter_docs(reader: Reader, filters: Filters, progress: Progress | None = None) -> Iterator[dict[str, Any]]:
    """Every selected post document, newest first, read from MongoDB in batches of ids."""
    searcher, query = reader.select(filters)
    total = aggregate.count(searcher, query)
    if total == 0:
        if progress:
            progress(0, 0)
        return
    hits = searcher.search(query, limit=total, count=False, order_by_field="ts", order=Order.Desc).hits
    done = 0
    for start in range(0, len(hits), BATCH):
        ids = [searcher.doc(addr).get_first("id") for _, addr in hits[start : start + BATCH]]
        by_id = {d["_id"]: d for d in reader.store.posts.by_ids(ids, POST_PROJECTION)}
        for pid in ids:
            if pid in by_id:
                yield by_id[pid]
        done += len(ids)
        if progress:
            progress(min(done, total), total)


def iter_frames(
    reader: Reader, filters: Filters, batch: int = BATCH, progress: Progress | None = None
) -> Iterator[pl.DataFrame]:
    """Matching posts as frames of at most ``batch`` rows (schema :data:`FRAME_SCHEMA`)."""
    buf: list[dict[str, Any]] = []
    for doc in iter_docs(reader, filters, progress):
        buf.append(post_row(doc))
        if len(buf) >= batch:
            yield pl.DataFrame(buf, schema=FRAME_SCHEMA)
            buf = []
    if buf:
        yield pl.DataFrame(buf, schema=FRAME_SCHEMA)


@dataclass(frozen=True)
class ExportResult:
    fmt: str
    path: Path
    rows: int


def _csv_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat()
    return v


def write_csv(frames: Iterator[pl.DataFrame], out: io.TextIOBase | Any) -> int:
    """Write frames as one CSV (header once, free text neutralised); returns rows."""
    writer = csv.writer(out)
    writer.writerow(list(FRAME_SCHEMA))
    rows = 0
    for df in frames:
        for r in df.iter_rows(named=True):
            writer.writerow(
                [neutralise_formula(r[c]) if c in FREE_TEXT else _csv_value(r[c]) for c in FRAME_SCHEMA]
            )
            rows += 1
    return rows


def write_parquet(frames: Iterator[pl.DataFrame], path: Path | BinaryIO) -> int:
    """Write frames as one Parquet file, one row group per batch; returns rows."""
    import pyarrow.parquet as pq

    rows = 0
    writer = None
    try:
        for df in frames:
            table = df.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
            rows += df.height
        if writer is None:  # no rows: still a valid file with the columns
            table = pl.DataFrame(schema=FRAME_SCHEMA).to_arrow()
            writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return rows


def write_xlsx(frames: Iterator[pl.DataFrame], path: Path | BinaryIO) -> int:
    """Write frames to one sheet in constant memory; strings are never formulas."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "remove_timezone": True,
        },
    )
    ws = wb.add_worksheet("posts")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for c, name in enumerate(FRAME_SCHEMA):
        ws.write_string(0, c, name)
    rows = 0
    try:
        for df in frames:
            for r in df.iter_rows():
                rows += 1
                if rows > XLSX_MAX_ROWS:
                    raise ExportError(
                        f"the selection has more than {XLSX_MAX_ROWS:,} posts, Excel's limit: use CSV or Parquet"
                    )
                for c, v in enumerate(r):
                    if v is None:
                        continue
                    if isinstance(v, datetime):
                        ws.write_datetime(rows, c, v.astimezone(UTC).replace(tzinfo=None), date_fmt)
                    elif isinstance(v, str):
                        ws.write_string(rows, c, v)
                    else:
                        ws.write_number(rows, c, v)
    finally:
        wb.close()
    return rows


def export(
    reader: Reader, filters: Filters, fmt: str, path: Path, progress: Progress | None = None
) -> ExportResult:
    """Write what ``filters`` select to ``path`` in ``fmt`` (csv, parquet, xlsx)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    frames = iter_frames(reader, filters, progress=progress)
    path = Path(path)
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            rows = write_csv(frames, fh)
    elif fmt == "parquet":
        rows = write_parquet(frames, path)
    else:
        rows = write_xlsx(frames, path)
    return ExportResult(fmt, path, rows)


def export_frame(df: pl.DataFrame, fmt: str) -> bytes:
    """A small, already loaded selection (a map area) in ``fmt``, as bytes."""
    if fmt == "csv":
        buf = io.StringIO()
        write_csv(iter([df]), buf)
        return buf.getvalue().encode("utf-8")
    out = io.BytesIO()
    if fmt == "parquet":
        write_parquet(iter([df]), out)
    elif fmt == "xlsx":
        write_xlsx(iter([df]), out)
    else:
        raise ExportError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    return out.getvalue()


# --------------------------------------------------------------------------- the PDF report


@dataclass
class ReportData:
    """What the PDF shows: exact figures of the selection, from the search index."""

    title: str
    filters: Filters
    generated: datetime
    posts: int = 0
    sources: Counter[str] | None = None
    hourly: Counter[datetime] | None = None
    places: Counter[str] | None = None
    score_means: dict[str, float | None] | None = None
    scored: int = 0
    """Posts carrying a threat score."""
    samples: list[dict[str, Any]] | None = None
    anomalies: list[dict[str, Any]] | None = None

    def mean(self, name: str) -> float | None:
        """Mean of one score over the selected posts that carry it."""
        return (self.score_means or {}).get(name)


SAMPLE_POSTS = 10
REPORT_TOP = 1_000
"""Sources and places listed in the report's counters (the PDF prints the top ten)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def report_data(
    reader: Reader, filters: Filters, title: str = "Vigil report", progress: Progress | None = None
) -> ReportData:
    """KPIs, timeline, places, samples and anomalies of exactly the selected posts."""
    searcher, query = reader.select(filters)
    n = aggregate.count(searcher, query)
    stats = aggregate.score_stats(searcher, query)
    hourly = Counter({t: c for t, c in aggregate.histogram(searcher, query, "1h") if c}) if n else Counter()
    newest = aggregate.newest_ids(searcher, query, limit=SAMPLE_POSTS) if n else []
    by_id = {d["_id"]: d for d in reader.store.posts.by_ids(newest, POST_PROJECTION)} if newest else {}
    data = ReportData(
        title=title,
        filters=filters,
        generated=datetime.now(UTC),
        posts=n,
        sources=Counter(dict(aggregate.top_values(searcher, query, "source", REPORT_TOP))),
        hourly=hourly,
        places=Counter(dict(aggregate.top_values(searcher, query, "places", REPORT_TOP))),
        score_means={k: v.get("avg") if v.get("count") else None for k, v in stats.items()},
        scored=int(stats["threat"].get("count") or 0),
        samples=[by_id[i] for i in newest if i in by_id],
    )
    if progress:
        progress(n, n)
    since = filters.since or EPOCH
    until = filters.until or FAR_FUTURE
    anomalies = reader.store.anomalies.find([], since=since, until=until, limit=200)
    data.anomalies = sorted(anomalies, key=lambda a: -(a.get("severity") or 0))[:10]
    return data


def timeline_png(hourly: Counter[datetime], width: int = 700, height: int = 220) -> bytes | None:
    """The posts-per-hour chart as PNG (altair rendered offline by vl-convert)."""
    if not hourly:
        return None
    import altair as alt
    import vl_convert as vlc

    df = pl.DataFrame(
        {"hour": list(hourly), "n": list(hourly.values())},
        schema={"hour": pl.Datetime("us", "UTC"), "n": pl.Int64},
    ).sort("hour")
    chart = (
        alt.Chart(df.to_pandas())
        .mark_bar(color="#4c78a8")
        .encode(x=alt.X("hour:T", title=None), y=alt.Y("n:Q", title="posts per hour"))
        .properties(width=width, height=height)
    )
    return vlc.vegalite_to_png(chart.to_json(), scale=2)


def _font_dir() -> Path | None:
    import matplotlib

    d = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
    return d if (d / "DejaVuSans.ttf").is_file() else None


class _PdfPage:
    """An FPDF document with the report's font and the three shapes it draws (heading,
    line, table), so each section of :func:`render_pdf` is a few lines."""

    def __init__(self) -> None:
        from fpdf import FPDF

        self.pdf = FPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.fonts = _font_dir()
        self.family = "Helvetica"
        if self.fonts is not None:
            self.pdf.add_font("DejaVu", "", str(self.fonts / "DejaVuSans.ttf"))
            self.pdf.add_font("DejaVu", "B", str(self.fonts / "DejaVuSans-Bold.ttf"))
            self.family = "DejaVu"

    def text(self, s: Any) -> str:
        """``s`` as the font can print it (Latin-1 with ``?`` when DejaVu is missing)."""
        s = "" if s is None else str(s)
        return s if self.fonts is not None else s.encode("latin-1", "replace").decode("latin-1")

    def line(self, s: str, height: float = 6, multi: bool = False) -> None:
        from fpdf.enums import XPos, YPos

        write = self.pdf.multi_cell if multi else self.pdf.cell
        write(0, height, self.text(s), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(self, s: str) -> None:
        self.pdf.ln(3)
        self.pdf.set_font(self.family, "B", 13)
        self.line(s, 8)
        self.pdf.set_font(self.family, "", 10)

    def table(self, headers: list[str], rows: list[list[Any]], widths: list[int]) -> None:
        pdf = self.pdf
        pdf.set_font(self.family, "B", 9)
        for h, w in zip(headers, widths, strict=True):
            pdf.cell(w, 6, self.text(h), border=1)
        pdf.ln()
        pdf.set_font(self.family, "", 9)
        for r in rows:
            for v, w in zip(r, widths, strict=True):
                s = self.text(v)
                while s and pdf.get_string_width(s) > w - 2:
                    s = s[:-2]
                pdf.cell(w, 6, s, border=1)
            pdf.ln()


def _pdf_title(page: _PdfPage, data: ReportData) -> None:
    page.pdf.add_page()
    page.pdf.set_font(page.family, "B", 18)
    page.line(data.title, 10)
    page.pdf.set_font(page.family, "", 9)
    page.line(f"Generated {data.generated:%Y-%m-%d %H:%M} UTC by Vigil", 5)
    page.heading("Filters")
    described = data.filters.describe() or [("filters", "none (all posts)")]
    for label, value in described:
        page.line(f"{label}: {value}", 5, multi=True)


def _pdf_figures(page: _PdfPage, data: ReportData) -> None:
    page.heading("Key figures")
    kpis = [
        ("Posts selected", f"{data.posts:,}"),
        ("Sources", f"{len(data.sources or {}):,}"),
        ("Scored posts", f"{data.scored:,}"),
    ]
    for name in ("threat", "hate", "toxicity", "sentiment"):
        m = data.mean(name)
        kpis.append((f"Mean {name}", "-" if m is None else f"{m:.3f}"))
    page.table(["figure", "value"], [list(k) for k in kpis], [70, 50])

    png = timeline_png(data.hourly or Counter())
    page.heading("Posts per hour")
    if png:
        page.pdf.image(io.BytesIO(png), w=180)
    else:
        page.line("No posts in the selection.")

    page.heading("Top places")
    top_places = (data.places or Counter()).most_common(10)
    if top_places:
        page.table(["place", "posts"], [[p, f"{n:,}"] for p, n in top_places], [120, 30])
    else:
        page.line("No places named in the selected posts.")


def _pdf_anomalies(page: _PdfPage, data: ReportData) -> None:
    page.heading("Top anomalies in the period")
    if not data.anomalies:
        page.line("No anomalies overlap this period.")
        return
    from pipelines.read.triage import series_of

    rows = [
        [
            series_of(a),
            f"{a['start']:%Y-%m-%d %H:%M}" if isinstance(a.get("start"), datetime) else "",
            f"{float(a.get('severity') or 0):.2f}",
            f"{float(a.get('observed') or 0):.0f} vs {float(a.get('expected') or 0):.0f}",
            a.get("status") or "open",
        ]
        for a in data.anomalies
    ]
    page.table(
        ["series", "start (UTC)", "severity", "observed vs expected", "status"],
        rows,
        [55, 35, 20, 45, 30],
    )


def _pdf_samples(page: _PdfPage, data: ReportData) -> None:
    page.heading("Sample posts (newest)")
    for d in data.samples or []:
        page.pdf.set_font(page.family, "B", 9)
        page.line(f"{d.get('source')} · {d['ts']:%Y-%m-%d %H:%M} UTC", 5, multi=True)
        page.pdf.set_font(page.family, "", 9)
        page.line((d.get("text") or "")[:600], 5, multi=True)
        page.pdf.ln(1)


def render_pdf(data: ReportData) -> bytes:
    """The report as PDF bytes (DejaVu Sans, so any script the posts use prints)."""
    page = _PdfPage()
    _pdf_title(page, data)
    _pdf_figures(page, data)
    _pdf_anomalies(page, data)
    _pdf_samples(page, data)
    return bytes(page.pdf.output())


def pdf_report(
    reader: Reader, filters: Filters, title: str = "Vigil report", progress: Progress | None = None
) -> tuple[bytes, ReportData]:
    """The PDF report of ``filters`` and the figures it shows."""
    data = report_data(reader, filters, title, progress)
    return render_pdf(data), data
