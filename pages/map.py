"""Map: where the selected posts are (all of them: points, or exact clusters when many),
coloured by threat or sentiment; select an area (exact counts under the map)."""

from __future__ import annotations

import dataclasses
import functools

import streamlit as st
from streamlit_folium import st_folium

from components import auth, data
from components.filters import render_active, render_sidebar, set_area
from components.geomap import asset_base, build_map
from components.tables import render_posts_table
from pipelines.core.config import get_settings
from pipelines.read import mapview, reports
from pipelines.read.mapview import MAP_POINTS_LIMIT
from pipelines.read.queries import Reader
from pipelines.search import areas
from pipelines.search.filters import Filters, GeoArea

auth.require_page("read")
st.title("Map")
filters = render_sidebar()
render_active(filters)

c1, c2, c3 = st.columns([1, 1, 2])
colour_by = c1.radio("Colour by", ["threat", "sentiment"], horizontal=True, key="map_colour")
heat = c2.toggle("Heat layer", value=True, key="map_heat")
mode = c3.radio(
    "Table shows",
    ["all points", "visible area (zoom into a cluster)", "drawn area"],
    horizontal=True,
    key="map_mode",
)

reader = data.require_index()
view = data.map_view(filters)
points = view.points
if view.clusters.is_empty():
    st.caption(
        f"{view.located:,} located posts, every one drawn. "
        "A post is placed at its own coordinates, else at the first place its text names."
    )
else:
    st.caption(
        f"{view.located:,} located posts, drawn as {view.clusters.height:,} clusters of "
        f"{view.cell_deg:g}° cells (each at the mean position of its posts; counts exact). "
        f"Narrow the filters to {MAP_POINTS_LIMIT:,} or fewer to see each post."
    )
if view.located == 0:
    st.info("No located posts match these filters. Places come from scoring: is the scorer running?")

returned = ["all_drawings", "last_active_drawing"] + (["bounds"] if mode.startswith("visible") else [])
tiles = get_settings().vigil_map_tiles
kw = {"area": filters.area, "base": asset_base(), "clusters": view.clusters}
try:
    fmap = build_map(points, colour_by, heat, tiles=tiles, **kw)
except ValueError as exc:  # a malformed VIGIL_MAP_TILES: the offline basemap still works
    st.warning(f"Map tiles not used: {exc}")
    fmap = build_map(points, colour_by, heat, **kw)
state = st_folium(
    fmap,
    key="vigil_map",
    height=520,
    use_container_width=True,
    returned_objects=returned,
    # build_map's map is rendered by st_folium itself; render=True would render the whole
    # page around it first (the same map twice, ~half of st_folium's time; same output).
    render=False,
)


def _use_area(area: GeoArea) -> None:
    """Make the drawn shape the sidebar's area filter and show all its points."""
    set_area(area)
    st.session_state["map_mode"] = "all points"


within: GeoArea | None = None  # the visible bounds or a drawn shape, on top of the filters
label = "the area filter" if filters.area is not None else "all located posts"
if mode.startswith("visible") and state and state.get("bounds"):
    within = mapview.bounds_area(state["bounds"])
    label = "the visible area"
elif mode == "drawn area":
    drawing = (state or {}).get("last_active_drawing")
    area = areas.area_from_geojson(drawing) if drawing else None
    label = "the drawn area"
    if area is None:
        st.info("Draw a polygon, rectangle or circle with the tools on the left of the map.")
        st.stop()
    within = dataclasses.replace(area, by_place=True)
    # The drawn shape as the shared sidebar filter: every page (Explore, Export, the
    # counts) then selects the posts whose map point lies in it.
    st.button(
        "Filter every page to this area",
        key="map_area_filter",
        icon=":material/filter_alt:",
        on_click=_use_area,
        args=(dataclasses.replace(area, by_place=True),),
        disabled=filters.area == dataclasses.replace(area, by_place=True),
    )

if view.located == 0:
    st.stop()


@st.fragment
def render_table(reader: Reader, filters: Filters, within: GeoArea | None, label: str) -> None:
    """The located posts of the selection, one page at a time (newest first), and their downloads.

    A fragment: turning a page reruns this part only, not the map. Why pages: the table of
    the 1,000 newest posts was 204 KB of Arrow data converted, sent and drawn on every run
    of the Map (docs/search.md); a page is 50 rows, and the count above it stays exact.
    """
    selection = (filters, within)
    if st.session_state.get("map_page_of") != selection:
        st.session_state["map_page"] = 1  # a new selection starts at its newest posts
    st.session_state["map_page_of"] = selection
    page_no = int(st.session_state.get("map_page", 1)) - 1
    n, posts = data.located_posts(filters, mapview.TABLE_PAGE, within, page_no * mapview.TABLE_PAGE)
    pages = mapview.table_pages(n, mapview.TABLE_PAGE, mapview.TABLE_PAGES)
    if page_no >= pages:  # the selection shrank under the page shown: show its last page
        page_no = pages - 1
        st.session_state["map_page"] = pages
        n, posts = data.located_posts(filters, mapview.TABLE_PAGE, within, page_no * mapview.TABLE_PAGE)
    st.subheader(f"{n:,} posts in {label}")
    if posts.is_empty():
        return
    p1, p2 = st.columns([1, 3], vertical_alignment="bottom")
    p1.number_input("Page", min_value=1, max_value=pages, step=1, key="map_page")
    first = page_no * mapview.TABLE_PAGE
    browsable = mapview.TABLE_PAGE * mapview.TABLE_PAGES
    p2.caption(
        f"Posts {first + 1:,} to {first + posts.height:,} of {n:,}, newest first (page {page_no + 1:,} of "
        f"{pages:,}"
        + (f"; the newest {browsable:,} can be browsed here, Export gives all)." if n > browsable else ").")
    )
    render_posts_table(
        posts.select("ts", "source", "author", "title", "text", "url", "threat", "sentiment", "places")
    )
    rows = min(n, mapview.TABLE_ROWS)
    st.caption(
        f"Download the newest {rows:,} posts of this selection"
        + (f" (Export gives all {n:,} with these filters):" if n > rows else ":")
    )
    may_export = auth.can("export")  # once: each check re-reads the session and the user
    for col, fmt in zip(st.columns(3), reports.FORMATS, strict=True):
        if not may_export:
            st.caption("Your role cannot export posts.")
            break
        col.download_button(
            f"{fmt.upper()}",
            # Read and built when clicked, not on every rerun (1,000 posts in three formats).
            data=functools.partial(_export, reader, filters, within, fmt),
            file_name=f"vigil-map-selection.{fmt}",
            key=f"map_dl_{fmt}",
            on_click=auth.record,  # exports are audited with their filters (issue 8)
            args=("export", f"map-{fmt}", {"filters": dict(filters.describe()), "area": label, "rows": rows}),
        )


def _export(reader: Reader, filters: Filters, within: GeoArea | None, fmt: str) -> bytes:
    """The newest posts of the selection as a file (runs when a download button is clicked)."""
    return reports.export_frame(mapview.located_posts(reader, filters, mapview.TABLE_ROWS, within)[1], fmt)


render_table(reader, filters, within, label)
