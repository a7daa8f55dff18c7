"""``mock-as``: run the mock servers by hand.

``mock-as serve`` has one flag per knob, generated from the pydantic ``Knobs`` model (the field description
is the help text). Precedence: defaults < ``--preset`` < ``--config`` < ``MOCK_AS_<KNOB>`` env < flags.
Any bad flag or value exits 2 with one line that names the valid choices.
"""

from __future__ import annotations

import difflib
import gc
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin

import click
from pydantic import BeforeValidator, ValidationError
from pydantic.fields import FieldInfo

from mock_as.knobs import PRESETS, KnobError, Knobs, from_preset, load_toml, one_line

ENV_PREFIX = "MOCK_AS_"
_SKIP = {"preset"}  # set through --preset


# -- knob flags, generated from the model ----------------------------------------------------------------

def _unwrap_optional(ann: Any) -> tuple[Any, bool]:
    if get_origin(ann) in (typing.Union, types.UnionType):
        args = [a for a in get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return ann, False


def _kind(field: FieldInfo) -> str:
    """bool | duration | choice | list | dict | int | float | str."""
    ann, _ = _unwrap_optional(field.annotation)
    if any(isinstance(m, BeforeValidator) for m in field.metadata):
        return "duration"
    if ann is bool:
        return "bool"
    if get_origin(ann) is Literal:
        return "choice"
    if get_origin(ann) is list:
        return "list"
    if get_origin(ann) is dict:
        return "dict"
    return {int: "int", float: "float"}.get(ann, "str")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default_text(name: str, field: FieldInfo) -> str:
    default = Knobs().model_dump(mode="json")[name]
    return json.dumps(default) if isinstance(default, list | dict) or default is None else str(default)


def _parse_json(name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise KnobError(f"{name}: {raw!r} is not valid JSON") from None


def _list_value(name: str, field: FieldInfo, values: tuple[str, ...] | list[str]) -> list[Any]:
    """Repeatable flag values: each is one item, or a JSON list of items (objects for structured lists)."""
    ann, _ = _unwrap_optional(field.annotation)
    structured = get_args(ann) and get_args(ann)[0] is not str
    out: list[Any] = []
    for raw in values:
        raw = raw.strip()
        if raw.startswith("["):
            doc = _parse_json(name, raw)
            out.extend(doc if isinstance(doc, list) else [doc])
        elif structured or raw.startswith("{"):
            out.append(_parse_json(name, raw))
        elif raw:
            out.append(raw)
    return out


def _dict_value(name: str, values: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Repeatable ``KEY=VALUE`` pairs, or JSON objects."""
    out: dict[str, Any] = {}
    for raw in values:
        raw = raw.strip()
        if raw.startswith("{"):
            doc = _parse_json(name, raw)
            if not isinstance(doc, dict):
                raise KnobError(f"{name}: expected a JSON object or KEY=VALUE")
            out.update(doc)
        elif "=" in raw:
            key, _, value = raw.rpartition("=")
            out[key.strip()] = value.strip()
        elif raw:
            raise KnobError(f"{name}: expected KEY=VALUE (e.g. /.well-known/oauth-authorization-server=404) "
                            "or a JSON object")
    return out


def _bool_value(name: str, raw: str) -> bool:
    v = raw.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise KnobError(f"{name}: {raw!r} is not a boolean; use true or false")


def env_overrides(environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    """Knob values from ``MOCK_AS_<KNOB>`` variables (strings; lists/dicts as JSON or comma-separated)."""
    out: dict[str, Any] = {}
    for name, field in Knobs.model_fields.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None or name in _SKIP:
            continue
        kind = _kind(field)
        if kind == "bool":
            out[name] = _bool_value(name, raw)
        elif kind == "list":
            out[name] = _list_value(name, field, [raw] if raw.strip()[:1] in "[{" else raw.split(","))
        elif kind == "dict":
            out[name] = _dict_value(name, [raw] if raw.strip().startswith("{") else raw.split(","))
        else:
            out[name] = None if raw == "" and _unwrap_optional(field.annotation)[1] else raw
    return out


def knob_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """One click option per knob (bools as --x/--no-x). Unset flags are None, so precedence is ours."""
    for name, field in reversed(list(Knobs.model_fields.items())):
        if name in _SKIP:
            continue
        kind = _kind(field)
        help_text = f"{field.description or name} [default: {_default_text(name, field)}]"
        flag = _flag(name)
        if kind == "bool":
            fn = click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=help_text)(fn)
        elif kind == "choice":
            choices = [str(c) for c in get_args(_unwrap_optional(field.annotation)[0])]
            fn = click.option(flag, name, type=click.Choice(choices), default=None, help=help_text)(fn)
        elif kind in ("list", "dict"):
            metavar = "KEY=VALUE|JSON" if kind == "dict" else ("JSON" if "pre_registered" in name else "VALUE|JSON")
            fn = click.option(flag, name, multiple=True, metavar=metavar,
                              help=help_text + " (repeatable)")(fn)
        else:
            metavar = {"duration": "DURATION", "int": "INT", "float": "NUMBER"}.get(kind, "TEXT")
            fn = click.option(flag, name, default=None, metavar=metavar, help=help_text)(fn)
    return fn


def flag_overrides(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in Knobs.model_fields.items():
        if name in _SKIP or name not in values:
            continue
        value = values[name]
        kind = _kind(field)
        if kind in ("list", "dict"):
            if value:
                out[name] = _list_value(name, field, value) if kind == "list" else _dict_value(name, value)
        elif value is not None:
            out[name] = None if value == "" and _unwrap_optional(field.annotation)[1] else value
    return out


def resolve_knobs(preset: str | None, config: str | None, environ: dict[str, str] | os._Environ[str],
                  flags: dict[str, Any]) -> Knobs:
    """defaults < preset < config < env < flags. Raises KnobError (one line)."""
    from_config = load_toml(config) if config else {}
    preset = preset or environ.get(ENV_PREFIX + "PRESET") or from_config.pop("preset", None)
    from_config.pop("preset", None)
    knobs = from_preset(preset) if preset else Knobs()
    for layer in (from_config, env_overrides(environ), flags):
        if layer:
            knobs = knobs.patched(layer)
    return knobs


# -- the commands -------------------------------------------------------------------------------------

class _Group(click.Group):
    """Turns every usage error into one line on stderr and exit status 2."""

    def main(self, args: Any = None, prog_name: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.pop("standalone_mode", None)
        try:
            return super().main(args, prog_name or "mock-as", standalone_mode=False, **kwargs)
        except click.NoSuchOption as exc:
            _fail(_no_such_option(exc))
        except click.UsageError as exc:
            _fail(exc.format_message().replace("\n", " "))
        except (KnobError, ValidationError) as exc:
            _fail(str(exc) if isinstance(exc, KnobError) else one_line(exc))
        except click.exceptions.Abort:
            sys.exit(130)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"mock-as: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)


def _no_such_option(exc: click.NoSuchOption) -> str:
    ctx = exc.ctx
    valid: list[str] = []
    if ctx is not None:
        for param in ctx.command.params:
            valid += [o for o in param.opts if o.startswith("--")]
    close = difflib.get_close_matches(exc.option_name, valid, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    return f"no such option {exc.option_name}.{hint} Valid options: {', '.join(valid) or 'none'}"


def _fail(message: str) -> None:
    click.echo(f"mock-as: error: {message}", err=True)
    sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def main() -> None:
    """The mock OAuth authorization server and MCP resource server of the conformance harness."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=int, default=8765, show_default=True, help="port for the MCP origin (0: pick one)")
@click.option("--as-port", type=int, default=0, show_default=True,
              help="port for the AS origin with --layout as_separate_origin (0: pick one)")
@click.option("--public-host", default=None, help="host name to put in URLs (default: the listen address)")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None,
              help="start from the knobs of a real authorization server")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="a TOML file of knobs (top level or a [knobs] table)")
@click.option("--manual-clock", is_flag=True, help="a clock that moves only via POST /_admin/clock")
@click.option("--journal-jsonl", type=click.Path(dir_okay=False, writable=True), default=None,
              help="append every journal entry to this JSONL file as it happens")
@click.option("--admin-token", default=None, envvar="MOCK_AS_ADMIN_TOKEN",
              help="bearer token for /_admin (required off loopback; generated when not given) "
                   "[env: MOCK_AS_ADMIN_TOKEN]")
@click.option("--quiet", "-q", is_flag=True, help="do not log one line per request")
@knob_options
def serve(host: str, port: int, as_port: int, public_host: str | None, preset: str | None, config: str | None,
          manual_clock: bool, journal_jsonl: str | None, admin_token: str | None, quiet: bool,
          **knob_flags: Any) -> None:
    """Serve the mock AS and MCP server until Ctrl-C or SIGTERM."""
    from mock_as.clock import ManualClock, SystemClock
    from mock_as.server import LOOPBACK, MockServer

    knobs = resolve_knobs(preset, config, os.environ, flag_overrides(knob_flags))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if host not in LOOPBACK and not admin_token:
        admin_token = secrets.token_urlsafe(24)
    out_lock = threading.Lock()

    def say(line: str) -> None:
        with out_lock:
            click.echo(line)
            sys.stdout.flush()

    def log_request(info: dict[str, Any]) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime()) + f".{int(time.time() * 1000) % 1000:03d}"
        actor = f" actor={info['actor']}" if info.get("actor") else ""
        extra = "".join(f" {k}={info[k]}" for k in ("fault", "dropped") if info.get(k))
        status = info.get("status") if info.get("status") is not None else "-"
        say(f"{stamp} {info['method']} {info['path']} {status} {info['duration_ms']:.1f}ms "
            f"{info['endpoint']}{actor}{extra}")

    stop = _install_signal_handlers()  # before anything is printed: a prompt SIGTERM still exits 0
    srv = MockServer(knobs=knobs, clock=ManualClock() if manual_clock else SystemClock(), host=host, port=port,
                     as_port=as_port, public_host=public_host, request_log=None if quiet else log_request,
                     admin_token=admin_token)
    if journal_jsonl:
        _journal_to_file(srv, journal_jsonl)
    try:
        srv.start()
    except OSError as exc:
        click.echo(f"mock-as: error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    # What startup built (the mcp SDK, pydantic, authlib) lives as long as the process: keep it out of the
    # collector's full scans, which otherwise pause every request for tens of ms as the journal grows.
    gc.freeze()
    _print_urls(srv, say, admin_token if host not in LOOPBACK else None, journal_jsonl)
    while not stop.wait(0.2):
        pass
    srv.stop()
    say("mock-as: stopped")


def _journal_to_file(srv: Any, path: str) -> None:
    fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - kept open for the server's lifetime
    lock = threading.Lock()

    def write(entry: Any) -> None:
        line = json.dumps(entry.to_dict(), default=str, ensure_ascii=False)
        with lock:
            fh.write(line + "\n")
            fh.flush()

    srv.journal.subscribe(write)


def _print_urls(srv: Any, say: Callable[[str], None], admin_token: str | None, jsonl: str | None) -> None:
    from mock_as.discovery import plan_for

    urls, plan = srv.urls, plan_for(srv.knobs)
    k = srv.knobs
    meta = [urls.as_origin + p for p in plan.as_metadata_paths + plan.oidc_paths]
    say(f"mock-as serving: layout {k.layout}" + (f", preset {k.preset}" if k.preset else "")
        + f", clock {getattr(srv.clock, 'kind', 'system')}")
    say(f"  issuer:        {urls.issuer}")
    say(f"  MCP resource:  {urls.resource}")
    say(f"  PRM:           {urls.prm or '(none in this layout)'}")
    for i, m in enumerate(meta):
        say(f"  {'AS metadata:' if i == 0 else '':<14} {m}")
    say(f"  admin:         {urls.origin}/_admin/  (OpenAPI: {urls.origin}/_admin/openapi.json)")
    if admin_token:
        say(f"  admin token:   {admin_token}  (send Authorization: Bearer <token> to /_admin)")
    if jsonl:
        say(f"  journal:       {jsonl}")
    say("press Ctrl-C to stop")


def _install_signal_handlers() -> threading.Event:
    """SIGINT and SIGTERM set the returned event; serve then stops the servers and exits 0."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


@main.command()
def presets() -> None:
    """List the presets (knobs of real authorization servers)."""
    for name, settings in PRESETS.items():
        click.echo(f"{name:<10} " + ", ".join(f"{k}={json.dumps(v)}" for k, v in settings.items()))


@main.command(name="knobs")
@click.option("--json", "as_json", is_flag=True, help="print the defaults as JSON")
def knobs_cmd(as_json: bool) -> None:
    """List every knob with its default, flag and description."""
    if as_json:
        click.echo(json.dumps(Knobs().model_dump(mode="json"), indent=2))
        return
    for name, field in Knobs.model_fields.items():
        kind = _kind(field)
        flag = "--preset" if name in _SKIP else _flag(name)
        click.echo(f"{name:<28} {kind:<9} default={_default_text(name, field):<12} {flag}  {field.description or ''}")


if __name__ == "__main__":  # pragma: no cover
    main()
