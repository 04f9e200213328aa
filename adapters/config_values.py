"""Reading configuration values: typed readers whose errors name the key, and `Secret`.

`Table` walks one TOML table, hands each key to a reader (`read_int`, `read_decimal`, ...) that
raises `ConfigError` starting with the key's path, and refuses keys nobody read (typos).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """Invalid configuration; the message starts with the key (``exchanges[1].venue: ...``)."""


class Secret:
    """A secret value that never shows itself: ``repr``/``str``/format give ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: Any) -> Secret:
        return self


# ----- reading values ---------------------------------------------------------------------------
class Table:
    """One TOML table being read: every key must be consumed, every error names its path."""

    def __init__(self, data: Any, path: str, env: Mapping[str, str]) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a table, got {type(data).__name__}")
        self.data, self.path, self.env, self.used = data, path, env, set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, default: Any, kind: Callable[[str, Any], Any]) -> Any:
        self.used.add(name)
        return default if name not in self.data else kind(self.key(name), self.data[name])

    def table(self, name: str) -> Table:
        self.used.add(name)
        return Table(self.data.get(name, {}), self.key(name), self.env)

    def secret(self, name: str, *, required: bool, default_env: str | None = None) -> Secret | None:
        env_key, file_key = f"{name}_env", f"{name}_file"
        var, path = self.get(env_key, None, read_text), self.get(file_key, None, read_text)
        if var and path:
            raise ConfigError(f"{self.key(env_key)}: give either {env_key} or {file_key}, not both")
        if path:
            return secret_file(self.key(file_key), path)
        if var or default_env:
            value = self.env.get(var or default_env or "")
            if value:
                return Secret(value.strip())
            if var:
                raise ConfigError(f"{self.key(env_key)}: environment variable {var} is not set or empty")
        if required:
            raise ConfigError(f"{self.key(env_key)}: required (or {self.key(file_key)})")
        return None

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(f"{self.key(unknown[0])}: unknown key (known: {', '.join(sorted(self.used))})")


def secret_file(key: str, path: str) -> Secret:
    try:
        value = Path(path).read_text(encoding="utf8").strip()
    except OSError as e:
        raise ConfigError(f"{key}: cannot read {path}: {e.strerror}") from None
    if not value:
        raise ConfigError(f"{key}: {path} is empty")
    return Secret(value)


def read_text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
    return value.strip()


def read_int(low: int, high: int | None = None) -> Callable[[str, Any], int]:
    def read(key: str, value: Any) -> int:
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if value < low or (high is not None and value > high):
            bound = f">= {low}" if high is None else f"between {low} and {high}"
            raise ConfigError(f"{key}: expected an integer {bound}, got {value}")
        return value
    return read


def read_decimal(low: Decimal, high: Decimal | None = None, *, strict_low: bool = False,
             ) -> Callable[[str, Any], Decimal]:
    def read(key: str, value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        too_low = number <= low if strict_low else number < low
        if not number.is_finite() or too_low or (high is not None and number >= high):
            rule = f"{'>' if strict_low else '>='} {low}" + (f" and < {high}" if high is not None else "")
            raise ConfigError(f"{key}: expected a number {rule}, got {value!r}")
        return number
    return read


def read_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def read_seconds(key: str, value: Any) -> float:
    return float(read_decimal(Decimal(0), strict_low=True)(key, value))


def read_choice(options: Mapping[str, Any]) -> Callable[[str, Any], Any]:
    def read(key: str, value: Any) -> Any:
        if not isinstance(value, str) or value.strip().lower() not in options:
            names = [f'"{o}"' for o in options if o != "binance"]
            expected = " or ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " or " + names[-1]
            raise ConfigError(f"{key}: expected {expected}, got {value!r}".replace("'", '"'))
        return options[value.strip().lower()]
    return read


def read_url(schemes: tuple[str, ...]) -> Callable[[str, Any], str]:
    def read(key: str, value: Any) -> str:
        text = read_text(key, value)
        parts = urlsplit(text)
        if parts.scheme not in schemes or not parts.netloc:
            raise ConfigError(f"{key}: expected a {' or '.join(schemes)} URL, got {text!r}")
        return text.rstrip("/")
    return read
