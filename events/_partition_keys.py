"""What a dynamic partition key (and a dynamic partitions definition's name) may be.

Dynamic keys are typed by people and scripts (`conflux partitions add customers acme`)
and travel in events, so the rules live with the event contract: the events validate
them when produced and consumed (rule 2), the SDK and the CLI check them first to give
the error with its fix. Static and time-window keys have their own rules in the SDK.

The length bound (`MAX_PARTITION_KEY_LENGTH`) is a rule for *new* keys only: the SDK,
the CLI and the static definitions check it, the events do not. A log written before the
bound may hold a longer key in a `DynamicPartitionsAdded` record with thousands of
others; dead-lettering that record on replay would drop them all, so the event keeps
accepting it (it stores and loads: the IO manager's file names no longer depend on the
key's length).
"""

from __future__ import annotations

from conflux.events._errors import DefinitionError, InvalidPartitionKeyError

SEPARATORS = ("|", ",")
"""Characters a dynamic key may not contain: `|` joins the parts of a multi-partition
key, `,` separates keys in lists (selections, `--partition a,b` style arguments)."""


MAX_PARTITION_KEY_LENGTH = 1024
"""The most characters a new dynamic or static partition key may have.

Dagster has no limit; Conflux sets one on purpose. A key travels in every event about its
partition, in Kafka record keys, archive rows, URLs of the query API and one-line CLI
output, and a multi-partition key joins one key per dimension. 1,024 characters holds the
longest natural key commonly used as a partition (an S3 or GCS object name: at most
1,024 bytes), keeps a key at most 4 KB in UTF-8 so thousands fit in one Kafka record
(Kafka's default limit: 1 MB), and keeps a URL naming a three-dimension key within the
64 KB request line the query API reads. Longer names are better kept as metadata of a
short key (an id, or a hash of the name)."""


def abbreviate_key(key: str, width: int = 60) -> str:
    """`key` as written in an error: whole up to `width` characters, else its two ends."""
    if len(key) <= width:
        return repr(key)
    return f"{key[: width - 20]!r}...{key[-12:]!r}"


def partition_key_length_problem(key: str, kind: str = "dynamic") -> str | None:
    """Why `key` is too long to be a new `kind` partition key, with the fix; None if it fits."""
    if len(key) <= MAX_PARTITION_KEY_LENGTH:
        return None
    return (
        f"{kind} partition key {abbreviate_key(key)} is {len(key):,} characters long, over "
        f"the limit of {MAX_PARTITION_KEY_LENGTH:,}: use a shorter key (an id, or a hash "
        "of the long name) and keep the long name in metadata"
    )


def dynamic_partition_key_problem(key: str, *, new: bool = True) -> str | None:
    """Why `key` cannot be a dynamic partition key, with the fix; None when it can.

    Args:
        key: the key.
        new: the key is to be added (so the length bound holds), rather than one that may
            have been added before the bound (to remove, or read from the log).
    """
    problem = _character_problem(key)
    if problem is None and new:
        return partition_key_length_problem(key)
    return problem


def _character_problem(key: str) -> str | None:
    if not key:
        return "a dynamic partition key is empty: give every key a name"
    if key != key.strip():
        return (
            f"dynamic partition key {abbreviate_key(key)} has leading or trailing whitespace: "
            f"remove it ({key.strip()!r})"
        )
    for sep in SEPARATORS:
        if sep in key:
            role = "joins the parts of multi-partition keys" if sep == "|" else "separates keys"
            return (
                f"dynamic partition key {abbreviate_key(key)} contains {sep!r}, which {role}: "
                "use another character, e.g. '-' or '_'"
            )
    if any(ch < " " or ch == "\x7f" for ch in key):
        return (
            f"dynamic partition key {abbreviate_key(key)} contains a control character: keys "
            "are shown on one line and typed on command lines, so remove it"
        )
    return None


def check_dynamic_partition_key(key: str, *, new: bool = True) -> None:
    """Return if `key` may be a new dynamic partition key.

    Raises:
        InvalidPartitionKeyError: it is empty, has surrounding whitespace, contains `|`,
            `,` or a control character, or is longer than `MAX_PARTITION_KEY_LENGTH`; the
            message says the fix. The length is not checked when `new` is False.
    """
    problem = dynamic_partition_key_problem(key, new=new)
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
