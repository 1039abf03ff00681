"""Map: where the selected posts are, coloured by threat or sentiment; select an area."""

from __future__ import annotations

import dataclasses
import functools

import polars as pl
import streamlit as st
from streamlit_folium import st_folium

from components import auth, data
from components.filters import render_active, render_sidebar, set_area
from components.geomap import asset_base, build_map
from components.tables import render_posts_table
from pipelines import areas, reports
from pipelines.config import get_settings
from pipelines.filters import GeoArea
from pipelines.queries import MAP_POINTS_LIMIT

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

result = data.map_points(filters)
points = result.points
st.caption(
    f"{points.height:,} located posts (the newest {MAP_POINTS_LIMIT:,} at most"
    + (
        ""
        if result.reach.complete or result.reach.since is None
        else f", back to {result.reach.since:%Y-%m-%d %H:%M} UTC"
    )
    + "). A post is placed at its own coordinates, else at the first place its text names."
)
if points.is_empty():
    st.info("No located posts match these filters. Places come from scoring: is the scorer running?")

returned = ["all_drawings", "last_active_drawing"] + (["bounds"] if mode.startswith("visible") else [])
tiles = get_settings().vigil_map_tiles
try:
    fmap = build_map(points, colour_by, heat, area=filters.area, tiles=tiles, base=asset_base())
except ValueError as exc:  # a malformed VIGIL_MAP_TILES: the offline basemap still works
    st.warning(f"Map tiles not used: {exc}")
    fmap = build_map(points, colour_by, heat, area=filters.area, base=asset_base())
state = st_folium(
    fmap,
    key="vigil_map",
    height=520,
    use_container_width=True,
    returned_objects=returned,
)


def _use_area(area: GeoArea) -> None:
    """Make the drawn shape the sidebar's area filter and show all its points."""
    set_area(area)
    st.session_state["map_mode"] = "all points"


selection = points
label = "the area filter" if filters.area is not None else "all points"
if mode.startswith("visible") and state and state.get("bounds"):
    selection = areas.in_bounds(points, state["bounds"])
    label = "the visible area"
elif mode == "drawn area":
    drawing = (state or {}).get("last_active_drawing")
    area = areas.area_from_geojson(drawing) if drawing else None
    if area is None:
        st.info("Draw a polygon, rectangle or circle with the tools on the left of the map.")
        selection = points.clear()
        label = "the drawn area"
    else:
        selection = areas.in_area(points, area)
        label = "the drawn area"
        # The drawn shape as the shared sidebar filter: every page (Explore, Export, the
        # counts) then selects the posts whose map point lies in it, beyond these points.
        st.button(
            "Filter every page to this area",
            key="map_area_filter",
            icon=":material/filter_alt:",
            on_click=_use_area,
            args=(dataclasses.replace(area, by_place=True),),
            disabled=filters.area == dataclasses.replace(area, by_place=True),
        )

if points.is_empty():
    st.stop()
st.subheader(f"{selection.height:,} posts in {label}")
ids = tuple(selection["id"].to_list())
posts = data.posts_by_ids(ids) if ids else pl.DataFrame()
if posts.is_empty():
    st.stop()
render_posts_table(
    posts.select("ts", "source", "author", "title", "text", "url", "threat", "sentiment", "places")
)
st.caption("Download exactly these posts:")
cols = st.columns(3)
for col, fmt in zip(cols, reports.FORMATS, strict=True):
    if not auth.can("export"):
        st.caption("Your role cannot export posts.")
        break
    col.download_button(
        f"{fmt.upper()}",
        # Built when clicked, not on every rerun: three files of 3,000 posts cost ~1 s a run.
        data=functools.partial(reports.export_frame, posts, fmt),
        file_name=f"vigil-map-selection.{fmt}",
        key=f"map_dl_{fmt}",
        on_click=auth.record,  # exports are audited with their filters (issue 8)
        args=(
            "export",
            f"map-{fmt}",
            {"filters": dict(filters.describe()), "area": label, "rows": posts.height},
        ),
    )
