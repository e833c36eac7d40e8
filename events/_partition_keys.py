"""What a dynamic partition key (and a dynamic partitions definition's name) may be.

Dynamic keys are typed by people and scripts (`conflux partitions add customers acme`)
and travel in events, so the rules live with the event contract: the events validate
them when produced and consumed (rule 2), the SDK and the CLI check them first to give
the error with its fix. Static and time-window keys have their own rules in the SDK.
"""

from __future__ import annotations

from conflux.events._errors import DefinitionError, InvalidPartitionKeyError

SEPARATORS = ("|", ",")
"""Characters a dynamic key may not contain: `|` joins the parts of a multi-partition
key, `,` separates keys in lists (selections, `--partition a,b` style arguments)."""


def dynamic_partition_key_problem(key: str) -> str | None:
    """Why `key` cannot be a dynamic partition key, with the fix; None when it can."""
    if not key:
        return "a dynamic partition key is empty: give every key a name"
    if key != key.strip():
        return (
            f"dynamic partition key {key!r} has leading or trailing whitespace: "
            f"remove it ({key.strip()!r})"
        )
    for sep in SEPARATORS:
        if sep in key:
            role = "joins the parts of multi-partition keys" if sep == "|" else "separates keys"
            return (
                f"dynamic partition key {key!r} contains {sep!r}, which {role}: "
                "use another character, e.g. '-' or '_'"
            )
    if any(ch < " " or ch == "\x7f" for ch in key):
        return (
            f"dynamic partition key {key!r} contains a control character: keys are shown "
            "on one line and typed on command lines, so remove it"
        )
    return None


def check_dynamic_partition_key(key: str) -> None:
    """Return if `key` may be a dynamic partition key.

    Raises:
        InvalidPartitionKeyError: it is empty, has surrounding whitespace, or contains
            `|`, `,` or a control character; the message says the fix.
    """
    problem = dynamic_partition_key_problem(key)
    if problem is not None:
        raise InvalidPartitionKeyError(problem)


def dynamic_partitions_name_problem(name: str) -> str | None:
    """Why `name` cannot name a dynamic partitions definition, with the fix; None if it can.

    The name is the Kafka record key of its events and a CLI argument, so it is a
    non-empty word on one line.
    """
    if not name or name != name.strip() or any(ch < " " or ch == "\x7f" for ch in name):
        return (
            f"dynamic partitions name {name!r} is empty, has surrounding whitespace or a "
            "control character: name it like 'customers'"
        )
    return None


def check_dynamic_partitions_name(name: str) -> None:
    """Return if `name` may name a dynamic partitions definition.

    Raises:
        DefinitionError: it is empty, has surrounding whitespace or a control character.
    """
    problem = dynamic_partitions_name_problem(name)
    if problem is not None:
        raise DefinitionError(problem)
