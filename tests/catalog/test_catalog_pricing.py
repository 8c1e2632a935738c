"""Prices computed by hand from the seeds' price text (API.md section 5), and overrides."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from catalog_cases import ALL, ASYNC, PRO, Q2, Q3, SE, TURBO, args

from stillmotion.catalog import MODELS, Catalog, build_models, format_amount, get_model, load_price_overrides
from stillmotion.errors import FieldInvalid

# (model, mode, resolution, seconds, amount as the wire shows it)
JOB_CASES = [
    # q3: flat per second
    (Q3, "pro", "540p", 1, "0.056"), (Q3, "pro", "540p", 5, "0.28"), (Q3, "pro", "540p", 16, "0.896"),
    (Q3, "pro", "720p", 1, "0.12"), (Q3, "pro", "720p", 5, "0.60"), (Q3, "pro", "720p", 16, "1.92"),
    (Q3, "pro", "1080p", 1, "0.128"), (Q3, "pro", "1080p", 5, "0.64"), (Q3, "pro", "1080p", 16, "2.048"),
    (Q3, "turbo", "540p", 1, "0.032"), (Q3, "turbo", "540p", 5, "0.16"), (Q3, "turbo", "540p", 16, "0.512"),
    (Q3, "turbo", "720p", 1, "0.048"), (Q3, "turbo", "720p", 5, "0.24"), (Q3, "turbo", "720p", 16, "0.768"),
    (Q3, "turbo", "1080p", 1, "0.064"), (Q3, "turbo", "1080p", 5, "0.32"), (Q3, "turbo", "1080p", 16, "1.024"),
    # q2 turbo: 540p 0.03 + 0.01/s; 720p 0.04 (2 s: 0.05) + 0.05/s; 1080p 0.175 + 0.05/s
    (Q2, "turbo", "540p", 1, "0.03"), (Q2, "turbo", "540p", 2, "0.04"), (Q2, "turbo", "540p", 5, "0.07"),
    (Q2, "turbo", "540p", 10, "0.12"),
    (Q2, "turbo", "720p", 1, "0.04"), (Q2, "turbo", "720p", 2, "0.05"), (Q2, "turbo", "720p", 3, "0.10"),
    (Q2, "turbo", "720p", 5, "0.20"), (Q2, "turbo", "720p", 10, "0.45"),
    (Q2, "turbo", "1080p", 1, "0.175"), (Q2, "turbo", "1080p", 2, "0.225"), (Q2, "turbo", "1080p", 5, "0.375"),
    (Q2, "turbo", "1080p", 10, "0.625"),
    # q2 pro: 540p 0.04 (2 s: 0.05) + 0.025/s; 720p 0.075 + 0.05/s; 1080p 0.275 + 0.075/s
    (Q2, "pro", "540p", 1, "0.04"), (Q2, "pro", "540p", 2, "0.05"), (Q2, "pro", "540p", 3, "0.075"),
    (Q2, "pro", "540p", 5, "0.125"), (Q2, "pro", "540p", 10, "0.25"),
    (Q2, "pro", "720p", 1, "0.075"), (Q2, "pro", "720p", 2, "0.125"), (Q2, "pro", "720p", 5, "0.275"),
    (Q2, "pro", "720p", 10, "0.525"),
    (Q2, "pro", "1080p", 1, "0.275"), (Q2, "pro", "1080p", 2, "0.35"), (Q2, "pro", "1080p", 5, "0.575"),
    (Q2, "pro", "1080p", 10, "0.95"),
    # q2 pro-fast: 720p 0.04 + 0.01/s; 1080p 0.08 + 0.02/s
    (Q2, "pro-fast", "720p", 1, "0.04"), (Q2, "pro-fast", "720p", 2, "0.05"), (Q2, "pro-fast", "720p", 5, "0.08"),
    (Q2, "pro-fast", "720p", 10, "0.13"),
    (Q2, "pro-fast", "1080p", 1, "0.08"), (Q2, "pro-fast", "1080p", 2, "0.10"),
    (Q2, "pro-fast", "1080p", 5, "0.16"), (Q2, "pro-fast", "1080p", 10, "0.26"),
    # start-end: same table, 1-8 s
    (SE, "turbo", "720p", 1, "0.04"), (SE, "turbo", "720p", 2, "0.05"), (SE, "turbo", "720p", 3, "0.10"),
    (SE, "turbo", "720p", 8, "0.35"), (SE, "pro", "540p", 2, "0.05"), (SE, "pro", "720p", 8, "0.425"),
    (SE, "pro", "1080p", 8, "0.80"), (SE, "pro-fast", "1080p", 8, "0.22"), (SE, "turbo", "540p", 8, "0.10"),
]


@pytest.mark.parametrize("model_id,mode,res,secs,want", JOB_CASES)
def test_job_prices(model_id, mode, res, secs, want):
    amount = get_model(model_id).price(args(model_id, mode=mode, resolution=res, duration=secs))
    assert isinstance(amount, Decimal)
    assert amount == Decimal(want)
    assert format_amount(amount) == want


def test_job_price_accepts_duration_string():
    assert format_amount(get_model(Q3).price(args(Q3, duration="5"))) == "0.60"


ASYNC_CASES = [
    (PRO, "540p", 1, False, "0.056"), (PRO, "720p", 5, False, "0.60"), (PRO, "720p", 5, True, "0.30"),
    (PRO, "1080p", 16, False, "2.048"), (PRO, "1080p", 16, True, "1.024"), (PRO, "540p", 1, True, "0.028"),
    (TURBO, "540p", 1, False, "0.032"), (TURBO, "540p", 1, True, "0.016"), (TURBO, "720p", 5, False, "0.24"),
    (TURBO, "720p", 5, True, "0.12"), (TURBO, "1080p", 16, False, "1.024"), (TURBO, "1080p", 16, True, "0.512"),
]


@pytest.mark.parametrize("model_id,res,secs,off_peak,want", ASYNC_CASES)
def test_async_prices(model_id, res, secs, off_peak, want):
    amount = get_model(model_id).price(args(model_id, resolution=res, duration=secs, off_peak=off_peak))
    assert format_amount(amount) == want


def test_default_prices():
    assert format_amount(get_model(Q3).price(args(Q3))) == "0.60"  # pro 720p 5 s
    assert format_amount(get_model(Q2).price(args(Q2))) == "0.275"
    assert format_amount(get_model(PRO).price(args(PRO))) == "0.60"
    assert format_amount(get_model(TURBO).price(args(TURBO))) == "0.24"


@pytest.mark.parametrize("value,want", [
    (Decimal("0.6"), "0.60"), (Decimal("0.032"), "0.032"), (Decimal("0.016"), "0.016"),
    (Decimal("1.2"), "1.20"), (Decimal("0.0160"), "0.016"), (Decimal("0.100"), "0.10"),
    (Decimal("2.048"), "2.048"), (Decimal("0"), "0.00"), (Decimal("10"), "10.00"),
    (Decimal("1E+1"), "10.00"), (Decimal("0.125"), "0.125"), (Decimal("0.60"), "0.60"),
    (3, "3.00"), ("0.5", "0.50"), (Decimal("123.4"), "123.40"), (Decimal("0.0001"), "0.0001"),
])
def test_format_amount(value, want):
    assert format_amount(value) == want


@pytest.mark.parametrize("model_id", ALL)
def test_price_table_is_readable_json(model_id):
    table = get_model(model_id).price_table()
    json.dumps(table)
    assert table["currency"] == "USD"
    if model_id in ASYNC:
        assert "off_peak" in table
    assert set(table["rates"]) == ({"pro"} if model_id == PRO else {"turbo"} if model_id == TURBO
                                   else {"pro", "turbo"} if model_id == Q3 else {"turbo", "pro", "pro-fast"})


def test_price_table_text():
    t = get_model(Q2).price_table()["rates"]
    assert t["turbo"]["720p"]["two_sec"] == "0.05"
    assert t["turbo"]["720p"]["text"] == "0.04 for 1 s (0.05 at 2 s), plus 0.05 per further second"
    assert "540p" not in t["pro-fast"]
    assert get_model(Q3).price_table()["rates"]["pro"]["720p"]["text"] == "0.12 per second"


# ---- operator overrides ----------------------------------------------------------------------


def test_overrides_from_json(tmp_path):
    models = build_models()
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({
        Q3: {"pro": {"720p": {"per_sec": "0.2"}}},
        Q2: {"turbo": {"720p": {"two_sec": "0.06"}}},
        TURBO: {"turbo": {"540p": {"per_sec": "0.04"}}, "off_peak_factor": "0.25"},
    }))
    load_price_overrides(path, models)
    assert models[Q3].price(args(Q3, duration=5)) == Decimal("1.0")
    assert models[Q3].price(args(Q3, duration=1)) == Decimal("0.2")
    assert models[Q2].price(args(Q2, mode="turbo", duration=2)) == Decimal("0.06")
    assert models[Q2].price(args(Q2, mode="turbo", duration=1)) == Decimal("0.04")
    assert models[Q2].price(args(Q2, mode="turbo", duration=3)) == Decimal("0.11")
    assert format_amount(models[TURBO].price(args(TURBO, resolution="540p", duration=1, off_peak=True))) == "0.01"
    # the shared registry is untouched
    assert MODELS[Q3].price(args(Q3)) == Decimal("0.60")


def test_overrides_from_toml(tmp_path):
    models = build_models()
    path = tmp_path / "prices.toml"
    path.write_text('["vidu/vidu-q2/start-end-to-video".pro.720p]\nstart = "0.1"\nper_sec = 0.02\n')
    load_price_overrides(path, models)
    assert models[SE].price(args(SE, duration=1)) == Decimal("0.1")
    assert models[SE].price(args(SE, duration=3)) == Decimal("0.14")


@pytest.mark.parametrize("data", [
    {"nope": {}},
    {Q3: {"fast": {}}},
    {Q2: {"pro-fast": {"540p": {"per_sec": "0.1"}}}},
    {Q3: {"pro": {"720p": {"per_second": "0.1"}}}},
    {Q3: {"pro": {"720p": {"per_sec": "-1"}}}},
    {Q3: {"pro": {"720p": {"per_sec": "abc"}}}},
    {Q3: {"pro": {"720p": {"per_sec": True}}}},
    {Q3: {"pro": {"720p": {}}}},
    {PRO: {"turbo": {"720p": {"per_sec": "1"}}}},
    [1, 2],
])
def test_bad_overrides_change_nothing(tmp_path, data):
    models = build_models()
    path = tmp_path / "prices.json"
    # a valid change first: it must not be applied when a later part is bad
    good = {TURBO: {"turbo": {"720p": {"per_sec": "9"}}}}
    path.write_text(json.dumps({**good, **data} if isinstance(data, dict) else data))
    with pytest.raises(ValueError):
        load_price_overrides(path, models)
    assert models[TURBO].price(args(TURBO)) == Decimal("0.24")


def test_a_runtime_catalog_sells_at_its_own_prices(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({Q3: {"pro": {"720p": {"per_sec": "0.2"}}}}))
    catalog = Catalog.load(path)
    assert catalog.get(Q3).price(args(Q3, duration=5)) == Decimal("1.0")
    assert Catalog.load().get(Q3).price(args(Q3)) == Decimal("0.60")  # another service, no price file
    assert MODELS[Q3].price(args(Q3)) == Decimal("0.60")  # the module's registry is untouched
    with pytest.raises(FieldInvalid, match="unknown model 'nope'") as err:
        catalog.get("nope")
    assert err.value.field == "model"
