"""New partition keys are bounded at 1,024 characters, with an error that says how to fix it.

Issue 16: a dynamic key of 10,000 characters was accepted but could never be materialized.
Every way a key is added is bounded (the SDK's requests, a sensor's result, `materialize`,
the CLI's key reading, static definitions); keys already in a log are not (see
`events/_partition_keys.py`). Dagster has no bound: Conflux goes beyond on purpose.
"""

from __future__ import annotations

import click
import pytest

from conflux import (
    AddDynamicPartitionsRequest,
    DynamicPartitionsDefinition,
    MultiPartitionsDefinition,
    SensorResult,
    StaticPartitionsDefinition,
    asset,
    materialize,
    sensor,
)
from conflux.events import (
    MAX_PARTITION_KEY_LENGTH,
    DefinitionError,
    DynamicPartitionsAdded,
    InvalidPartitionKeyError,
    decode_event,
    encode_event,
)

CUSTOMERS = DynamicPartitionsDefinition(name="customers")
AT_LIMIT = "k" * MAX_PARTITION_KEY_LENGTH
OVER = "x" * 9_990 + "0123456789"


def _says_why(message: str, kind: str) -> None:
    assert f"{kind} partition key 'xxxx" in message  # names the key...
    assert "0123456789'" in message  # ...abbreviated, by its two ends
    assert "10,000 characters long" in message and "limit of 1,024" in message
    assert "use a shorter key" in message
    assert len(message) < 400 and "\n" not in message


def test_the_limit_is_1024() -> None:
    assert MAX_PARTITION_KEY_LENGTH == 1024


def test_a_new_dynamic_key_over_the_limit_is_refused_with_the_fix() -> None:
    assert CUSTOMERS.build_add_request([AT_LIMIT]).partition_keys == (AT_LIMIT,)
    with pytest.raises(InvalidPartitionKeyError) as refused:
        CUSTOMERS.build_add_request(["acme", OVER])
    _says_why(str(refused.value), "dynamic")


def test_a_long_key_added_before_the_bound_can_be_removed_and_replayed() -> None:
    # a log written before the bound: its records still fold, and the key can go
    assert CUSTOMERS.build_delete_request([OVER]).partition_keys == (OVER,)
    event = DynamicPartitionsAdded(partitions_def_name="customers", partition_keys=("a", OVER))
    assert decode_event(encode_event(event)) == event


def test_a_static_key_over_the_limit_is_refused_at_definition_time() -> None:
    assert StaticPartitionsDefinition([AT_LIMIT]).get_num_partitions() == 1
    with pytest.raises(DefinitionError) as refused:
        StaticPartitionsDefinition(["eu", OVER])
    _says_why(str(refused.value), "static")
    with pytest.raises(DefinitionError, match="limit of 1,024"):
        MultiPartitionsDefinition(
            {"region": StaticPartitionsDefinition([OVER]), "customer": CUSTOMERS}
        )


def test_materialize_refuses_a_long_dynamic_key_before_it_runs() -> None:
    @asset(partitions_def=CUSTOMERS)
    def orders() -> int:
        raise AssertionError("must not run")

    with pytest.raises(InvalidPartitionKeyError, match="limit of 1,024"):
        materialize([orders], partition_key=OVER)
    with pytest.raises(InvalidPartitionKeyError, match="limit of 1,024"):
        materialize([orders], partition_key="a", dynamic_partitions={"customers": ["a", OVER]})


def test_a_sensor_adding_a_long_key_fails_its_tick_with_the_reason() -> None:
    @asset(partitions_def=CUSTOMERS)
    def per_customer() -> int:
        return 1

    @sensor(target=[per_customer])
    def discovers() -> SensorResult:
        # built directly, not through build_add_request: still checked
        request = AddDynamicPartitionsRequest(
            partitions_def_name="customers", partition_keys=(OVER,)
        )
        return SensorResult(dynamic_partitions_requests=[request])

    with pytest.raises(DefinitionError) as refused:
        discovers.evaluate(cursor=None)
    assert "dynamic_partitions_requests" in str(refused.value)
    _says_why(str(refused.value), "dynamic")


def test_the_cli_refuses_a_long_key_to_add_and_accepts_it_to_remove() -> None:
    from conflux.cli._partitions import read_keys

    with pytest.raises(click.BadParameter) as refused:
        read_keys(("acme", OVER), None)
    _says_why(refused.value.message, "dynamic")
    assert read_keys((OVER,), None, new=False) == [OVER]
