"""The light core of :mod:`aiosso.awsconfig`: the AWS config and credentials files as plain
dicts, and SSO profile resolution as plain values.

No attrs, no logging, no asyncio at import time: a cache-hit ``aiosso credential-process``
resolves its profile with this module alone (see :mod:`aiosso._quick`), and
:mod:`aiosso.awsconfig` wraps the same functions into its frozen value objects, so there is
one set of rules. botocore's behaviour is described in :mod:`aiosso.awsconfig`.
"""

from __future__ import annotations

import configparser
import os
import shlex
import stat
from collections.abc import Mapping
from pathlib import Path

from aiosso.exceptions import ConfigParseError, InvalidConfigError, ProfileNotFound

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any, TypeAlias

    #: A value in a section: a string, or a one-level sub-section (``s3 =`` blocks).
    ConfigValue: TypeAlias = "str | Mapping[str, str]"
    #: One section: option name (lower-cased) to value.
    Section: TypeAlias = "Mapping[str, ConfigValue]"

PROFILE_KEYS = ("sso_role_name", "sso_account_id")
SESSION_KEYS = ("sso_start_url", "sso_region")


# -- parsing (pure) ------------------------------------------------------------------------


def _describe_parse_error(error: configparser.Error) -> str:
    # configparser's own messages quote whole lines; report positions only.
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno}: a setting appears before any [section] header"
    if isinstance(error, configparser.DuplicateSectionError):
        return f"line {error.lineno}: section [{error.section}] appears twice"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"line {error.lineno}: option {error.option!r} appears twice in [{error.section}]"
    if isinstance(error, configparser.ParsingError):
        lines = ", ".join(str(lineno) for lineno, _line in error.errors)
        return f"line {lines}: not a 'key = value' setting"
    return type(error).__name__


def _parse_nested(value: str) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for line in value.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, sub = line.partition("=")
        if not sep:
            raise ValueError("an indented line in a sub-section is not a 'key = value' setting")
        parsed[key.strip()] = sub.strip()
    return parsed


def parse_config_sections(
    text: str, *, path: str = "<string>"
) -> dict[str, dict[str, ConfigValue]]:
    """Parse INI *text* into ``{section name: {option: value}}`` (botocore's raw parse).

    Args:
        text: the file's content.
        path: used in error messages only.

    Returns:
        Every section in file order; a value that starts with a newline (an indented block
        under ``key =``) becomes a ``dict`` of its ``sub = value`` lines.

    Raises:
        ConfigParseError: the text is not valid INI (the message gives line numbers).
    """
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=path)
    except configparser.Error as e:
        raise ConfigParseError(path=path, reason=_describe_parse_error(e)) from None
    sections: dict[str, dict[str, ConfigValue]] = {}
    for name in parser.sections():
        options: dict[str, ConfigValue] = {}
        for option in parser.options(name):
            raw = parser.get(name, option)
            if raw.startswith("\n"):
                try:
                    options[option] = _parse_nested(raw)
                except ValueError as e:
                    reason = f"[{name}] {option}: {e}"
                    raise ConfigParseError(path=path, reason=reason) from None
            else:
                options[option] = raw
        sections[name] = options
    return sections


def _section_name(header: str) -> str | None:
    try:
        parts = shlex.split(header)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 else None


def split_sections(
    sections: Mapping[str, Section],
) -> tuple[dict[str, Section], dict[str, Section]]:
    """``(profiles, sso-sessions)`` of a config file's sections, by name (see
    :func:`aiosso.awsconfig.parse_config` for the rules)."""
    profiles: dict[str, Section] = {}
    sessions: dict[str, Section] = {}
    for header, values in sections.items():
        if header.startswith("profile"):
            target: dict[str, Section] | None = profiles
        elif header.startswith("sso-session"):
            target = sessions
        elif header == "default":
            profiles["default"] = values
            continue
        else:
            target = None
        if target is not None and (name := _section_name(header)) is not None:
            target[name] = values
    return profiles, sessions


