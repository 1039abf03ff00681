"""The action half of the role matrix, in AppTest through the router: every action of
every page (acknowledge an anomaly, add a source, export, save a watchlist, save an alert
rule; the Admin page's actions are in test_roles.py) x admin, analyst, viewer:

- a role holding the permission is offered the control, uses it, and the effect is in the
  store (with its audit event);
- a role without it is not offered a working control, and nothing changes;
- a role that *was* allowed when the page was drawn but was demoted before the click is
  refused on the server at click time: nothing changes, ``permission.denied`` is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.alerts.models import Channel
from pipelines.auth import ROLES, can
from pipelines.store import Store
from tests.ui.conftest import APP, login
from tests.ui.seed import anomaly_doc, seed


def _buttons(at: AppTest, label: str) -> list:
    return [b for b in at.button if b.label == label]


def _offered(at: AppTest, label: str) -> bool:
    return any(not b.disabled for b in _buttons(at, label))


@dataclass(frozen=True)
class Action:
    page: str
    permission: str
    label: str
    setup: Callable[[Store], None]
    prepare: Callable[[AppTest], None]
    do: Callable[[AppTest], None]
    done: Callable[[Store], bool]
    audit: str


def _ack_setup(store: Store) -> None:
    seed(store, 30)
    start = anomaly_doc(0)["start"]
    ctx = [
        {
            "time": start + timedelta(hours=h),
            "value": 3.0 + h,
            "expected": 2.0,
            "lo": 1.0,
            "hi": 3.0,
            "mp": 0.1,
        }
        for h in range(6)
    ]  # stored context, as the detector writes it (the page then needs no recomputation)
    store.db.anomalies.insert_many([anomaly_doc(0, context=ctx), anomaly_doc(1)])


def _pick_anomaly(at: AppTest) -> None:
    at.selectbox(key="anom_pick").set_value("an0").run()


def _add_source(at: AppTest) -> None:
    next(t for t in at.text_input if t.label == "Name").input("hn-new")
    next(s for s in at.selectbox if s.label == "Kind").set_value("hackernews")
    _buttons(at, "Add source")[0].click()


def _new_watchlist(at: AppTest) -> None:
    at.text_input(key="wl_name_new").set_value("Acme recalls").run()
    at.text_input(key="wl_query_new").set_value("acme").run()


def _alerts_setup(store: Store) -> None:
    store.alerts.put_config(
        "alert_channels",
        Channel.make(name="hook", type="webhook", url="http://127.0.0.1:9/x", secret_env="K").to_doc(),
    )


def _rule_form(at: AppTest) -> None:
    at.text_input(key="al_r_name").set_value("Any spike")
    at.multiselect(key="al_r_channels").set_value(["hook"])


def _click(label: str) -> Callable[[AppTest], None]:
    return lambda at: _buttons(at, label)[0].click()


def _nothing(_: AppTest) -> None:
    return None


ACTIONS = {
    "acknowledge anomaly": Action(
        "anomalies",
        "anomalies.ack",
        "Acknowledge",
        _ack_setup,
        _pick_anomaly,
        _click("Acknowledge"),
        lambda s: s.db.anomalies.find_one({"_id": "an0"})["status"] == "acknowledged",
        "anomaly.acknowledged",
    ),
    "add source": Action(
        "sources",
        "sources.edit",
        "Add source",
        lambda s: seed(s, 12),
        _nothing,
        _add_source,
        lambda s: s.sources.get("hn-new") is not None,
        "source.add",
    ),
    "export": Action(
        "export",
        "export",
        "Prepare the file",
        lambda s: seed(s, 30),
        _nothing,
        _click("Prepare the file"),
        lambda s: bool(s.audit.events(5, action="export")),
        "export",
    ),
    "save watchlist": Action(
        "watchlists",
        "watchlists.edit",
        "Save",
        lambda s: seed(s, 12),
        _new_watchlist,
        _click("Save"),
        lambda s: s.alerts.get_config("watchlists", "acme-recalls") is not None,
        "watchlist.save",
    ),
    "save alert rule": Action(
        "alerts",
        "alerts.edit",
        "Save rule",
        _alerts_setup,
        _rule_form,
        _click("Save rule"),
        lambda s: s.alerts.get_config("alert_rules", "any-spike") is not None,
        "alert.rule.save",
    ),
}


def _open(action: Action, store: Store, role: str) -> AppTest:
    action.setup(store)
    at = AppTest.from_file(APP, default_timeout=90)
    login(at, store, role)
    at.switch_page(f"pages/{action.page}.py").run()
    assert not at.exception, at.exception
    return at


def _not_allowed(at: AppTest) -> list[str]:
    return [e.value for e in at.error if e.value.startswith("Not allowed")]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_action_matrix(name: str, role: str, app_store: Store):
    action = ACTIONS[name]
    at = _open(action, app_store, role)
    page_refused = bool(_not_allowed(at))
    if page_refused:  # the whole page is refused (Export for a viewer)
        assert not can(role, action.permission)
        assert not action.done(app_store)
        return
    if can(role, action.permission):
        action.prepare(at)
        assert _offered(at, action.label), f"{role} should be offered {action.label!r}"
        action.do(at)
        at.run()
        assert not at.exception, at.exception
        assert not _not_allowed(at)
        assert action.done(app_store), f"{name} did not happen for {role}"
        event = app_store.audit.events(1, action=action.audit)
        assert event and event[0]["actor"] == f"test-{role}"
    else:
        if action.page == "anomalies":
            action.prepare(at)  # the drill-down shows the verdict buttons, disabled
            assert _buttons(at, action.label)
        assert not _offered(at, action.label), f"{role} is offered {action.label!r}"
        assert not action.done(app_store)


def _demotion(permission: str) -> tuple[str, str]:
    """(the lowest role allowed, the highest role refused)."""
    allowed = [r for r in ROLES if can(r, permission)]
    refused = [r for r in ROLES if not can(r, permission)]
    return allowed[-1], refused[0]


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_action_refused_after_demotion(name: str, app_store: Store):
    action = ACTIONS[name]
    allowed, refused = _demotion(action.permission)
    at = _open(action, app_store, allowed)
    action.prepare(at)
    assert _offered(at, action.label)
    app_store.users.update(f"test-{allowed}", {"role": refused})  # demoted while the page is open
    action.do(at)
    at.run()
    assert not at.exception, at.exception
    assert not action.done(app_store), f"{name} happened after the demotion to {refused}"
    # Refused on the server: by the action's check, the page's check, or the control is gone.
    denied = app_store.audit.events(5, action="permission.denied")
    if _not_allowed(at):
        assert denied and denied[0]["actor"] == f"test-{allowed}"
        assert denied[0]["details"]["role"] == refused
    else:
        assert not _offered(at, action.label)


def test_map_downloads_are_audited_with_their_filters(app_store: Store):
    seed(app_store)
    at = AppTest.from_file(APP, default_timeout=90)
    login(at, app_store, "analyst")
    at.switch_page("pages/map.py").run()
    assert not at.exception, at.exception
    at.download_button(key="map_dl_csv").click().run()
    assert not at.exception, at.exception
    (event,) = app_store.audit.events(5, action="export")
    assert (event["actor"], event["target"]) == ("test-analyst", "map-csv")
    assert event["details"]["rows"] > 0 and "filters" in event["details"]
    # A viewer gets no download button at all.
    viewer = AppTest.from_file(APP, default_timeout=90)
    login(viewer, app_store, "viewer")
    viewer.switch_page("pages/map.py").run()
    assert not viewer.download_button
