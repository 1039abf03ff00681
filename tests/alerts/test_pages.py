"""AppTests of the Watchlists and Alerts pages: the preview count equals a direct query, saving
works for those allowed, sharing is respected, "send test" reaches a real receiver."""

from __future__ import annotations

from datetime import timedelta

from streamlit.testing.v1 import AppTest

from pipelines.alerts.models import Channel, Rule
from pipelines.read import queries
from pipelines.search.watchlists import Watchlist
from pipelines.store import Store
from tests.alerts.conftest import T0, make_post
from tests.ui.conftest import APP, app_store, app_store_anonymous, login  # noqa: F401 - fixtures

PREVIEW = "Matching posts in the last 7 days of data"


def _page(name: str, store: Store | None = None, role: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    if role is not None:
        assert store is not None
        login(at, store, role)
    at.switch_page(f"pages/{name}.py")
    return at.run()


def _seed(store: Store) -> None:
    texts = ["flood in Calgary", "flood drill at school", "evacuation ordered", "sunny day", "acme recall"]
    docs = [
        make_post(i, f"{texts[i % 5]} {i}", ts=T0 - timedelta(hours=3 * i), source=("rss", "reddit")[i % 2])
        for i in range(80)  # 10 days of posts: the preview window keeps the last 7
    ]
    store.posts.upsert(docs)


def _save(store: Store, **values) -> Watchlist:
    wl = Watchlist.make(**values)
    doc = wl.to_doc()
    doc.pop("created"), doc.pop("updated")
    store.alerts.put_config("watchlists", doc)
    return wl


def _direct_count(store: Store, wl: Watchlist) -> int:
    until = queries.data_clock(store).end
    return store.db.posts.count_documents(wl.to_mongo(until - timedelta(days=7), until))


def _plain(markdown: str) -> str:
    """Message text without the escapes that keep it literal in Markdown."""
    return markdown.replace("\\", "")


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_preview_count_equals_a_direct_query(app_store: Store):  # noqa: F811
    _seed(app_store)
    flood = _save(
        app_store, name="Flood", query="flood OR evacuation", exclude="drill", sources=["rss", "reddit"]
    )
    at = _page("watchlists")
    assert not at.exception, at.exception
    at.selectbox(key="wl_pick").set_value("flood").run()
    expected = _direct_count(app_store, flood)
    assert 0 < expected < app_store.db.posts.count_documents(flood.to_mongo())  # the window bounds it
    assert _metric(at, PREVIEW) == f"{expected:,}"
    # Editing the query updates the preview live, still equal to the direct query.
    at.text_input(key="wl_query_flood").set_value("flood").run()
    edited = Watchlist.make(
        name="Flood", id="flood", query="flood", exclude="drill", sources=["rss", "reddit"]
    )
    assert _metric(at, PREVIEW) == f"{_direct_count(app_store, edited):,}" != f"{expected:,}"


def test_create_a_watchlist_from_the_page(app_store: Store):  # noqa: F811
    _seed(app_store)
    at = _page("watchlists")
    at.text_input(key="wl_name_new").set_value("Acme recalls").run()
    at.text_input(key="wl_query_new").set_value("acme OR (flood AND NOT").run()
    assert any("missing ')'" in _plain(e.value) or "ends where" in _plain(e.value) for e in at.error)
    at.text_input(key="wl_query_new").set_value("acme").run()
    assert _metric(at, PREVIEW) == f"{_direct_count(app_store, Watchlist.make(name='x', query='acme')):,}"
    at.button(key="wl_save_new").click().run()
    assert not at.exception, at.exception
    doc = app_store.alerts.get_config("watchlists", "acme-recalls")
    assert doc["query"] == "acme" and doc["owner"] == "test-admin"
    assert any("Saved 'acme-recalls'" in _plain(s.value) for s in at.success)
    assert app_store.db.audit.count_documents({"action": "watchlist.save", "target": "acme-recalls"}) == 1


def test_viewers_see_only_what_is_shared_and_cannot_save(app_store: Store):  # noqa: F811
    _seed(app_store)
    _save(app_store, name="Team flood", query="flood")
    _save(app_store, name="Private", query="acme", owner="ann")
    _save(app_store, name="Shared", query="sunny", owner="ann", shared_roles=["viewer"])
    at = _page("watchlists", app_store, "viewer")
    assert not at.exception, at.exception
    assert set(at.selectbox(key="wl_pick").options) == {"+ New watchlist", "Team flood", "Shared"}
    at.selectbox(key="wl_pick").set_value("team-flood").run()
    assert at.text_input(key="wl_query_team-flood").disabled
    assert not [b for b in at.button if b.key and b.key.startswith("wl_save")]
    assert _metric(at, PREVIEW)  # the preview is still shown


def test_send_test_reaches_the_receiver_and_is_logged(app_store: Store, http_receiver, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TEST_HOOK_SECRET", "s")
    app_store.alerts.put_config(
        "alert_channels",
        Channel.make(
            name="hook", type="webhook", url=http_receiver.url("/hook"), secret_env="TEST_HOOK_SECRET"
        ).to_doc(),
    )
    at = _page("alerts")
    assert not at.exception, at.exception
    at.button(key="al_test_hook").click().run()
    assert not at.exception, at.exception
    (req,) = http_receiver.received("/hook")
    assert req.json()["alert"]["title"] == "Vigil test alert for channel hook"
    assert any("Test sent through hook: webhook: HTTP 200" in _plain(s.value) for s in at.success)
    log = at.dataframe[0].value
    assert list(log["channel"]) == ["hook"] and list(log["kind"]) == ["test"]
    assert _metric(at, "Sent") == "1"


def test_rule_form_saves_a_validated_rule(app_store: Store):  # noqa: F811
    _save(app_store, name="Flood", query="flood")
    app_store.alerts.put_config(
        "alert_channels",
        Channel.make(name="hook", type="webhook", url="http://127.0.0.1:9/x", secret_env="K").to_doc(),
    )
    at = _page("alerts")
    at.text_input(key="al_r_name").set_value("Flood volume")
    at.selectbox(key="al_r_kind").set_value("volume")
    at.selectbox(key="al_r_watch").set_value("flood")
    at.multiselect(key="al_r_channels").set_value(["hook"])
    at.number_input(key="al_r_posts").set_value(25)
    at.checkbox(key="al_r_quiet").check()
    at.text_input(key="al_r_tz").set_value("Europe/Paris")
    at.button[[b.label for b in at.button].index("Save rule")].click().run()
    assert not at.exception, at.exception
    rule = Rule.from_doc(app_store.alerts.get_config("alert_rules", "flood-volume"))
    assert rule.kind == "volume" and rule.min_posts == 25 and rule.channels == ("hook",)
    assert rule.quiet is not None and rule.tz == "Europe/Paris"
    # A rule kind that needs a watchlist is refused with the reason, nothing saved.
    at.text_input(key="al_r_name").set_value("Bad")
    at.selectbox(key="al_r_watch").set_value("(any series)")
    at.button[[b.label for b in at.button].index("Save rule")].click().run()
    assert any("needs a watchlist" in _plain(e.value) for e in at.error)
    assert app_store.alerts.get_config("alert_rules", "bad") is None


def test_viewer_reads_history_but_cannot_test_or_edit(app_store: Store):  # noqa: F811
    app_store.alerts.put_config(
        "alert_channels",
        Channel.make(name="hook", type="webhook", url="http://127.0.0.1:9/x", secret_env="K").to_doc(),
    )
    at = _page("alerts", app_store, "viewer")
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.key == "al_test_hook"]
    assert any("Only analysts and admins edit rules." in c.value for c in at.caption)