def merged_profiles(
    profiles: Mapping[str, Section], text: str, *, path: str | None = None
) -> dict[str, Section]:
    """*profiles* with the shared credentials file's *text* merged in (see
    :func:`aiosso.awsconfig.merge_credentials` for the rules).

    Raises:
        ConfigParseError: *text* is not valid INI.
    """
    merged: dict[str, Section] = dict(profiles)
    for name, values in parse_config_sections(text, path=path or "<string>").items():
        merged[name] = {**merged.get(name, {}), **values}
    return merged


def parse_registration_scopes(raw: str | None) -> tuple[str, ...]:
    """Split ``sso_registration_scopes`` as the AWS CLI does: on commas, stripped, no blanks."""
    if not raw:
        return ()
    return tuple(scope for part in raw.split(",") if (scope := part.strip()))


# -- loading ------------------------------------------------------------------------------


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def config_file_path(environ: Mapping[str, str] | None = None) -> Path:
    """``AWS_CONFIG_FILE`` (``~`` and ``$VARS`` expanded), else ``~/.aws/config``."""
    raw = _env(environ).get("AWS_CONFIG_FILE") or os.path.join("~", ".aws", "config")
    return Path(os.path.expanduser(os.path.expandvars(raw)))


def selected_profile_name(environ: Mapping[str, str] | None = None) -> str:
    """The profile to use: ``AWS_PROFILE``, else ``AWS_DEFAULT_PROFILE``, else ``default``.

    An empty variable counts as unset.
    """
    env = _env(environ)
    return env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"


def credentials_file_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """``AWS_SHARED_CREDENTIALS_FILE`` (``~`` and ``$VARS`` expanded), else
    ``~/.aws/credentials``.

    ``None`` when the variable is set but empty: botocore then reads no credentials file.
    """
    raw = _env(environ).get("AWS_SHARED_CREDENTIALS_FILE")
    if raw is None:
        raw = os.path.join("~", ".aws", "credentials")
    elif not raw:
        return None
    return Path(os.path.expanduser(os.path.expandvars(raw)))


