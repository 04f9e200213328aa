"""Where warden's configuration comes from, as pydantic-settings reads it: the TOML file, then the
``WARDEN_<SECTION>__<KEY>`` environment overrides laid over it (`overlay`), with secrets refused
wherever they are written as values.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsError, TomlConfigSettingsSource

from warden.adapters.config_types import ConfigError

# Key names that hold a secret: never a value in the file or an override.
SECRET_KEY = re.compile(r"(^|_)(password|passwd|secret|token|api_?key|apikey|passphrase|private_key)$")


def toml_source(settings: type[BaseSettings], path: str | Path | None) -> dict[str, Any]:
    """The file's tables (None: no file, nothing)."""
    if path is None:
        return {}
    try:
        Path(path).open("rb").close()  # the TOML source skips a file it cannot find; we do not
        return TomlConfigSettingsSource(settings, toml_file=Path(path))()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:  # names a position, quotes no value
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


class _Overrides(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (not ``os.environ``: tests and
    `warden signal` pass their own), taking only nested names such as ``WARDEN_INTAKE__PORT``:
    ``WARDEN_STORE``, ``WARDEN_CONFIG`` and ``WARDEN_INTAKE_SECRET`` are not overrides."""

    def __init__(self, settings: type[BaseSettings], env: Mapping[str, str]) -> None:
        prefix, nested = settings.model_config["env_prefix"], settings.model_config["env_nested_delimiter"]
        self.given = {name.lower(): value for name, value in env.items()
                      if name.upper().startswith(prefix) and nested in name[len(prefix):]}
        super().__init__(settings)
        for name in self.given:
            section = name[len(prefix):].split(nested)[0]
            if section not in settings.model_fields:
                raise ConfigError(f"{name.upper()}: {section} is not a section "
                                  f"(known: {', '.join(settings.model_fields)})")

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self.given


def environment_source(settings: type[BaseSettings], env: Mapping[str, str]) -> dict[str, Any]:
    """The overrides in ``env`` as nested tables (``{"intake": {"port": "9000"}}``); an array entry
    is addressed by its index (``{"exchanges": {"0": {...}}}``)."""
    try:
        return _Overrides(settings, env)()
    except SettingsError as e:  # an array or a table given as a value that is not JSON
        section = re.search(r'field "(\w+)"', str(e))
        prefix = settings.model_config["env_prefix"]
        where = f"{prefix}{section[1].upper()}__..." if section else "environment"
        raise ConfigError(f"{where}: an array or table must be given as JSON") from None


def overlay(base: Any, top: Any, where: str = "", *, prefix: str = "") -> Any:
    """``top`` laid over ``base``: tables merge key by key; ``{"0": {...}}`` updates the first entry
    of an array, which must exist (``prefix`` names the variables in that message)."""
    if isinstance(top, dict) and top and all(k.isdigit() for k in top) and isinstance(base, list | None):
        merged = list(base or [])
        for key, value in top.items():
            if int(key) >= len(merged):
                variable = f"{prefix}{where.upper()}__{key}__..."
                raise ConfigError(f"{where}[{key}]: not in the file, so {variable} has nothing to override")
            merged[int(key)] = overlay(merged[int(key)], value, f"{where}[{key}]", prefix=prefix)
        return merged
    if isinstance(base, dict) and isinstance(top, dict):
        return {**base, **{key: overlay(base.get(key), value, f"{where}.{key}".lstrip("."), prefix=prefix)
                           for key, value in top.items()}}
    return top


def refuse_inline_secrets(data: Any, path: str = "") -> None:
    """A secret written as a value in the file (or an override) is refused wherever it is."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        where = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else key
        if isinstance(key, str) and SECRET_KEY.search(key.lower()):
            raise ConfigError(f"{where}: secrets are never read from the configuration; "
                              f"name a variable with {key}_env or a file with {key}_file")
        refuse_inline_secrets(value, where)
