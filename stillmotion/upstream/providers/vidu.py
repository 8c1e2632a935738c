"""Vidu's official API (`/ent/v2`, stillmotion's vidu dialect, dialects/vidu.py).

Create: `POST /ent/v2/img2video` (or `start-end2video` with two images), `Authorization: Token`,
body `{model, images, prompt, duration, seed, resolution, ..., payload, callback_url}`; the model is
Vidu's name (`viduq3-turbo`, ...), from the route's `upstream_model` or the dialect's name for the
catalog model and mode. Answer `{task_id, state, credits}`. Query: `GET /ent/v2/tasks/{id}/creations`
-> state created / queueing / processing / success / failed (err_code UserCancelled: canceled),
`creations[0].url`, `cover_url`, `credits`. Cancel: `POST /ent/v2/tasks/{id}/cancel`.

Vidu does not document `Idempotency-Key`, so exactly once rests on `payload`: it carries the
task's token, and after a crash that may have sent a create the poller lists recent tasks
(`GET /ent/v2/tasks`) and adopts the one carrying it (`find`, `found`). Cost is in credits."""

from __future__ import annotations

from typing import Any

from stillmotion.dialects.vidu import NAMES

from .base import MB, Created, Request, Status, UpstreamRefused, field_of

STATES = {"created": "queued", "queueing": "queued", "processing": "running", "success": "succeeded",
          "failed": "failed"}
PASS_THROUGH = ("seed", "resolution", "aspect_ratio", "off_peak", "movement_amplitude", "voice_id", "audio_type", "bgm")
FIND_PAGE = 100


class ViduProvider:
    name = "vidu"
    max_inline_bytes = 10 * MB
    idempotent_create = False
    can_cancel = True
    auth_scheme = "Token"

    def create(self, model: str, args: dict[str, Any], token: str, callback_url: str | None = None,
               spec: dict[str, Any] | None = None) -> Request:
        images = list(args["images"]) if isinstance(args.get("images"), list) else [args.get("image")]
        if args.get("image_tail"):
            images.append(args["image_tail"])
        name = NAMES.get((model, str(args.get("mode") or (spec or {}).get("mode") or "")), model)
        body: dict[str, Any] = {"model": name, "images": images, "payload": token}
        if args.get("prompt"):
            body["prompt"] = args["prompt"]
        duration = (spec or {}).get("duration") or args.get("duration")
        if duration is not None:
            body["duration"] = int(duration)
        body.update({k: args[k] for k in PASS_THROUGH if k in args})
        audio = args.get("generate_audio", args.get("audio"))
        if isinstance(audio, bool):
            body["audio"] = audio
        if callback_url:
            body["callback_url"] = callback_url
        endpoint = "start-end2video" if len(images) > 1 else "img2video"
        return Request("POST", f"/ent/v2/{endpoint}", json=body, headers={"Idempotency-Key": token})

    def created(self, body: Any) -> Created:
        task_id = body.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise ValueError("no task_id in the create answer")
        return Created(task_id, _cost(body))

    def query(self, upstream_id: str) -> Request:
        return Request("GET", f"/ent/v2/tasks/{upstream_id}/creations")

    def status(self, body: Any) -> Status:
        state = STATES.get(body.get("state"))
        if state is None:
            raise ValueError(f"unknown task state {body.get('state')!r}")
        if state == "failed" and body.get("err_code") == "UserCancelled":
            state = "canceled"
        creation = (body.get("creations") or [{}])[0]
        return Status(state, creation.get("url") or None, creation.get("cover_url") or None,
                      body.get("err_code") or None, None, _cost(body))

    def cancel(self, upstream_id: str) -> Request | None:
        return Request("POST", f"/ent/v2/tasks/{upstream_id}/cancel", json={})

    def find(self, token: str) -> Request:
        return Request("GET", "/ent/v2/tasks", params={"pager.pagesz": str(FIND_PAGE)})

    def found(self, body: Any, token: str) -> Created | None:
        for task in body.get("tasks") or []:
            if task.get("payload") == token and task.get("task_id"):
                return Created(str(task["task_id"]), _cost(task))
        return None

    def refusal(self, status: int, body: Any) -> UpstreamRefused:
        if isinstance(body, dict) and body.get("message"):
            message = f"{body.get('reason') or 'Error'}: {body['message']}"
            return UpstreamRefused(status, message, field_of(str(body["message"])))
        return UpstreamRefused(status, str(body)[:500], None)


def _cost(body: dict[str, Any]) -> dict[str, Any] | None:
    credits = body.get("credits")
    return {"credits": credits} if isinstance(credits, int) else None


PROVIDER = ViduProvider()
