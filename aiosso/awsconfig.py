"""Reading ``~/.aws/config`` as botocore and the AWS CLI v2 read it, for SSO profiles.

Parsing is pure (text in, values out) and mirrors botocore's ``raw_config_parse`` /
``build_profile_map``: ``configparser.RawConfigParser`` rules (``#`` / ``;`` full-line
comments, no inline comments, option names lower-cased, ``[DEFAULT]`` values seen in every
section), indented ``key =`` blocks parsed as one level of sub-section (``s3 =``), sections
``[default]``, ``[profile NAME]`` and ``[sso-session NAME]`` (names split as a shell would,
so ``[profile "my name"]`` works and ``[profile a b]`` is ignored, as there).

Loading also merges the shared credentials file (``AWS_SHARED_CREDENTIALS_FILE``, else
``~/.aws/credentials``) into the profiles, as botocore's ``Session.full_config`` does: there a
section's name is the profile's name (no ``profile`` prefix; ``[profile x]`` names a profile
literally called ``profile x``, and no section is an sso-session), a profile only there
exists, and a key set in both files takes the credentials file's value. An absent, unreadable
or non-regular credentials file is ignored, as there; an invalid one is a
:class:`ConfigParseError`.

Resolution turns a profile into a frozen :class:`SSOProfile` with botocore's rules and its
exact error messages: values of the referenced sso-session override the profile's, and a
value set differently in both is an error. Where aiosso is stricter it says so: an empty
value (``sso_region =``) counts as missing, and a required key given as a sub-section is
refused by name.

Nothing here writes files, and no value from the files reaches a repr or an error message
unless it is an SSO setting or ``region`` (both files may hold ``aws_secret_access_key``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeAlias

import attrs

from aiosso._configfiles import (
    SESSION_KEYS,
    config_file_path,
    credentials_file_path,
    merged_profiles,
    parse_config_sections,
    parse_registration_scopes,
    profile_section,
    read_files,
    resolve_sso,
    selected_profile_name,
    split_sections,
    string_values,
)
from aiosso.exceptions import (
    ConfigParseError,
    InvalidConfigError,
    ProfileNotFound,
)

__all__ = [
    "AWSConfig",
    "ConfigParseError",
    "InvalidConfigError",
    "ProfileNotFound",
    "SSOProfile",
    "SSOSession",
    "config_file_path",
    "credentials_file_path",
    "load_config",
    "load_config_async",
    "merge_credentials",
    "parse_config",
    "parse_config_sections",
    "parse_registration_scopes",
    "resolve_profile_session",
    "resolve_sso_profile",
    "resolve_sso_session",
    "selected_profile_name",
]

#: A value in a section, a string or a one-level sub-section (``s3 =`` blocks).
ConfigValue: TypeAlias = "str | Mapping[str, str]"
#: One section: option name (lower-cased) to value.
Section: TypeAlias = "Mapping[str, ConfigValue]"


def _names_only(sections: Mapping[str, Section]) -> str:
    # A config file may hold aws_secret_access_key: reprs show section names only.
    return repr(sorted(sections))


@attrs.frozen(kw_only=True)
class AWSConfig:
    """A parsed config file: its profiles and sso-sessions by name (repr: names only).

    Args:
        profiles: ``[default]`` and ``[profile NAME]`` sections, by name, with the sections of
            the shared credentials file merged in (see :func:`merge_credentials`).
        sso_sessions: ``[sso-session NAME]`` sections, by name.
        path: the file it was read from, or ``None`` for text or an absent file.
        credentials_path: the shared credentials file merged into *profiles*, or ``None`` if
            none was (not asked for, absent, or unreadable).
    """

    profiles: Mapping[str, Section] = attrs.field(factory=dict, hash=False, repr=_names_only)
    sso_sessions: Mapping[str, Section] = attrs.field(factory=dict, hash=False, repr=_names_only)
    path: str | None = None
    credentials_path: str | None = None

    def profile(self, name: str) -> Section:
        """The raw section of profile *name*.

        Raises:
            ProfileNotFound: there is no such profile.
        """
        return profile_section(self.profiles, name)


@attrs.frozen(kw_only=True)
class SSOSession:
    """Where and how to get an SSO token: the token-provider part of a configuration.

    Args:
        session_name: the ``[sso-session NAME]``, or ``None`` for a legacy profile that sets
            ``sso_start_url`` / ``sso_region`` itself (such tokens are never refreshed).
        start_url: the AWS access portal URL.
        sso_region: the region of IAM Identity Center (and of its OIDC endpoint).
        registration_scopes: ``sso_registration_scopes``, split on commas and stripped; empty
            for legacy profiles.
    """

    session_name: str | None
    start_url: str
    sso_region: str
    registration_scopes: tuple[str, ...] = ()

    @property
    def display_name(self) -> str:
        """The session name, else the start URL (the name the AWS CLI uses in messages)."""
        return self.session_name if self.session_name is not None else self.start_url


@attrs.frozen(kw_only=True)
class SSOProfile:
    """A profile that gets role credentials through IAM Identity Center.

    Args:
        profile_name: the profile's name (``default`` for ``[default]``).
        session: the resolved token-provider part.
        account_id: ``sso_account_id``.
        role_name: ``sso_role_name``.
        region: the profile's ``region`` (for the clients built with the credentials), if set.
        credential_process: the profile's ``credential_process``, if set. Informational only:
            aiosso never runs it (a profile may point it at ``aiosso`` itself).
    """

    profile_name: str
    session: SSOSession
    account_id: str
    role_name: str
    region: str | None = None
    credential_process: str | None = None

    @property
    def start_url(self) -> str:
        """The session's start URL."""
        return self.session.start_url

    @property
    def sso_region(self) -> str:
        """The session's SSO region."""
        return self.session.sso_region

    @property
    def session_name(self) -> str | None:
        """The sso-session name, ``None`` for a legacy profile."""
        return self.session.session_name

    @property
    def registration_scopes(self) -> tuple[str, ...]:
        """The session's registration scopes."""
        return self.session.registration_scopes


