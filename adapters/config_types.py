"""The pieces warden's configuration models are made of: bounded field types, URLs that may not
carry a password, secrets read from the environment or a file, and one-line error messages.

Every message starts with the key's dotted name (``exchanges[0].ws_url: ...``) and never repeats a
secret: secrets are never values in the file, and a URL that carries a password is refused without
being echoed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, get_args
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

# A query parameter that carries a secret (``password=``, ``sslpassword=``, ``api_key=``, ...).
_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|api_?key|signature|credential", re.IGNORECASE)


class ConfigError(ValueError):
    """Invalid configuration: one line, starting with the key (``exchanges[1].venue: ...``)."""


def invalid(detail: str, key: str | None = None) -> PydanticCustomError:
    """A validation error whose message is ``detail``; ``key`` names a sub-key of where it is raised
    (a model validator knows which of its keys is wrong, pydantic only knows the model)."""
    return PydanticCustomError("warden", "{detail}", {"detail": detail, "key": key or ""})


# ----- bounded values ---------------------------------------------------------------------------
def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic takes true for 1; in a config it is a mistake
        raise invalid(f"expected an integer, got {value}")
    return value


def Int(ge: int, le: int) -> Any:
    return Annotated[int, BeforeValidator(_no_bool), Field(ge=ge, le=le)]


def Number(ge: float | None = None, le: float | None = None, *, gt: float | None = None,
           lt: float | None = None) -> Any:
    """A finite `Decimal` within bounds (percentages, rates): exact, never a float."""
    return Annotated[Decimal, Field(ge=ge, le=le, gt=gt, lt=lt, allow_inf_nan=False)]


def Seconds(ge: float, le: float) -> Any:
    return Annotated[float, Field(ge=ge, le=le, allow_inf_nan=False)]


_STRIPPED = BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v)
Percent = Number(gt=0, lt=100)
Text = Annotated[str, Field(min_length=1), _STRIPPED]


# ----- URLs -------------------------------------------------------------------------------------
def _check_url(schemes: tuple[str, ...], hint: str, needs_host: bool) -> Any:
    def check(text: str) -> str:
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 (raises on a port out of range or not a number)
        except ValueError as e:
            raise invalid(f"not a valid URL ({e})") from None
        if parts.password is not None or any(_SECRET_PARAM.search(k) for k, _ in parse_qsl(parts.query)):
            raise invalid(f"contains a password; warden never reads one from a URL: {hint}")
        if parts.scheme not in schemes:
            names = [f"{s}://" for s in schemes]
            expected = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
            raise invalid(f"expected a {expected} URL, got " +
                          (f"a {parts.scheme}:// one" if parts.scheme else "no scheme"))
        if needs_host and not parts.hostname:
            raise invalid("the URL names no host")
        return text.rstrip("/") if needs_host else text
    return check


def Url(schemes: tuple[str, ...], hint: str, *, needs_host: bool = True) -> Any:
    """A URL of one of ``schemes``; one that carries a password (``user:pass@`` or a query
    parameter such as ``password=``) is refused with ``hint`` saying where the secret goes."""
    return Annotated[str, _STRIPPED, AfterValidator(_check_url(schemes, hint, needs_host))]


# ----- secrets ----------------------------------------------------------------------------------
# The environment secrets are read from while `secrets_from` is in force. Not a validation context:
# a BaseSettings model validates through its __init__, which drops the context.
_environment: ContextVar[Mapping[str, str]] = ContextVar("warden_secrets_environment",
                                                        default=MappingProxyType({}))


@contextmanager
def secrets_from(env: Mapping[str, str]) -> Iterator[None]:
    token = _environment.set(env)
    try:
        yield
    finally:
        _environment.reset(token)


def resolve_secret(data: Any, name: str, *, required: bool, default_env: str | None = None) -> Any:
    """``data`` (a section's raw keys) with ``name`` set to a `SecretStr` read from the variable
    named by ``<name>_env`` or the file named by ``<name>_file``; a model validator calls it."""
    if not isinstance(data, dict) or isinstance(data.get(name), SecretStr):
        return data
    env = _environment.get()
    env_key, file_key = f"{name}_env", f"{name}_file"
    var, path = data.get(env_key), data.get(file_key)
    for key, value in ((env_key, var), (file_key, path)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise invalid("expected a non-empty string", key)
    if var and path:
        raise invalid(f"give either {env_key} or {file_key}, not both", env_key)
    value = None
    if path:
        value = _read_secret_file(file_key, path.strip())
    elif var or default_env:
        value = (env.get(var.strip() if var else default_env or "") or "").strip() or None
        if value is None and var:
            raise invalid(f"environment variable {var.strip()} is not set or empty", env_key)
    if value is None and required:
        raise invalid(f"required (or {file_key})", env_key)
    return {**data, name: SecretStr(value)} if value is not None else data


def _read_secret_file(key: str, path: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise invalid(f"cannot read {path}: {getattr(e, 'strerror', None) or e}", key) from None
    if not value:
        raise invalid(f"{path} is empty", key)
    return value


# ----- messages ---------------------------------------------------------------------------------
def dotted(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("exchanges", 0, "ws_url")`` -> ``exchanges[0].ws_url``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


_PLAIN = {  # pydantic's error types, said as this file's messages say them
    "int_parsing": "expected an integer", "int_from_float": "expected an integer",
    "int_type": "expected an integer",
    "decimal_parsing": "expected a number", "decimal_type": "expected a number",
    "float_parsing": "expected a number", "float_type": "expected a number",
    "finite_number": "expected a finite number", "bool_parsing": "expected true or false",
    "bool_type": "expected true or false", "string_type": "expected a string",
    "string_too_short": "expected a non-empty string", "tuple_type": "expected an array",
    "model_type": "expected a table", "model_attributes_type": "expected a table",
}
_BOUNDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def describe(error: ValidationError, root: type[BaseModel], at: tuple[str, ...] = ()) -> str:
    """The first problem as one line starting with its key (``root`` validated at ``at``), and how
    many more there are."""
    errors = error.errors(include_url=False)
    first = errors[0]
    loc, kind = tuple(first["loc"]), first["type"]
    if kind == "warden":
        key, detail = first["ctx"]["key"], first["ctx"]["detail"]
        loc = (*loc, *key.replace("[", ".").replace("]", "").split(".")) if key else loc
        loc = tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in loc)
    elif kind == "extra_forbidden":
        detail = f"unknown key (known: {', '.join(known_keys(root, loc[:-1]))})"
    elif kind == "missing":
        detail = "required"
    else:
        if kind.startswith(("greater_than", "less_than")):
            detail = f"expected {_range(_field(root, loc))}"
        else:
            detail = _PLAIN.get(kind) or first["msg"].replace("Input should be", "expected")
        value = first.get("input")
        if isinstance(value, str | int | float | Decimal) and not isinstance(value, bool):
            detail += f", got {_shown(value)}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{dotted(at + loc) or 'configuration'}: {detail}{more}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _range(field: FieldInfo) -> str:
    """``an integer between 0 and 65535``, ``a number > 0 and < 100``."""
    noun = "an integer" if field.annotation is int else "a number"
    bounds = {name: getattr(m, name) for m in field.metadata for name in _BOUNDS if hasattr(m, name)}
    if set(bounds) == {"ge", "le"}:
        return f"{noun} between {bounds['ge']} and {bounds['le']}"
    return noun + " " + " and ".join(f"{_BOUNDS[name]} {value}" for name, value in bounds.items())


def _model(annotation: Any) -> Any:
    """The model inside ``tuple[Model, ...]`` or ``Model | None``."""
    while get_args(annotation) and not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        annotation = next(a for a in get_args(annotation) if a is not type(None) and a is not Ellipsis)
    return annotation


def _field(root: type[BaseModel], loc: tuple[Any, ...]) -> FieldInfo:
    model: Any = root
    names = [part for part in loc if isinstance(part, str)]
    for name in names[:-1]:
        model = _model(model.model_fields[name].annotation)
    return model.model_fields[names[-1]]


def known_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys one may write at ``loc``: the model's fields, less the secrets resolved from
    ``*_env``/``*_file`` (they are not keys of the file)."""
    model: Any = root
    for part in loc:
        if isinstance(part, str):
            model = _model(model.model_fields[part].annotation)
    return sorted(name for name in model.model_fields if f"{name}_env" not in model.model_fields)
