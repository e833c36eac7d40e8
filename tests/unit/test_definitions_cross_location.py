"""The asset graph across locations: a location that only declares another location's
asset (an `AssetSpec` upstream) never takes it over, whichever snapshot comes last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conflux.events import AssetDepSnapshot, AssetSnapshot, DefinitionsPublished, LocationSnapshot
from conflux.projections.folds import DefinitionsProjection

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _published(location: str, *assets: AssetSnapshot, minutes: int) -> DefinitionsPublished:
    return DefinitionsPublished(
        time=T0 + timedelta(minutes=minutes),
        location=location,
        snapshot_id=f"{location}-{minutes}",
        snapshot=LocationSnapshot(location=location, assets=assets),
    )


SHOP = AssetSnapshot(key="orders", node="orders")
DECLARED = AssetSnapshot(key="orders", node="orders", is_external=True)
REPORT = AssetSnapshot(
    key="order_report", node="order_report", deps=(AssetDepSnapshot(asset_key="orders"),)
)


@pytest.mark.parametrize("shop_first", [True, False])
def test_the_defining_location_keeps_its_asset(shop_first: bool) -> None:
    graph = DefinitionsProjection()
    shop = _published("shop", SHOP, minutes=1 if shop_first else 2)
    reports = _published("reports", DECLARED, REPORT, minutes=2 if shop_first else 1)
    for event in (shop, reports) if shop_first else (reports, shop):
        graph.apply(event)
    assert graph.location_of("orders") == "shop"
    assert not graph.assets["orders"].is_external
    assert graph.location_of("order_report") == "reports"
    # a reload of the declaring location changes nothing about the defined asset
    graph.apply(_published("reports", DECLARED, REPORT, minutes=3))
    assert graph.location_of("orders") == "shop" and not graph.assets["orders"].is_external