# -- parsing (pure) ------------------------------------------------------------------------


def parse_config(text: str, *, path: str | None = None) -> AWSConfig:
    """Parse config-file *text* into profiles and sso-sessions (botocore's profile map).

    Section headers starting with ``profile`` name profiles, those starting with
    ``sso-session`` name sessions, ``[default]`` is the ``default`` profile; other sections
    are ignored. When a name appears twice (``[default]`` and ``[profile default]``) the later
    section wins, as in botocore.

    Raises:
        ConfigParseError: the text is not valid INI.
    """
    profiles, sessions = split_sections(parse_config_sections(text, path=path or "<string>"))
    return AWSConfig(profiles=profiles, sso_sessions=sessions, path=path)


def merge_credentials(config: AWSConfig, text: str, *, path: str | None = None) -> AWSConfig:
    """*config* with the shared credentials file's *text* merged into its profiles.

    botocore's ``Session.full_config``: every section of the credentials file is a profile
    named exactly as the section (``[dev]`` is ``dev``, ``[profile dev]`` is ``profile dev``;
    ``[sso-session x]`` is a profile too, never an sso-session). A profile only there is
    added; a profile in both keeps its config-file keys, and a key in both takes the
    credentials file's value (a sub-section block is replaced whole, not merged).

    Args:
        config: the parsed config file.
        text: the credentials file's content.
        path: the credentials file, for error messages and ``credentials_path``.

    Raises:
        ConfigParseError: *text* is not valid INI.
    """
    profiles = merged_profiles(config.profiles, text, path=path)
    return attrs.evolve(config, profiles=profiles, credentials_path=path)


# -- loading ------------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    credentials_file: str | os.PathLike[str] | bool = True,
) -> AWSConfig:
    """Read and parse the config file, and merge the shared credentials file into it
    (blocking; see :func:`load_config_async`).

    Args:
        path: the config file; ``None`` means :func:`config_file_path`.
        credentials_file: the shared credentials file to merge (see
            :func:`merge_credentials`); ``True`` means :func:`credentials_file_path`, whatever
            *path* is (as in botocore, the two are independent), ``False`` none.

    Returns:
        The parsed config. An absent config file gives an empty config, as in botocore (the
        profile lookup then raises :class:`ProfileNotFound`). A credentials file that is
        absent, not a regular file, or cannot be opened adds nothing, as in botocore (the
        last with a warning in the log).

    Raises:
        ConfigParseError: the config file exists but cannot be read; either file is not UTF-8
            or not valid INI.
    """
    profiles, sessions, file, credentials = read_files(path, credentials_file=credentials_file)
    return AWSConfig(
        profiles=profiles, sso_sessions=sessions, path=file, credentials_path=credentials
    )


async def load_config_async(
    path: str | os.PathLike[str] | None = None,
    *,
    credentials_file: str | os.PathLike[str] | bool = True,
) -> AWSConfig:
    """:func:`load_config` in a worker thread, so the event loop never waits on the disk."""
    from aiosso._filecache import to_thread

    return await to_thread(lambda: load_config(path, credentials_file=credentials_file))


# -- resolution ---------------------------------------------------------------------------


