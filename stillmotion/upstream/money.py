"""Price, cost and margin of upstream jobs, per key and per provider (`/v1/usage`, `stillmotion usage`).

The price is what the client paid stillmotion (nothing once refunded), booked to the provider
that served the job's last hop; the cost is what each upstream reported for its own task, booked
to that upstream (a fallback's failed first try may cost money too)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from stillmotion.catalog import format_amount


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def margins(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of `UpstreamRepository.money` -> one line per (owner, provider), sorted."""
    lines: dict[tuple[str, str], dict[str, Any]] = {}

    def line(owner: str, provider: str) -> dict[str, Any]:
        return lines.setdefault((owner, provider), {"owner": owner, "provider": provider, "jobs": 0,
                                                    "price": Decimal(0), "cost": Decimal(0)})

    for row in rows:
        served = line(row["owner"], row["provider"])
        served["jobs"] += 1
        if not row["refunded"]:
            served["price"] += _decimal(row["amount"])
        for item in (row["cost"] or {}).get("items", []):
            if not item.get("refunded"):
                line(row["owner"], str(item.get("provider") or row["provider"]))["cost"] += _decimal(item.get("amount"))
    out = []
    for key in sorted(lines):
        entry = lines[key]
        out.append({**entry, "price": format_amount(entry["price"]), "cost": format_amount(entry["cost"]),
                    "margin": format_amount(entry["price"] - entry["cost"])})
    return out


def cmd_usage(settings: Any, key: str | None = None) -> int:
    """`stillmotion usage`: price, cost and margin of upstream jobs per key and provider."""
    from stillmotion.store import open_database

    db = open_database(settings)
    try:
        names = {rec.id: rec.name for rec in db.accounts.list_keys()}
        rows = margins(db.upstream.money(key))
    finally:
        db.close()
    print("key\tprovider\tjobs\tprice\tcost\tmargin (USD)")
    for m in rows:
        cells = (names.get(m["owner"], m["owner"]), m["provider"], m["jobs"], m["price"], m["cost"], m["margin"])
        print("\t".join(str(c) for c in cells))
    return 0
