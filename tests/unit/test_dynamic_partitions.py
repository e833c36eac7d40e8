"""Dynamic partitions: key rules, the events, the SDK class, the fold, the planner, the
read side and the CLI's key reading. The CLI against a running system: tests/e2e."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import TYPE_CHECKING

import click
import pytest
from coordinator_builders import T0, graph_of, published, request, snap
from pydantic import ValidationError

from conflux import (
    AddDynamicPartitionsRequest,
    AssetExecutionContext,
    DailyPartitionsDefinition,
    DeleteDynamicPartitionsRequest,
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
    materialize,
)
from conflux.coordinator import plan_run
from conflux.events import (
    AssetMaterialized,
    DefinitionError,
    DynamicPartitionsAdded,
    DynamicPartitionsDeleted,
    DynamicPartitionsSnapshot,
    EventValidationError,
    InvalidPartitionKeyError,
    MultiPartitionsSnapshot,
    StaticPartitionsSnapshot,
    Topics,
    check_dynamic_partition_key,
    decode_event,
    encode_event,
)
from conflux.projections.api import ApiClient, NotFoundError
from conflux.projections.folds import DefinitionsProjection
from conflux.projections.projector import QueryApi, ReadModel
from conflux.sdk.partitions import partitions_from_snapshot

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CUSTOMERS = DynamicPartitionsSnapshot(name="customers")
REGIONS = StaticPartitionsSnapshot(keys=("eu", "us"))
BY_REGION = MultiPartitionsSnapshot(dimensions=(("customer", CUSTOMERS), ("region", REGIONS)))

_n = 0


def added(
    *keys: str, name: str = "customers", event_id: str | None = None
) -> DynamicPartitionsAdded:
    global _n
    _n += 1
    return DynamicPartitionsAdded(
        event_id=event_id or f"add-{_n}",
        time=T0 + timedelta(seconds=_n),
        partitions_def_name=name,
        partition_keys=keys,
    )


def deleted(
    *keys: str, name: str = "customers", event_id: str | None = None
) -> DynamicPartitionsDeleted:
    global _n
    _n += 1
    return DynamicPartitionsDeleted(
        event_id=event_id or f"del-{_n}",
        time=T0 + timedelta(seconds=_n),
        partitions_def_name=name,
        partition_keys=keys,
    )


# -- key rules and events ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "fix"),
    [
        ("", "give every key a name"),
        (" acme", "remove it ('acme')"),
        ("acme\t", "remove it ('acme')"),
        ("a|b", "joins the parts of multi-partition keys"),
        ("a,b", "separates keys"),
        ("a\x00b", "control character"),
    ],
)
def test_invalid_keys_are_refused_with_the_fix(key: str, fix: str) -> None:
    with pytest.raises(InvalidPartitionKeyError, match=fix.replace("(", r"\(").replace(")", r"\)")):
        check_dynamic_partition_key(key)
    with pytest.raises(ValidationError, match="dynamic partition key"):
        DynamicPartitionsAdded(partitions_def_name="customers", partition_keys=(key,))
    with pytest.raises(InvalidPartitionKeyError):
        DynamicPartitionsDefinition("customers").build_add_request([key])


def test_valid_keys_pass() -> None:
    for key in ("acme", "ACME Corp", "a-b_c.d/e", "ünïcödé", "2024-01-01"):
        check_dynamic_partition_key(key)


def test_events_need_a_name_and_a_key_and_round_trip() -> None:
    with pytest.raises(ValidationError):
        DynamicPartitionsAdded(partitions_def_name="customers", partition_keys=())
    with pytest.raises(ValidationError, match="name it like"):
        DynamicPartitionsDeleted(partitions_def_name=" customers", partition_keys=("a",))
    event = added("acme", "bolt")
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    ("name", "keys"), [(" customers", ["acme"]), ("customers", ["a|b"]), ("customers", [])]
)
def test_an_invalid_record_is_dead_lettered_not_raised(name: str, keys: list[str]) -> None:
    raw = encode_event(added("acme")).replace(b'"customers"', json.dumps(name).encode())
    raw = raw.replace(b'["acme"]', json.dumps(keys).encode())
    with pytest.raises(EventValidationError, match="partition"):
        decode_event(raw)


def test_events_go_to_the_definitions_topic_keyed_by_name() -> None:
    topics = Topics("t")
    assert topics.route(added("a")) == ("t.definitions", "customers")
    assert topics.route(deleted("a", name="vendors")) == ("t.definitions", "vendors")


# -- the SDK class ------------------------------------------------------------------------


def test_definition_is_its_name() -> None:
    customers = DynamicPartitionsDefinition(name="customers")
    assert customers.name == "customers" and not customers.is_bound
    assert customers == DynamicPartitionsDefinition("customers")
    assert customers == customers.with_keys(["a"])  # the keys are state, not definition
    assert hash(customers) == hash(customers.with_keys(["b"]))
    assert customers != DynamicPartitionsDefinition("vendors")
    assert repr(customers) == "DynamicPartitionsDefinition(name='customers')"
    assert customers.to_snapshot() == CUSTOMERS
    with pytest.raises(DefinitionError, match="name it like"):
        DynamicPartitionsDefinition("")


def test_unbound_definition_says_where_the_keys_are() -> None:
    customers = DynamicPartitionsDefinition("customers")
    with pytest.raises(DefinitionError, match=r"live in the event log.*conflux partitions list"):
        customers.get_partition_keys()
    with pytest.raises(DefinitionError):
        customers.has_partition_key("a")
    assert "keys added at run time" in customers.describe_keys()


def test_bound_definition_answers_from_its_keys() -> None:
    bound = DynamicPartitionsDefinition("customers").with_keys(["acme", "bolt", "acme", "core"])
    assert bound.is_bound
    assert list(bound.get_partition_keys()) == ["acme", "bolt", "core"]
    assert bound.get_num_partitions() == 3
    assert bound.has_partition_key("bolt") and not bound.has_partition_key("zed")
    assert (bound.key_at(0), bound.key_at(-1), bound.index_of("core")) == ("acme", "core", 2)
    assert bound.get_partition_keys_in_range("bolt", "core") == ["bolt", "core"]
    assert (bound.get_first_partition_key(), bound.get_last_partition_key()) == ("acme", "core")
    with pytest.raises(InvalidPartitionKeyError, match="swap --from and --to"):
        bound.get_partition_keys_in_range("core", "acme")
    with pytest.raises(IndexError):
        bound.key_at(3)
    assert bound.describe_keys() == "dynamic partitions 'customers' (3 keys: acme, bolt, core)"
    empty = bound.with_keys([])
    assert empty.get_num_partitions() == 0 and empty.get_first_partition_key() is None
    assert "no key added yet" in empty.describe_keys()


def test_a_key_not_added_names_the_command_that_adds_it() -> None:
    bound = DynamicPartitionsDefinition("customers").with_keys(["acme", "bolt"])
    with pytest.raises(InvalidPartitionKeyError) as info:
        bound.validate_partition_key("acmee")
    message = str(info.value)
    assert "has not been added to dynamic partitions 'customers'" in message
    assert "did you mean 'acme'" in message
    assert "`conflux partitions add customers acmee`" in message
    with pytest.raises(InvalidPartitionKeyError, match="add customers 'big co'"):
        bound.validate_partition_key("big co")  # quoted for the shell
    with pytest.raises(InvalidPartitionKeyError, match="contains '\\|'"):
        bound.validate_partition_key("a|b")  # never a dynamic key: says why instead


def test_store_answers_for_an_unbound_definition() -> None:
    graph = DefinitionsProjection()
    graph.apply(added("acme", "bolt"))
    customers = DynamicPartitionsDefinition("customers")
    assert list(customers.get_partition_keys(dynamic_partitions_store=graph)) == ["acme", "bolt"]
    assert customers.has_partition_key("bolt", dynamic_partitions_store=graph)
    assert not customers.has_partition_key("zed", dynamic_partitions_store=graph)
    assert customers.get_num_partitions(dynamic_partitions_store=graph) == 2


def test_requests_for_sensors() -> None:
    customers = DynamicPartitionsDefinition(name="customers")
    add = customers.build_add_request(["acme", "bolt", "acme"])
    assert add == AddDynamicPartitionsRequest(
        partitions_def_name="customers", partition_keys=("acme", "bolt")
    )
    event = add.to_event(producer="sensor:x", requested_by="sensor")
    assert (event.partitions_def_name, event.partition_keys) == ("customers", ("acme", "bolt"))
    remove = customers.build_delete_request(["bolt"])
    assert isinstance(remove, DeleteDynamicPartitionsRequest)
    assert isinstance(remove.to_event(), DynamicPartitionsDeleted)
    with pytest.raises(InvalidPartitionKeyError, match=r"pass \['acme'\]"):
        customers.build_add_request("acme")
    with pytest.raises(InvalidPartitionKeyError, match="no partition key given"):
        customers.build_delete_request([])


def test_a_dynamic_dimension_of_a_multi() -> None:
    multi = MultiPartitionsDefinition(
        {
            "region": StaticPartitionsDefinition(["eu", "us"]),
            "customer": DynamicPartitionsDefinition("customers"),
        }
    )
    assert multi.to_snapshot() == BY_REGION
    bound = partitions_from_snapshot(BY_REGION, {"customers": ["acme", "bolt"]})
    assert bound == multi
    assert bound.get_partition_keys() == ["acme|eu", "acme|us", "bolt|eu", "bolt|us"]
    assert bound.get_num_partitions() == 4 and bound.index_of("bolt|eu") == 2
    assert bound.key_at(3) == "bolt|us"
    with pytest.raises(InvalidPartitionKeyError) as info:
        bound.validate_partition_key("core|eu")
    assert "dimension 'customer'" in str(info.value)
    assert "conflux partitions add customers core" in str(info.value)
    with pytest.raises(DefinitionError, match="live in the event log"):
        multi.get_partition_keys()  # the user's definition is unbound


# -- snapshots ---------------------------------------------------------------------------


def test_snapshot_round_trip() -> None:
    customers = DynamicPartitionsDefinition("customers")
    snapshot = DynamicPartitionsSnapshot.model_validate_json(
        customers.to_snapshot().model_dump_json()
    )
    unbound = partitions_from_snapshot(snapshot)
    assert unbound == customers
    assert isinstance(unbound, DynamicPartitionsDefinition) and not unbound.is_bound
    bound = partitions_from_snapshot(snapshot, {"customers": ["b", "a"], "other": ["x"]})
    assert list(bound.get_partition_keys()) == ["b", "a"]
    assert list(partitions_from_snapshot(snapshot, {}).get_partition_keys()) == []


# -- the fold ----------------------------------------------------------------------------


def test_fold_keeps_the_order_of_first_addition() -> None:
    graph = DefinitionsProjection()
    graph.apply(added("acme", "bolt"))
    graph.apply(added("core", "acme"))  # acme is there: stays where it is
    assert graph.get_dynamic_partitions("customers") == ["acme", "bolt", "core"]
    assert graph.get_dynamic_partitions("vendors") == []
    assert graph.has_dynamic_partition("customers", "core")


def test_fold_is_idempotent_and_deleting_unknown_keys_changes_nothing() -> None:
    graph = DefinitionsProjection()
    first, remove = added("acme", "bolt"), deleted("bolt", "zed")
    for event in (first, first, remove, remove, first):  # a late duplicate cannot re-add
        graph.apply(event)
    assert graph.get_dynamic_partitions("customers") == ["acme"]


def test_remove_then_add_again_goes_to_the_end() -> None:
    graph = DefinitionsProjection()
    for event in (added("acme", "bolt", "core"), deleted("acme"), added("acme")):
        graph.apply(event)
    assert graph.get_dynamic_partitions("customers") == ["bolt", "core", "acme"]


def test_replay_gives_the_same_keys() -> None:
    events: list[DynamicPartitionsAdded | DynamicPartitionsDeleted] = [
        added("a", "b"),
        added("c", name="vendors"),
        deleted("a"),
        added("d", "a"),
    ]
    live, replayed = DefinitionsProjection(), DefinitionsProjection()
    for event in events:
        live.apply(event)
        live.apply(event)
    for event in events:
        replayed.apply(event)
    assert live.dynamic_partitions == replayed.dynamic_partitions
    assert live.get_dynamic_partitions("customers") == ["b", "d", "a"]


def test_partitions_def_is_bound_to_the_live_keys() -> None:
    graph = graph_of(
        published(
            snap("orders", partitions=CUSTOMERS),
            snap("regional", partitions=BY_REGION),
            snap("colors", partitions=REGIONS),
        )
    )
    orders = graph.partitions_def("orders")
    assert orders is not None and list(orders.get_partition_keys()) == []
    colors = graph.partitions_def("colors")
    graph.apply(added("acme"))
    orders = graph.partitions_def("orders")
    assert orders is not None and list(orders.get_partition_keys()) == ["acme"]
    regional = graph.partitions_def("regional")
    assert regional is not None and regional.get_partition_keys() == ["acme|eu", "acme|us"]
    assert graph.partitions_def("colors") is colors  # unrelated definitions stay cached
    graph.apply(deleted("acme"))
    orders = graph.partitions_def("orders")
    assert orders is not None and not orders.has_partition_key("acme")
    assert graph.dynamic_partitions_users() == {"customers": ["orders", "regional"]}


def test_keys_may_come_before_the_definition() -> None:
    graph = DefinitionsProjection()
    graph.apply(added("acme"))
    graph.apply(published(snap("orders", partitions=CUSTOMERS)))
    orders = graph.partitions_def("orders")
    assert orders is not None and list(orders.get_partition_keys()) == ["acme"]


# -- the planner ---------------------------------------------------------------------------


def dynamic_graph() -> DefinitionsProjection:
    graph = graph_of(
        published(
            snap("orders", partitions=CUSTOMERS),
            snap("invoices", "orders", partitions=CUSTOMERS),  # identity between equal defs
            snap("report", "orders"),  # unpartitioned: reads every current key
            snap("regional", "orders", partitions=BY_REGION),
        )
    )
    graph.apply(added("acme", "bolt", "core"))
    return graph


def test_planner_plans_added_keys() -> None:
    plan = plan_run(request("orders", "invoices", "report", partitions=["bolt"]), dynamic_graph())
    assert [(it.node, it.partition_key) for it in plan.items] == [
        ("orders", "bolt"),
        ("invoices", "bolt"),
        ("report", None),
    ]
    report = plan.items[-1]
    assert [up for up in report.upstream] == [("orders", k) for k in ("acme", "bolt", "core")]


def test_planner_expands_a_range_in_order_of_addition() -> None:
    plan = plan_run(request("orders", start="bolt", end="core"), dynamic_graph())
    assert [it.partition_key for it in plan.items] == ["bolt", "core"]


def test_planner_refuses_a_key_not_added_naming_the_command() -> None:
    with pytest.raises(InvalidPartitionKeyError) as info:
        plan_run(request("orders", partitions=["dawn"]), dynamic_graph())
    assert "asset orders" in str(info.value)
    assert "`conflux partitions add customers dawn`" in str(info.value)


def test_planner_refuses_a_removed_key() -> None:
    graph = dynamic_graph()
    graph.apply(deleted("bolt"))
    with pytest.raises(InvalidPartitionKeyError, match="has not been added"):
        plan_run(request("orders", partitions=["bolt"]), graph)


def test_planner_with_a_dynamic_dimension() -> None:
    graph = dynamic_graph()
    plan = plan_run(request("regional", partitions=["core|us"]), graph)
    (item,) = plan.items
    assert item.partition_key == "core|us"
    assert item.upstream == (("orders", "core"),)
    with pytest.raises(InvalidPartitionKeyError, match="dimension 'customer'"):
        plan_run(request("regional", partitions=["dawn|us"]), graph)


# -- materialize() in process --------------------------------------------------------------

customers = DynamicPartitionsDefinition(name="customers")


@asset(partitions_def=customers)
def customer_orders(context: AssetExecutionContext) -> list[str]:
    return [f"{context.partition_key}-{i}" for i in range(2)]


@asset(partitions_def=customers)
def customer_total(customer_orders: list[str]) -> int:
    return len(customer_orders)


by_customer_day = MultiPartitionsDefinition(
    {"customer": customers, "date": DailyPartitionsDefinition(start_date="2024-01-01")}
)


@asset(partitions_def=by_customer_day)
def visits(context: AssetExecutionContext) -> dict[str, str]:
    key = context.partition_key  # typed `str`, as in Dagster
    assert isinstance(key, MultiPartitionKey)
    return key.keys_by_dimension


def test_materialize_adds_the_requested_key() -> None:
    result = materialize([customer_orders, customer_total], partition_key="acme")
    assert result.success
    assert result.asset_value("customer_total", "acme") == 2
    (addition,) = [e for e in result.events if isinstance(e, DynamicPartitionsAdded)]
    assert (addition.partitions_def_name, addition.partition_keys) == ("customers", ("acme",))


def test_materialize_with_declared_keys_is_strict() -> None:
    result = materialize(
        [customer_orders], partition_key="bolt", dynamic_partitions={"customers": ["acme", "bolt"]}
    )
    assert result.success
    with pytest.raises(InvalidPartitionKeyError, match="dynamic_partitions="):
        materialize([customer_orders], partition_key="core", dynamic_partitions={"customers": []})
    with pytest.raises(InvalidPartitionKeyError, match="contains ','"):
        materialize([customer_orders], partition_key="a,b")


def test_materialize_a_dynamic_dimension() -> None:
    result = materialize([visits], partition_key="acme|2024-01-02")
    assert result.success
    assert result.asset_value("visits", "acme|2024-01-02") == {
        "customer": "acme",
        "date": "2024-01-02",
    }


# -- the read side -------------------------------------------------------------------------


def materialized(asset_key: str, key: str) -> AssetMaterialized:
    global _n
    _n += 1
    return AssetMaterialized(
        event_id=f"mat-{_n}",
        time=T0 + timedelta(seconds=_n),
        asset_key=asset_key,
        partition_key=key,
        data_version=f"v{_n}",
        source="reported",
    )


@pytest.fixture
def model() -> ReadModel:
    m = ReadModel()
    m.apply_all(
        [
            published(snap("orders", partitions=CUSTOMERS), snap("plain")),
            added("acme", "bolt", "core"),
            materialized("orders", "acme"),
            materialized("orders", "bolt"),
            deleted("bolt"),
            added("bolt"),
            deleted("bolt"),
            added("held", name="vendors"),
        ]
    )
    return m


@pytest.fixture
def client(model: ReadModel) -> Iterator[ApiClient]:
    with QueryApi(model, port=0) as api:
        yield ApiClient(api.url, timeout=5.0)


def test_status_views_show_only_current_keys(model: ReadModel) -> None:
    summary = model.asset_summary("orders")
    assert (summary.partitions.total, summary.partitions.materialized) == (2, 1)
    ranges = model.partition_ranges("orders")
    assert [(r.first, r.last, r.status) for r in ranges.ranges] == [
        ("acme", "acme", "materialized"),
        ("core", "core", "missing"),
    ]
    model.validate_partition("orders", "acme")
    with pytest.raises(InvalidPartitionKeyError, match="conflux partitions add customers bolt"):
        model.validate_partition("orders", "bolt")


def test_partitions_endpoints(client: ApiClient) -> None:
    found = client.dynamic_partitions("customers")
    assert (found.name, found.partition_keys, found.count) == ("customers", ["acme", "core"], 2)
    assert found.assets == ["orders"]
    assert [(s.name, s.count, s.assets) for s in client.dynamic_partitions_list()] == [
        ("customers", 2, ["orders"]),
        ("vendors", 1, []),
    ]
    with pytest.raises(NotFoundError, match=r"no dynamic partitions 'custmers'.*known: customers"):
        client.dynamic_partitions("custmers")


# -- the CLI's key reading -------------------------------------------------------------------


def test_keys_from_arguments_and_a_file(tmp_path: Path) -> None:
    from conflux.cli._partitions import read_keys

    path = tmp_path / "keys.txt"
    path.write_text("bolt\n\ncore\r\nacme\n")
    assert read_keys(("acme", "dawn"), str(path)) == ["acme", "dawn", "bolt", "core"]
    path.write_text("bolt\ncore \n")
    with pytest.raises(click.BadParameter, match=f"line 2 of {path}: .*remove it"):
        read_keys((), str(path))
    with pytest.raises(click.BadParameter, match="no key given"):
        read_keys((), None)
    with pytest.raises(click.BadParameter, match="cannot read"):
        read_keys((), str(tmp_path / "missing.txt"))


def test_keys_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    from conflux.cli._partitions import read_keys

    monkeypatch.setattr("sys.stdin", io.StringIO("x\ny\n"))
    assert read_keys((), "-") == ["x", "y"]


def test_many_keys_are_sent_in_chunks() -> None:
    from conflux.cli._partitions import CHUNK_KEYS, _chunks

    keys = [f"customer-{i:06d}" for i in range(CHUNK_KEYS * 2 + 1)]
    chunks = list(_chunks(keys))
    assert [len(c) for c in chunks] == [CHUNK_KEYS, CHUNK_KEYS, 1]
    assert [k for c in chunks for k in c] == keys
    long_keys = ["k" * 100_000 + str(i) for i in range(5)]
    assert all(len(json.dumps(c)) < 400_000 for c in _chunks(long_keys))