def resolve_sso_session(config: AWSConfig, session_name: str) -> SSOSession:
    """The ``[sso-session NAME]`` section as an :class:`SSOSession` (for ``--sso-session``).

    Raises:
        InvalidConfigError: no such session, or it lacks ``sso_start_url`` / ``sso_region``.
    """
    section = config.sso_sessions.get(session_name)
    if section is None:
        raise InvalidConfigError(
            error_msg=f'The specified sso-session does not exist: "{session_name}"'
        )
    owner = f'The sso-session "{session_name}"'
    values = string_values(owner, section, (*SESSION_KEYS, "sso_registration_scopes"))
    missing = [key for key in SESSION_KEYS if key not in values]
    if missing:
        raise InvalidConfigError(
            error_msg=f"{owner} is missing required configuration: {', '.join(missing)}"
        )
    return SSOSession(
        session_name=session_name,
        start_url=values["sso_start_url"],
        sso_region=values["sso_region"],
        registration_scopes=parse_registration_scopes(values.get("sso_registration_scopes")),
    )


def resolve_profile_session(config: AWSConfig, profile_name: str | None = None) -> SSOSession:
    """The token-provider part of a profile: its sso-session, or its legacy SSO keys.

    Unlike :func:`resolve_sso_profile` this does not need ``sso_account_id`` /
    ``sso_role_name``; it is what logging in or loading a token for a profile needs.

    Args:
        config: the parsed config.
        profile_name: the profile; ``None`` means :func:`selected_profile_name`.

    Raises:
        ProfileNotFound: no such profile.
        InvalidConfigError: the profile does not configure SSO, or its session is missing or
            incomplete (botocore's ``SSOTokenProvider`` messages).
    """
    name = profile_name or selected_profile_name()
    section = config.profile(name)
    owner = f'The profile "{name}"'
    session_name = string_values(owner, section, ("sso_session",)).get("sso_session")
    if session_name is not None:
        session = config.sso_sessions.get(session_name)
        if session is None:
            raise InvalidConfigError(
                error_msg=(
                    f"{owner} is configured to use the SSO token provider but the "
                    f'"{session_name}" sso_session configuration does not exist.'
                )
            )
        values = string_values(f'The sso-session "{session_name}"', session, SESSION_KEYS)
        missing = [key for key in SESSION_KEYS if key not in values]
        if missing:
            raise InvalidConfigError(
                error_msg=(
                    f"{owner} is configured to use the SSO token provider but is missing "
                    f"the following configuration: {missing}."
                )
            )
        return resolve_sso_session(config, session_name)
    values = string_values(owner, section, SESSION_KEYS)
    if not values:
        raise InvalidConfigError(
            error_msg=f"{owner} is not configured for SSO: it sets neither sso_session nor "
            "sso_start_url"
        )
    missing = [key for key in SESSION_KEYS if key not in values]
    if missing:
        raise InvalidConfigError(
            error_msg=(
                f"{owner} is configured to use SSO but is missing required configuration: "
                f"{', '.join(missing)}"
            )
        )
    return SSOSession(
        session_name=None, start_url=values["sso_start_url"], sso_region=values["sso_region"]
    )


def resolve_sso_profile(config: AWSConfig, profile_name: str | None = None) -> SSOProfile:
    """Resolve a profile that gets role credentials through SSO (botocore's ``SSOProvider``).

    The values of the referenced ``[sso-session]`` override the profile's; a key set in both
    to different values is an error. Required: ``sso_role_name``, ``sso_account_id``,
    ``sso_start_url``, ``sso_region`` (from either place).

    Args:
        config: the parsed config.
        profile_name: the profile; ``None`` means :func:`selected_profile_name`.

    Raises:
        ProfileNotFound: ``The config profile (X) could not be found``.
        InvalidConfigError: the profile sets neither ``sso_account_id`` nor ``sso_role_name``;
            ``The specified sso-session does not exist: "X"``; ``The value for K is
            inconsistent between profile (A) and sso-session (B).`` (the values left out
            unless K is an ``sso_*`` setting or ``region``); ``The profile "X" is configured
            to use SSO but is missing required configuration: k1, k2``.
    """
    values = resolve_sso(config.profiles, config.sso_sessions, profile_name)
    return SSOProfile(
        profile_name=values["profile_name"],
        session=SSOSession(
            session_name=values["session_name"],
            start_url=values["start_url"],
            sso_region=values["sso_region"],
            registration_scopes=values["registration_scopes"],
        ),
        account_id=values["account_id"],
        role_name=values["role_name"],
        region=values["region"],
        credential_process=values["credential_process"],
    )
