"""Shared inputs for the catalog tests: a minimal valid request per model and its limits."""

from __future__ import annotations

from typing import Any

import pytest

from stillmotion.errors import FieldInvalid

Q3 = "vidu/vidu-q3/image-to-video"
Q2 = "vidu/vidu-q2/image-to-video"
SE = "vidu/vidu-q2/start-end-to-video"
PRO = "vidu-q3-pro-i2v"
TURBO = "vidu-q3-turbo-i2v"
JOB = (Q3, Q2, SE)
ASYNC = (PRO, TURBO)
ALL = JOB + ASYNC

IMG = "https://example.com/a.png"
TAIL = "https://example.com/b.png"

BASE: dict[str, dict[str, Any]] = {
    Q3: {"prompt": "a parrot flies", "image": IMG},
    Q2: {"prompt": "a parrot flies", "image": IMG},
    SE: {"prompt": "a parrot flies", "image": IMG, "image_tail": TAIL},
    PRO: {"images": [IMG]},
    TURBO: {"images": [IMG]},
}
MAX_DURATION = {Q3: 16, Q2: 10, SE: 8, PRO: 16, TURBO: 16}
MAX_PROMPT = {Q3: 5000, Q2: 5000, SE: 5000, PRO: 1500, TURBO: 5000}


def args(model_id: str, **over: Any) -> dict[str, Any]:
    return {**BASE[model_id], **over}


def refused(entry: Any, body: Any, field: str) -> FieldInvalid:
    """Validate must refuse `body`, and the error must name `field` first in its message."""
    with pytest.raises(FieldInvalid) as info:
        entry.validate(body)
    err = info.value
    assert err.field == field, err.message
    assert err.message.startswith(f"{field}: "), err.message
    assert err.status == 400
    return err
