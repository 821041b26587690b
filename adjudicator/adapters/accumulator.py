"""The Redis accumulator: how much of each cardholder's annual benefit is used, atomically.

One hash per cardholder, `acc:{<cardholder_id>}` (the hash tag keeps it on one Cluster
slot, and every script touches that one key only). Fields, all amounts in cents:
    used:<enrollment_id>   used in that enrollment year
    grant:<claim_id>       "<enrollment_id>:<granted>:<used_before>", written once per claim
    released:<claim_id>    "1" once the grant was given back
The SQL ledger is the source of truth; `snapshot`/`replace` let check and rebuild compare
and overwrite this copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, TypedDict

import redis

from adjudicator.domain.outcomes import ClaimStatus

MAX_CENTS = 2**53  # Lua numbers are doubles: integers stay exact below this
_PREFIX = "acc:{"
# Written when the accumulators are known to hold what the ledger says (a rebuild or a
# heal started): a Redis that comes back without it has lost what it knew.
EPOCH_KEY = "accumulators:epoch"
CORRECTIONS_KEY = "accumulators:ledger-corrections"
LAST_CHECK_KEY = "accumulators:last-check-mismatches"  # payments the ledger guard cut


class EvictingRedisError(RuntimeError):
    """Redis may evict keys, which would silently forget what patients have used."""


class ReplayInFlight(RuntimeError):
    """Redis holds a payment of the patient-year that the ledger read did not show yet."""

    def __init__(self, reason: str, claim_id: str) -> None:
        super().__init__(f"{reason}: claim {claim_id}")
        self.reason = reason
        self.claim_id = claim_id


@dataclass(frozen=True)
class Reservation:
    used_before: int
    granted: int
    replayed: bool  # True: the claim had a grant already; nothing changed


@dataclass(frozen=True)
class Release:
    enrollment_id: str | None  # None when the claim never had a grant
    released_cents: int  # 0 when already released or never granted
    used_after: int | None  # the grant year's used amount afterwards; None without a grant


class Snapshot(TypedDict):
    used: dict[str, int]
    grants: dict[str, tuple[str, int, int]]  # claim_id -> (enrollment_id, cents, used_before)
    released: set[str]


# A patient-year to hold: (cardholder_id, enrollment_id, replayed total, claim_id -> (status
# in the ledger read, replayed grant)); to commit: (cardholder_id, enrollment_id, claim_id ->
# (granted, used_before), claims that hold no grant).
YearHold = tuple[str, str, int, Mapping[str, tuple[ClaimStatus, int]]]
YearCommit = tuple[str, str, Mapping[str, tuple[int, int]], Sequence[str]]

# How replay_hold.lua reads a claim's status in the ledger read: paid, reversed, received
# (being decided); "r" for any other (it holds no grant).
_HOLD_STATES = {ClaimStatus.PAID: "p", ClaimStatus.REVERSED: "v", ClaimStatus.RECEIVED: "q"}


def accumulator_key(cardholder_id: str) -> str:
    if not cardholder_id:
        raise ValueError("cardholder_id must not be empty")
    return f"{_PREFIX}{cardholder_id}}}"


class Accumulator:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        # register_script runs EVALSHA and reloads the script on NOSCRIPT
        self._reserve = client.register_script(_lua("reserve.lua"))
        self._release = client.register_script(_lua("release.lua"))
        self._replay_hold = client.register_script(_lua("replay_hold.lua"))
        self._replay_commit = client.register_script(_lua("replay_commit.lua"))
        self._rebill = client.register_script(_lua("rebill.lua"))
        self._unrebill = client.register_script(_lua("unrebill.lua"))

    def reserve(
        self,
        cardholder_id: str,
        enrollment_id: str,
        claim_id: str,
        requested_cents: int,
        annual_max_cents: int,
    ) -> Reservation:
        """Grant min(requested, max(annual_max - used, 0)), once per claim id."""
        args: list[str | int] = [
            enrollment_id,
            claim_id,
            _cents(requested_cents),
            _cents(annual_max_cents),
        ]
        replayed, used_before, granted = self._reserve(
            keys=[accumulator_key(cardholder_id)], args=args
        )
        return Reservation(int(used_before), int(granted), bool(replayed))

    def rebill(
        self,
        cardholder_id: str,
        enrollment_id: str,
        claim_id: str,
        requested_cents: int,
        annual_max_cents: int,
        replaces: str,
    ) -> Reservation:
        """Reserve for a B3's new claim with the claim it `replaces` given back, in one
        step; nothing changes when nothing is granted. Once per claim id."""
        args: list[str | int] = [
            enrollment_id,
            claim_id,
            _cents(requested_cents),
            _cents(annual_max_cents),
            replaces,
        ]
        replayed, used_before, granted = self._rebill(
            keys=[accumulator_key(cardholder_id)], args=args
        )
        return Reservation(int(used_before), int(granted), bool(replayed))

    def undo_rebill(
        self, cardholder_id: str, claim_id: str, replaces: str, *, restore: bool
    ) -> tuple[int, int]:
        """Forget a rebill's new grant and, with `restore`, give the replaced claim its
        grant back: (cents forgotten, cents restored)."""
        args = [claim_id, replaces, "1" if restore else "0"]
        forgotten, restored = self._unrebill(keys=[accumulator_key(cardholder_id)], args=args)
        return int(forgotten), int(restored)

    def release(self, cardholder_id: str, claim_id: str) -> Release:
        """Give a claim's grant back to its own enrollment year, at most once."""
        return self._give_back(cardholder_id, claim_id, "keep")

    def cancel(self, cardholder_id: str, claim_id: str) -> Release:
        """Undo a reservation whose decision was never recorded; the claim may reserve again.

        Never for a paid claim (use `release`): it forgets the grant, so the ledger and
        Redis would disagree until a rebuild.
        """
        return self._give_back(cardholder_id, claim_id, "forget")

    def _give_back(self, cardholder_id: str, claim_id: str, mode: str) -> Release:
        keys = [accumulator_key(cardholder_id)]
        return _release(self._release(keys=keys, args=[claim_id, mode]))

    def used(self, cardholder_id: str, enrollment_id: str) -> int:
        value = self._client.hget(accumulator_key(cardholder_id), f"used:{enrollment_id}")
        return int(value or 0)

    def snapshot(self, cardholder_id: str) -> Snapshot:
        raw = self._client.hgetall(accumulator_key(cardholder_id))
        return _parse({_text(k): _text(v) for k, v in raw.items()})

    def replace(
        self,
        cardholder_id: str,
        used_by_year: dict[str, int],
        grants: dict[str, tuple[str, int, int]],
        released: set[str],
    ) -> None:
        """Overwrite the cardholder's whole hash in one MULTI/EXEC (for rebuild)."""
        fields: dict[str, str | int] = {f"used:{y}": _cents(c) for y, c in used_by_year.items()}
        for claim_id, (enrollment_id, cents, used_before) in grants.items():
            fields[f"grant:{claim_id}"] = f"{enrollment_id}:{int(cents)}:{int(used_before)}"
        fields.update({f"released:{claim_id}": "1" for claim_id in released})
        key = accumulator_key(cardholder_id)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if fields:
                pipe.hset(key, mapping=fields)  # type: ignore[arg-type]  # str keys: fine, but the stub's key type is invariant
            pipe.execute()

    def mark_epoch(self) -> bool:
        """Mark Redis as holding the ledger's accumulators; False if the mark was there
        (nothing lost since), True if this call set it (the caller heals them all)."""
        return bool(self._client.set(EPOCH_KEY, "1", nx=True))

    def record_check(self, mismatches: int) -> None:
        """How many years the last `accumulators check` found off (read by /metrics)."""
        self._client.set(LAST_CHECK_KEY, mismatches)

    def last_check(self) -> int | None:
        value = self._client.get(LAST_CHECK_KEY)
        return int(value) if value is not None else None

    def count_correction(self) -> None:
        """One more payment that the ledger guard had to cut (Redis granted too much)."""
        self._client.incr(CORRECTIONS_KEY)

    def corrections(self) -> int:
        return int(self._client.get(CORRECTIONS_KEY) or 0)

    def cardholders(self) -> Iterator[str]:
        """Every cardholder with an accumulator (SCAN: never blocks Redis like KEYS)."""
        for key in self._client.scan_iter(match=f"{_PREFIX}*}}", count=1000):
            yield _text(key)[len(_PREFIX) : -1]

    # --- batch re-adjudication: set a patient-year to its replayed totals -------------

    def hold_for_replay(
        self,
        cardholder_id: str,
        enrollment_id: str,
        total_cents: int,
        claims: Mapping[str, tuple[ClaimStatus, int]],
    ) -> int:
        """Before the SQL commit: refuse if a claim is in flight, else raise used to cover both.

        `claims`: every claim of the year the ledger read holds, claim_id -> (its status
        there, its replayed grant). Raises ReplayInFlight; returns the year's used amount
        after the hold.
        """
        return self.hold_for_replay_many([(cardholder_id, enrollment_id, total_cents, claims)])[0]

    def hold_for_replay_many(self, years: Sequence[YearHold]) -> list[int]:
        """`hold_for_replay` for several patient-years in one round trip (one script each).

        Raises ReplayInFlight for the first year refused; the others may be held, so the
        caller undoes them all (commit_replay with the ledger's grants is safe for any year).
        """
        with self._client.pipeline(transaction=False) as pipe:
            for cardholder_id, enrollment_id, total_cents, claims in years:
                args: list[str | int] = [enrollment_id, _cents(total_cents)]
                for claim_id, (status, replayed) in claims.items():
                    args.extend((claim_id, _HOLD_STATES.get(status, "r"), _cents(replayed)))
                self._replay_hold(keys=[accumulator_key(cardholder_id)], args=args, client=pipe)
            replies = pipe.execute()
        for reply in replies:
            if not int(reply[0]):
                raise ReplayInFlight(_text(reply[1]), _text(reply[2]))
        return [int(reply[1]) for reply in replies]

    def commit_replay(
        self,
        cardholder_id: str,
        enrollment_id: str,
        grants: Mapping[str, tuple[int, int]],
        cleared: Sequence[str],
    ) -> int:
        """After the SQL commit: write the year's grants, drop `cleared`, recompute used.

        `grants`: claim_id -> (granted cents, used_before cents) of every claim of the year
        that pays. Grants of claims not named (live claims taken meanwhile) are kept and
        counted. Returns the year's used amount.
        """
        return self.commit_replay_many([(cardholder_id, enrollment_id, grants, cleared)])[0]

    def commit_replay_many(self, years: Sequence[YearCommit]) -> list[int]:
        """`commit_replay` for several patient-years in one round trip (one script each)."""
        with self._client.pipeline(transaction=False) as pipe:
            for cardholder_id, enrollment_id, grants, cleared in years:
                args: list[str | int] = [enrollment_id, len(grants)]
                for claim_id, (granted, used_before) in grants.items():
                    args.extend((claim_id, _cents(granted), _cents(used_before)))
                args.extend(cleared)
                self._replay_commit(keys=[accumulator_key(cardholder_id)], args=args, client=pipe)
            return [int(used) for used in pipe.execute()]


