"""Neutral replies: a translation key, its parameters and the choices offered.

Channels render them (``handlers/<channel>/render.py``); user text in ``params`` is
escaped there for the platform's markup, never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Text:
    """A translatable value used as a parameter of another message."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Choice:
    """One button / numbered option: ``value`` comes back as ``ChoicePicked``."""

    value: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()


def encode_params(params: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe form of params (``Text`` values become ``{"$t": key, "$p": ...}``)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, Text):
            out[name] = {"$t": value.key, "$p": encode_params(value.params)}
        else:
            out[name] = value
    return out


def decode_params(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict) and "$t" in value:
            out[name] = Text(str(value["$t"]), decode_params(value.get("$p", {})))
        else:
            out[name] = value
    return out


def dump_replies(replies: list[Reply]) -> list[dict[str, Any]]:
    """Replies as JSON-safe data (kept with a handled update, to answer it again)."""
    return [
        {
            "key": reply.key,
            "params": _json_safe(encode_params(reply.params)),
            "choices": [
                {"value": c.value, "key": c.key, "params": _json_safe(encode_params(c.params))}
                for c in reply.choices
            ],
        }
        for reply in replies
    ]


def load_replies(data: list[dict[str, Any]]) -> list[Reply]:
    return [
        Reply(
            str(item["key"]),
            decode_params(item.get("params", {})),
            tuple(
                Choice(str(c["value"]), str(c["key"]), decode_params(c.get("params", {})))
                for c in item.get("choices", ())
            ),
        )
        for item in data
    ]


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