def _decode(data: bytes, file: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        reason = f"not UTF-8 (byte {e.start})"
        raise ConfigParseError(path=str(file), reason=reason) from None


def _read_credentials(file: Path) -> str | None:
    """The credentials file's text, or ``None`` where botocore reads nothing: the file is
    absent or not a regular file (``/dev/null``, a folder), or cannot be opened."""
    try:
        if not stat.S_ISREG(file.stat().st_mode):
            return None
        data = file.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        # botocore skips it without a word (configparser.read ignores what it cannot open);
        # the log says why its profiles and keys are not there.
        import logging  # only here: the light path never logs

        logging.getLogger("aiosso.awsconfig").warning(
            "Ignoring the shared credentials file %s: it cannot be read (%s)",
            file,
            e.strerror or type(e).__name__,
        )
        return None
    return _decode(data, file)


def read_files(
    path: str | os.PathLike[str] | None = None,
    *,
    credentials_file: str | os.PathLike[str] | bool = True,
) -> tuple[dict[str, Section], dict[str, Section], str, str | None]:
    """``(profiles, sso-sessions, config path, credentials path merged or None)``: the files
    read and merged as :func:`aiosso.awsconfig.load_config` documents (blocking).

    Raises:
        ConfigParseError: the config file exists but cannot be read; either file is not UTF-8
            or not valid INI.
    """
    file = config_file_path() if path is None else Path(path)
    profiles: dict[str, Section] = {}
    sessions: dict[str, Section] = {}
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as e:
        reason = f"cannot be read ({e.strerror or type(e).__name__})"
        raise ConfigParseError(path=str(file), reason=reason) from None
    else:
        sections = parse_config_sections(_decode(data, file), path=str(file))
        profiles, sessions = split_sections(sections)
    if credentials_file is False:
        return profiles, sessions, str(file), None
    credentials = credentials_file_path() if credentials_file is True else Path(credentials_file)
    if credentials is None:
        return profiles, sessions, str(file), None
    text = _read_credentials(credentials)
    if text is None:
        return profiles, sessions, str(file), None
    merged = merged_profiles(profiles, text, path=str(credentials))
    return merged, sessions, str(file), str(credentials)


# -- resolution ---------------------------------------------------------------------------


def profile_section(profiles: Mapping[str, Section], name: str) -> Section:
    """The raw section of profile *name*.

    Raises:
        ProfileNotFound: there is no such profile.
    """
    try:
        return profiles[name]
    except KeyError:
        raise ProfileNotFound(profile=name) from None


def string_values(owner: str, section: Section, keys: tuple[str, ...]) -> dict[str, str]:
    """The *keys* that *section* sets to a non-empty string (sub-sections refused)."""
    found: dict[str, str] = {}
    for key in keys:
        value = section.get(key)
        if isinstance(value, Mapping):
            raise InvalidConfigError(
                error_msg=f"{owner} sets {key} as a sub-section; it must be a single value"
            )
        if value:
            found[key] = value
    return found


def _inconsistent(key: str, in_profile: ConfigValue, in_session: ConfigValue) -> str:
    # botocore's message; values shown only for SSO settings and region: the profile may
    # come from the credentials file, where keys hold secrets.
    if key.startswith("sso_") or key == "region":
        return (
            f"The value for {key} is inconsistent between profile ({in_profile}) and "
            f"sso-session ({in_session})."
        )
    return f"The value for {key} is inconsistent between profile and sso-session."


def resolve_sso(
    profiles: Mapping[str, Section],
    sessions: Mapping[str, Section],
    profile_name: str | None = None,
) -> dict[str, Any]:
    """The values of an SSO profile, resolved with botocore's rules and messages (see
    :func:`aiosso.awsconfig.resolve_sso_profile`, which wraps this): ``profile_name``,
    ``session_name`` (None for a legacy profile), ``start_url``, ``sso_region``,
    ``registration_scopes``, ``account_id``, ``role_name``, ``region``,
    ``credential_process``.

    Raises:
        ProfileNotFound, InvalidConfigError: as :func:`aiosso.awsconfig.resolve_sso_profile`.
    """
    name = profile_name or selected_profile_name()
    section = profile_section(profiles, name)
    owner = f'The profile "{name}"'
    if all(key not in section for key in PROFILE_KEYS):
        raise InvalidConfigError(
            error_msg=f"{owner} is not configured for SSO: it sets neither sso_account_id "
            "nor sso_role_name"
        )
    merged: dict[str, ConfigValue] = dict(section)
    session_name = string_values(owner, section, ("sso_session",)).get("sso_session")
    scopes: tuple[str, ...] = ()
    if session_name is not None:
        session = sessions.get(session_name)
        if session is None:
            raise InvalidConfigError(
                error_msg=f'The specified sso-session does not exist: "{session_name}"'
            )
        for key, value in session.items():
            if merged.get(key, value) != value:
                raise InvalidConfigError(error_msg=_inconsistent(key, merged[key], value))
            merged[key] = value
        raw_scopes = string_values(
            f'The sso-session "{session_name}"', session, ("sso_registration_scopes",)
        )
        scopes = parse_registration_scopes(raw_scopes.get("sso_registration_scopes"))
    required = (*PROFILE_KEYS, *SESSION_KEYS)
    values = string_values(owner, merged, required)
    missing = [key for key in required if key not in values]
    if missing:
        raise InvalidConfigError(
            error_msg=(
                f"{owner} is configured to use SSO but is missing required configuration: "
                f"{', '.join(missing)}"
            )
        )
    extras = string_values(owner, section, ("region", "credential_process"))
    return {
        "profile_name": name,
        "session_name": session_name,
        "start_url": values["sso_start_url"],
        "sso_region": values["sso_region"],
        "registration_scopes": scopes,
        "account_id": values["sso_account_id"],
        "role_name": values["sso_role_name"],
        "region": extras.get("region"),
        "credential_process": extras.get("credential_process"),
    }
