"""A running vLLM server's adapters over plain HTTP (the web side imports no torch): load, unload and list.
The same endpoints ``engine.rollout.vllm.VLLMClient.push_adapter`` uses; the server runs with
``--enable-lora`` and ``VLLM_ALLOW_RUNTIME_LORA_UPDATING`` (``engine.serve``)."""

from __future__ import annotations

import httpx

TIMEOUT_S = 120.0


class LoraError(RuntimeError):
    pass


def _post(root_url: str, path: str, payload: dict, *, ok_missing: bool = False) -> None:
    try:
        response = httpx.post(f"{root_url}/v1/{path}", json=payload, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise LoraError(f"{path}: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400 and not (ok_missing and response.status_code in (400, 404)):
        raise LoraError(f"{path}: HTTP {response.status_code}: {response.text[:500]}")


def lora_load(root_url: str, *, name: str, path: str) -> None:
    _post(root_url, "load_lora_adapter", {"lora_name": name, "lora_path": str(path)})


def lora_unload(root_url: str, *, name: str) -> None:
    """Unload ``name``; an adapter the server does not hold is fine."""
    _post(root_url, "unload_lora_adapter", {"lora_name": name}, ok_missing=True)


def served_models(root_url: str, *, timeout_s: float = 5.0) -> set[str] | None:
    """The model names ``/v1/models`` lists (the base and every loaded adapter); None when it does not answer."""
    try:
        response = httpx.get(f"{root_url}/v1/models", timeout=timeout_s)
        response.raise_for_status()
        return {m["id"] for m in response.json().get("data", [])}
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
