"""Any OpenAI Videos server (`/v1/videos`: stillmotion's own openai dialect, vLLM-Omni, SGLang
Diffusion, NIM, ...).

Create: `POST /v1/videos` JSON `{model, prompt, input_reference: {image_url}, seconds, size}` plus
stillmotion's pass-through fields where the job has them, with `Idempotency-Key`; answer a Video
`{id, status}`. Query: `GET /v1/videos/{id}` -> status queued / in_progress / completed / failed
(`error.code` "canceled" for a canceled one), `progress`. The result is `GET /v1/videos/{id}/content`
(and `?variant=thumbnail`) on the server itself, with the key: the poller fetches those with its own
client (the host is the operator's), not through the SSRF guard. Cancel: `DELETE /v1/videos/{id}`.
No cost in the answers."""

from __future__ import annotations

from typing import Any

from stillmotion.dialects.openai_videos import PASS_THROUGH  # stillmotion's extensions, sent when the job has them

from .base import MB, Created, Request, Status, UpstreamRefused, field_of

STATES = {"queued": "queued", "in_progress": "running", "completed": "succeeded", "failed": "failed"}


class OpenAIVideosProvider:
    name = "openai-videos"
    max_inline_bytes = 10 * MB
    idempotent_create = True
    can_cancel = True

    def create(self, model: str, args: dict[str, Any], token: str, callback_url: str | None = None,
               spec: dict[str, Any] | None = None) -> Request:
        images = args.get("images") if isinstance(args.get("images"), list) else [args.get("image")]
        body: dict[str, Any] = {"model": model, "prompt": args.get("prompt") or "",
                                "input_reference": {"image_url": images[0]}}
        if args.get("image_tail"):
            body["input_reference_end"] = {"image_url": args["image_tail"]}
        duration = (spec or {}).get("duration") or args.get("duration")
        if duration is not None:
            body["seconds"] = str(duration)
        if spec and spec.get("width") and spec.get("height"):
            body["size"] = f"{spec['width']}x{spec['height']}"
        body.update({k: args[k] for k in PASS_THROUGH if k in args})
        return Request("POST", "/v1/videos", json=body, headers={"Idempotency-Key": token})

    def created(self, body: Any) -> Created:
        video_id = body.get("id")
        if not isinstance(video_id, str) or not video_id:
            raise ValueError("no id in the create answer")
        return Created(video_id, None)

    def query(self, upstream_id: str) -> Request:
        return Request("GET", f"/v1/videos/{upstream_id}")

    def status(self, body: Any) -> Status:
        state = STATES.get(body.get("status"))
        if state is None:
            raise ValueError(f"unknown video status {body.get('status')!r}")
        error = body.get("error") or {}
        if state == "failed" and error.get("code") == "canceled":
            state = "canceled"
        video_id = body.get("id")
        video = f"/v1/videos/{video_id}/content" if state == "succeeded" else None
        cover = f"/v1/videos/{video_id}/content?variant=thumbnail" if state == "succeeded" else None
        message = f"{error.get('code')}: {error.get('message')}" if error else None
        return Status(state, video, cover, message, body.get("progress"))

    def cancel(self, upstream_id: str) -> Request | None:
        return Request("DELETE", f"/v1/videos/{upstream_id}")

    def refusal(self, status: int, body: Any) -> UpstreamRefused:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or error)
            return UpstreamRefused(status, message, error.get("param") or field_of(message))
        return UpstreamRefused(status, str(body)[:500], None)


PROVIDER = OpenAIVideosProvider()
