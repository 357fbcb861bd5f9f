"""A minimal client for OpenAI-compatible chat endpoints (vLLM, llama.cpp server, TGI, Ollama, ...),
standard library only."""
from __future__ import annotations

import http.client
import json
import math
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional

__all__ = ["OpenAIChat", "GenerationError"]

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class GenerationError(RuntimeError):
    """The endpoint failed for good: a non-retryable HTTP error, or every retry used up."""


class OpenAIChat:
    """``generate(prompt) -> str`` backed by ``POST {base_url}/chat/completions``.

    Parameters
    ----------
    base_url : the API root as for the OpenAI client, e.g. "http://127.0.0.1:8000/v1".
    model : the model name the server expects.
    api_key : sent as "Authorization: Bearer <api_key>" when given.
    timeout : seconds for one HTTP request (connect + read).
    max_retries : further attempts after a connection error, a timeout, or HTTP 408/409/425/429/5xx,
        with exponential backoff (``backoff`` · 2^attempt seconds, or the server's Retry-After,
        capped at 60 s). Other HTTP errors (400, 401, 404, ...) fail at once.
    max_concurrency : requests in flight at once from this client, across threads.
    temperature, max_tokens, system : request options; ``system`` is prepended as a system message.
    extra_body : further JSON fields merged into every request (e.g. {"top_p": 0.9}).

    The client is thread-safe; call it from a thread pool to overlap requests.
    """

    def __init__(self, base_url: str, model: str, api_key: Optional[str] = None, timeout: float = 120.0,
                 max_retries: int = 3, max_concurrency: int = 4, temperature: float = 0.0,
                 max_tokens: Optional[int] = None, system: Optional[str] = None, backoff: float = 1.0,
                 extra_body: Optional[Dict[str, Any]] = None):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL such as 'http://127.0.0.1:8000/v1', got {base_url!r}")
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty string, got {model!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
                or timeout <= 0:
            raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
        if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) or not math.isfinite(backoff) \
                or backoff < 0:
            raise ValueError(f"backoff must be a finite number of seconds >= 0, got {backoff!r}")
        for name, value, low in (("max_retries", max_retries, 0), ("max_concurrency", max_concurrency, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
            raise ValueError(f"max_tokens must be None or an integer >= 1, got {max_tokens!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.system = system
        self.backoff = float(backoff)
        self.extra_body = dict(extra_body or {})
        self._api_key = api_key
        self._slots = threading.BoundedSemaphore(max_concurrency)

    def __repr__(self) -> str:
        return f"OpenAIChat({self.url!r}, model={self.model!r})"

    def _request_body(self, prompt: str) -> bytes:
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + \
            [{"role": "user", "content": prompt}]
        body = {"model": self.model, "messages": messages, "temperature": self.temperature}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        body.update(self.extra_body)
        return json.dumps(body).encode("utf-8")

    def __call__(self, prompt: str) -> str:
        """The assistant message's content for a single-turn chat with ``prompt``."""
        if not isinstance(prompt, str):
            raise ValueError(f"prompt must be str, got {type(prompt).__name__}")
        data = self._request_body(prompt)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        last = None
        for attempt in range(self.max_retries + 1):
            wait = self.backoff * 2 ** attempt
            try:
                with self._slots:
                    req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                    with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                        payload = resp.read()
                return self._content(payload)
            except urllib.error.HTTPError as e:
                detail = e.read()[:500].decode("utf-8", "replace")
                if e.code not in _RETRY_STATUS:
                    raise GenerationError(f"{self.url} answered HTTP {e.code}: {detail}") from None
                last = f"HTTP {e.code}: {detail}"
                retry_after = e.headers.get("Retry-After") if e.headers else None
                if retry_after:
                    try:
                        wait = float(retry_after)
                    except ValueError:
                        pass
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as e:
                last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if attempt < self.max_retries:
                time.sleep(min(wait, 60.0))
        raise GenerationError(f"{self.url} failed after {self.max_retries + 1} attempt(s); last error: {last}")

    def _content(self, payload: bytes) -> str:
        try:
            obj = json.loads(payload)
            content = obj["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise GenerationError(f"{self.url} returned no choices[0].message.content: "
                                  f"{payload[:300].decode('utf-8', 'replace')}") from None
        if not isinstance(content, str):
            raise GenerationError(f"{self.url} returned content of type {type(content).__name__}, expected a string")
        return content