def ensure_no_eviction(client: redis.Redis) -> None:
    """Refuse a Redis whose maxmemory-policy is anything but noeviction."""
    try:
        policy = _text(client.config_get("maxmemory-policy").get("maxmemory-policy", ""))
    except redis.ResponseError:  # CONFIG disabled or renamed, as on managed Redis
        policy = _text(client.info("memory").get("maxmemory_policy", ""))
    if policy != "noeviction":
        raise EvictingRedisError(
            f"Redis maxmemory-policy is {policy or 'unknown'!r}, not 'noeviction': an evicting "
            "Redis could silently drop a patient's used benefit. Set "
            "`maxmemory-policy noeviction` (and AOF) on that server."
        )


def _release(reply: list[Any]) -> Release:
    enrollment_id, released, used_after = reply
    return Release(
        _text(enrollment_id) if enrollment_id is not None else None,
        int(released),
        int(used_after) if used_after is not None else None,
    )


def _parse(fields: dict[str, str]) -> Snapshot:
    snap: Snapshot = {"used": {}, "grants": {}, "released": set()}
    for field, value in fields.items():
        kind, _, name = field.partition(":")
        if kind == "used":
            snap["used"][name] = int(value)
        elif kind == "grant":
            enrollment_id, cents, used_before = value.rsplit(":", 2)
            snap["grants"][name] = (enrollment_id, int(cents), int(used_before))
        elif kind == "released":
            snap["released"].add(name)
        else:
            raise ValueError(f"unexpected accumulator field {field!r}")
    return snap


def _cents(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_CENTS:
        raise ValueError(f"cents must be a non-negative integer below 2**53, got {value!r}")
    return value


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _lua(name: str) -> str:
    return (files(__package__) / "lua" / name).read_text()
