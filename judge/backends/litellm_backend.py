"""Any model litellm reaches (``--model litellm/<provider>/<model>``), or a litellm Router
over several deployments (``router_config=router.yaml``, the proxy's ``model_list`` layout).

litellm reads each provider's key from that provider's usual variable. P(yes) comes
from logprobs where litellm says the model has them, else from structured verdicts.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml

# litellm fetches its price list from the internet at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import instructor  # noqa: E402
import litellm  # noqa: E402

from judge.backends.api import ApiBackend, ApiOptions, BackendConfigError, Endpoint, TokenCounts, usage_tokens  # noqa: E402
from judge.backends.base import Message  # noqa: E402
from judge.backends.logprobs import first_token_alternatives  # noqa: E402


litellm.suppress_debug_info = True


def load_router(path: str, timeout: float) -> litellm.Router:
    try:
        config = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise BackendConfigError(f"{path}: cannot read the router configuration: {e}") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_list"), list):
        raise BackendConfigError(f"{path}: a router configuration needs a 'model_list' (litellm's proxy layout)")
    settings = dict(config.get("router_settings") or {})
    settings.setdefault("num_retries", 0)  # our retry policy is the one that counts
    settings.setdefault("timeout", timeout)
    return litellm.Router(model_list=config["model_list"], **settings)


def model_has_logprobs(model: str) -> bool:
    try:
        return "logprobs" in (litellm.get_supported_openai_params(model=model) or [])
    except Exception:  # noqa: BLE001 - unknown to litellm: assume not
        return False


class LiteLLMBackend(ApiBackend):
    name = "litellm"
    default_key_env = ""

    def __init__(self, model: str, options: ApiOptions):
        self.router = load_router(options.router_config, options.timeout) if options.router_config else None
        # litellm reads each provider's own key variable; a self-hosted server may need none.
        self.key = (
            os.environ.get(options.api_key_env) if options.api_key_env else ("EMPTY" if options.base_url else None)
        )
        mode = options.mode
        if mode == "auto":
            mode = "logprobs" if self.router or options.base_url or model_has_logprobs(model) else "structured"
        super().__init__(model, options, mode=mode)

    def _endpoints(self) -> list[tuple[str, Endpoint]]:
        if self.router is not None:
            return [(f"router:{self.options.router_config}", self._endpoint(self.router.acompletion))]
        return [
            (
                url or "litellm",
                self._endpoint(
                    functools.partial(
                        litellm.acompletion, api_base=url, api_key=self.key, num_retries=0, timeout=self.options.timeout
                    )
                ),
            )
            for url in self.options.base_url or [None]
        ]

    @staticmethod
    def _endpoint(complete: Any) -> Endpoint:
        # instructor checks for a coroutine function; a partial of one is not recognised as such.
        async def acompletion(**kwargs: Any) -> Any:
            return await complete(**kwargs)

        return Endpoint(acompletion, instructor.from_litellm(acompletion, mode=instructor.Mode.TOOLS))

    async def call_logprobs(
        self, endpoint: Endpoint, messages: list[Message], *, max_tokens: int
    ) -> tuple[list[tuple[str, float]] | None, TokenCounts]:
        response = await endpoint.raw(
            model=self.model_id,
            messages=messages,
            max_tokens=max_tokens,
            temperature=0.0,
            logprobs=True,
            top_logprobs=self.options.top_logprobs,
        )
        return first_token_alternatives(response), usage_tokens(getattr(response, "usage", None))

    async def call_text(
        self, endpoint: Endpoint, messages: list[Message], *, max_tokens: int, temperature: float
    ) -> tuple[str, TokenCounts]:
        response = await endpoint.raw(
            model=self.model_id, messages=messages, max_tokens=max_tokens, temperature=temperature
        )
        if not response.choices:
            raise ValueError("the completion has no choices")
        return response.choices[0].message.content or "", usage_tokens(getattr(response, "usage", None))
