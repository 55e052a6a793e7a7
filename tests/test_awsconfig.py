"""~/.aws/config parsing and SSO profile resolution, checked against botocore."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from aiosso.awsconfig import (
    AWSConfig,
    ConfigParseError,
    InvalidConfigError,
    ProfileNotFound,
    SSOProfile,
    SSOSession,
    config_file_path,
    credentials_file_path,
    load_config,
    load_config_async,
    merge_credentials,
    parse_config,
    parse_config_sections,
    parse_registration_scopes,
    resolve_profile_session,
    resolve_sso_profile,
    resolve_sso_session,
    selected_profile_name,
)
from aiosso.exceptions import AioSSOError

FIXTURES = Path(__file__).parent / "fixtures" / "awsconfig"
FULL = FIXTURES / "full.ini"
ERRORS = FIXTURES / "errors.ini"
CREDENTIALS = FIXTURES / "credentials.ini"

MY_SSO = SSOSession(
    session_name="my-sso",
    start_url="https://d-abc.awsapps.com/start",
    sso_region="us-east-1",
    registration_scopes=("sso:account:access", "extra:scope"),
)


@pytest.fixture
def full() -> AWSConfig:
    """The well-formed fixture, parsed."""
    return load_config(FULL)


@pytest.fixture
def errors() -> AWSConfig:
    """The fixture of broken profiles, parsed."""
    return load_config(ERRORS)


def _botocore_sso_error(config_file: Path, profile: str) -> str:
    """The message botocore's SSOProvider raises for *profile* of *config_file*."""
    import botocore.session
    from botocore.credentials import SSOProvider

    session = botocore.session.Session()
    session.set_config_variable("config_file", str(config_file))
    provider = SSOProvider(
        load_config=lambda: session.full_config,
        client_creator=session.create_client,
        profile_name=profile,
    )
    with pytest.raises(Exception) as info:
        provider.load()
    return str(info.value)


def _botocore_token_error(config_file: Path, profile: str) -> str:
    """The message botocore's SSOTokenProvider raises for *profile* of *config_file*."""
    import botocore.session
    from botocore.tokens import SSOTokenProvider

    session = botocore.session.Session()
    session.set_config_variable("config_file", str(config_file))
    provider = SSOTokenProvider(session, profile_name=profile)
    with pytest.raises(Exception) as info:
        provider.load_token()
    return str(info.value)


# -- parsing ------------------------------------------------------------------------------


def test_parse_matches_botocore_profile_map() -> None:
    """Profiles and sso-sessions parse exactly as botocore's configloader parses them."""
    from botocore.configloader import load_config as botocore_load

    expected = botocore_load(str(FULL))
    ours = load_config(FULL)
    assert {k: dict(v) for k, v in ours.profiles.items()} == expected["profiles"]
    assert {k: dict(v) for k, v in ours.sso_sessions.items()} == expected["sso_sessions"]


def test_parse_sections_nested_block_and_comments() -> None:
    """Indented `key =` blocks become sub-sections; `#`/`;` lines are comments."""
    sections = parse_config_sections(FULL.read_text())
    assert sections["profile dev"]["s3"] == {
        "max_concurrent_requests": "20",
        "addressing_style": "path",
    }
    assert "preview" in sections
    assert all(not key.startswith(("#", ";")) for s in sections.values() for key in s)


def test_parse_section_names_like_botocore() -> None:
    """Quoted names work, three-word headers are ignored, other sections are not profiles."""
    config = load_config(FULL)
    assert "spaced name" in config.profiles
    assert "too" not in config.profiles
    assert "many" not in config.profiles
    assert "preview" not in config.profiles
    assert set(config.sso_sessions) == {"my-sso", "bare"}


def test_parse_no_inline_comments_and_lowercase_keys() -> None:
    """As in botocore: `#` after a value is part of it, option names are lower-cased."""
    config = parse_config("[profile a]\nRegion = us-east-1 # west\n")
    assert config.profiles["a"] == {"region": "us-east-1 # west"}


def test_parse_later_default_wins() -> None:
    """`[default]` and `[profile default]` both name `default`; the later section wins."""
    config = parse_config("[default]\nregion = a\n[profile default]\nregion = b\n")
    assert config.profiles["default"] == {"region": "b"}


def test_parse_registration_scopes() -> None:
    """Scopes split on commas, each stripped, blanks dropped (the CLI's rule)."""
    assert parse_registration_scopes(" a , ,b,") == ("a", "b")
    assert parse_registration_scopes("") == ()
    assert parse_registration_scopes(None) == ()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("aws_secret_access_key = s3cr3t\n[default]\n", "line 1: a setting appears before"),
        ("[default]\nregion = a\n[default]\n", "line 3: section [default] appears twice"),
        ("[default]\nregion = a\nregion = b\n", "line 3: option 'region' appears twice"),
        ("[default]\nnot a setting s3cr3t\n", "line 2: not a 'key = value' setting"),
        ("[default]\ns3 =\n  s3cr3t-without-equals\n", "[default] s3: an indented line"),
    ],
)
def test_malformed_config_names_file_and_line_not_content(text: str, reason: str) -> None:
    """Malformed INI raises ConfigParseError with the path and line, never the line's text."""
    with pytest.raises(ConfigParseError) as info:
        parse_config(text, path="/x/config")
    message = str(info.value)
    assert message.startswith("Unable to parse config file: /x/config: ")
    assert reason in message
    assert "s3cr3t" not in message
    assert isinstance(info.value, InvalidConfigError)
    assert isinstance(info.value, AioSSOError)


def test_load_non_utf8_config(tmp_path: Path) -> None:
    """A config file that is not UTF-8 is a ConfigParseError naming the file."""
    path = tmp_path / "config"
    path.write_bytes(b"[default]\nregion = \xff\n")
    with pytest.raises(ConfigParseError, match="not UTF-8"):
        load_config(path)


def test_load_unreadable_config(tmp_path: Path) -> None:
    """A config path that cannot be read (here a directory) is a clear error, not empty."""
    with pytest.raises(ConfigParseError, match="cannot be read"):
        load_config(tmp_path)


def test_load_absent_config_is_empty(tmp_path: Path) -> None:
    """An absent file is an empty config (as botocore), so profile lookup says what is wrong."""
    config = load_config(tmp_path / "nope")
    assert config.profiles == {}
    assert config.sso_sessions == {}
    with pytest.raises(ProfileNotFound, match=r"^The config profile \(dev\) could not be found$"):
        resolve_sso_profile(config, "dev")


def test_load_uses_aws_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """`AWS_CONFIG_FILE` is honoured, with `~` and `$VAR` expanded."""
    monkeypatch.setenv("FIXDIR", str(FIXTURES))
    monkeypatch.setenv("AWS_CONFIG_FILE", "$FIXDIR/full.ini")
    assert config_file_path() == FULL
    assert "dev" in load_config().profiles


def test_default_config_path_is_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without `AWS_CONFIG_FILE` the file is `~/.aws/config` under the current HOME."""
    monkeypatch.delenv("AWS_CONFIG_FILE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_file_path() == tmp_path / ".aws" / "config"


async def test_load_config_async(monkeypatch: pytest.MonkeyPatch) -> None:
    """The async loader gives the same config as the blocking one."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(FULL))
    assert await load_config_async() == load_config()


def test_selected_profile_name() -> None:
    """`AWS_PROFILE` wins over `AWS_DEFAULT_PROFILE`; `default` otherwise; empty is unset."""
    assert selected_profile_name({}) == "default"
    assert selected_profile_name({"AWS_DEFAULT_PROFILE": "b"}) == "b"
    assert selected_profile_name({"AWS_PROFILE": "a", "AWS_DEFAULT_PROFILE": "b"}) == "a"
    assert selected_profile_name({"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "b"}) == "b"


# -- resolution ---------------------------------------------------------------------------


def test_resolve_sso_session_profile(full: AWSConfig) -> None:
    """A profile with sso_session resolves to the session's URL, region and scopes."""
    profile = resolve_sso_profile(full, "dev")
    assert profile == SSOProfile(
        profile_name="dev",
        session=MY_SSO,
        account_id="111122223333",
        role_name="ReadOnly",
        region="eu-west-1",
    )
    assert (profile.start_url, profile.sso_region, profile.session_name) == (
        "https://d-abc.awsapps.com/start",
        "us-east-1",
        "my-sso",
    )
    assert profile.registration_scopes == ("sso:account:access", "extra:scope")


def test_resolve_legacy_profile(full: AWSConfig) -> None:
    """A legacy profile (sso_start_url in the profile) has no session name and no scopes."""
    profile = resolve_sso_profile(full, "legacy")
    assert profile.session == SSOSession(
        session_name=None, start_url="https://d-legacy.awsapps.com/start", sso_region="us-east-2"
    )
    assert profile.session.display_name == "https://d-legacy.awsapps.com/start"
    assert profile.region is None


def test_resolve_selected_by_aws_profile(full: AWSConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a name, `AWS_PROFILE` picks the profile."""
    monkeypatch.setenv("AWS_PROFILE", "spaced name")
    assert resolve_sso_profile(full).role_name == "Spaced"


def test_resolve_equal_values_in_profile_and_session(full: AWSConfig) -> None:
    """A key set to the same value in profile and session is fine."""
    assert resolve_sso_profile(full, "same-region").sso_region == "us-east-1"


def test_resolve_keeps_credential_process(full: AWSConfig) -> None:
    """credential_process is reported (never run): a profile may point it at aiosso itself."""
    profile = resolve_sso_profile(full, "wrapped")
    assert profile.credential_process == "aiosso credential-process --profile dev"


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (
            "partial",
            'The profile "partial" is configured to use SSO but is missing required '
            "configuration: sso_role_name, sso_start_url, sso_region",
        ),
        ("ghost", 'The specified sso-session does not exist: "nope"'),
        (
            "conflict",
            "The value for sso_region is inconsistent between profile (us-east-1) and "
            "sso-session (eu-west-1).",
        ),
        (
            "incomplete-session",
            'The profile "incomplete-session" is configured to use SSO but is missing '
            "required configuration: sso_start_url",
        ),
    ],
)
def test_resolve_errors_are_botocores(errors: AWSConfig, profile: str, message: str) -> None:
    """Broken SSO profiles raise InvalidConfigError with botocore's exact message."""
    with pytest.raises(InvalidConfigError) as info:
        resolve_sso_profile(errors, profile)
    assert str(info.value) == message
    assert _botocore_sso_error(ERRORS, profile) == message


def test_profile_not_found_is_botocores(full: AWSConfig) -> None:
    """An unknown profile raises ProfileNotFound with botocore's message."""
    import botocore.exceptions
    import botocore.session

    with pytest.raises(ProfileNotFound) as info:
        resolve_sso_profile(full, "missing")
    with pytest.raises(botocore.exceptions.ProfileNotFound) as theirs:
        botocore.session.Session(profile="missing").get_scoped_config()
    assert str(info.value) == str(theirs.value) == "The config profile (missing) could not be found"
    assert isinstance(info.value, AioSSOError)


def test_resolve_empty_value_counts_as_missing(errors: AWSConfig) -> None:
    """Stricter than botocore: `sso_role_name =` (empty) is reported missing, not used."""
    with pytest.raises(InvalidConfigError, match=r"missing required configuration: sso_role_name$"):
        resolve_sso_profile(errors, "empty-role")


def test_resolve_sub_section_value_refused(errors: AWSConfig) -> None:
    """A required key written as an indented sub-section is refused by name."""
    with pytest.raises(InvalidConfigError, match="sets sso_role_name as a sub-section"):
        resolve_sso_profile(errors, "nested-role")


def test_resolve_profile_without_sso(errors: AWSConfig) -> None:
    """A profile with no SSO keys is a clear error, and its other values are not quoted."""
    with pytest.raises(InvalidConfigError) as info:
        resolve_sso_profile(errors, "plain")
    assert "is not configured for SSO" in str(info.value)
    assert "AKIDEXAMPLE" not in str(info.value)


def test_resolve_sso_session_by_name(full: AWSConfig) -> None:
    """`--sso-session NAME` resolves the section directly."""
    assert resolve_sso_session(full, "my-sso") == MY_SSO


def test_resolve_sso_session_errors(full: AWSConfig) -> None:
    """An unknown or incomplete sso-session is named in the error."""
    with pytest.raises(
        InvalidConfigError, match=r'^The specified sso-session does not exist: "x"$'
    ):
        resolve_sso_session(full, "x")
    with pytest.raises(
        InvalidConfigError,
        match=r'^The sso-session "bare" is missing required configuration: sso_region$',
    ):
        resolve_sso_session(full, "bare")


def test_resolve_profile_session(full: AWSConfig) -> None:
    """The token-provider part of a profile: its session, or its legacy keys."""
    assert resolve_profile_session(full, "dev") == MY_SSO
    assert resolve_profile_session(full, "legacy").session_name is None


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (
            "ghost",
            'The profile "ghost" is configured to use the SSO token provider but the "nope" '
            "sso_session configuration does not exist.",
        ),
        (
            "incomplete-session",
            'The profile "incomplete-session" is configured to use the SSO token provider but '
            "is missing the following configuration: ['sso_start_url'].",
        ),
    ],
)
def test_resolve_profile_session_errors_are_botocores(
    errors: AWSConfig, profile: str, message: str
) -> None:
    """Token-provider errors carry botocore SSOTokenProvider's exact messages."""
    with pytest.raises(InvalidConfigError) as info:
        resolve_profile_session(errors, profile)
    assert str(info.value) == message
    assert _botocore_token_error(ERRORS, profile) == message


def test_resolve_profile_session_legacy_incomplete(errors: AWSConfig) -> None:
    """A legacy profile lacking sso_region, or a profile without SSO, is named clearly."""
    with pytest.raises(InvalidConfigError, match=r"missing required configuration: sso_region$"):
        resolve_profile_session(errors, "legacy-half")
    with pytest.raises(InvalidConfigError, match="neither sso_session nor sso_start_url"):
        resolve_profile_session(errors, "plain")


def test_config_repr_shows_names_only() -> None:
    """AWSConfig's repr lists section names, never values (a config may hold secret keys)."""
    config = parse_config("[profile a]\naws_secret_access_key = s3cr3t\n[sso-session b]\n")
    assert repr(config) == (
        "AWSConfig(profiles=['a'], sso_sessions=['b'], path=None, credentials_path=None)"
    )
    merged = merge_credentials(config, "[c]\naws_secret_access_key = s3cr3t\n", path="/x/creds")
    assert repr(merged) == (
        "AWSConfig(profiles=['a', 'c'], sso_sessions=['b'], path=None, credentials_path='/x/creds')"
    )


def test_values_are_frozen(full: AWSConfig) -> None:
    """Resolved values are immutable and comparable."""
    profile = resolve_sso_profile(full, "dev")
    with pytest.raises(AttributeError):
        profile.role_name = "Admin"  # type: ignore[misc]
    assert profile == resolve_sso_profile(full, "dev")
    assert hash(profile) == hash(resolve_sso_profile(full, "dev"))


# -- the shared credentials file, merged as botocore merges it ------------------------------


def _botocore_session(config_file: Path, credentials_file: Path | str) -> Any:
    """A botocore Session reading exactly these two files."""
    import botocore.session

    session = botocore.session.Session()
    session.set_config_variable("config_file", str(config_file))
    session.set_config_variable("credentials_file", str(credentials_file))
    return session


def _botocore_sso_config(session: Any, profile: str) -> dict[str, str] | str | None:
    """botocore SSOProvider's resolved SSO values, ``None`` (not SSO), or its error text."""
    from botocore.credentials import SSOProvider

    provider = SSOProvider(
        load_config=lambda: session.full_config,
        client_creator=session.create_client,
        profile_name=profile,
    )
    try:
        resolved: dict[str, str] | None = provider._load_sso_config()
    except Exception as exc:
        return str(exc)
    return resolved


def _our_sso_config(config: AWSConfig, profile: str) -> dict[str, str] | str | None:
    """The same view of aiosso's resolution, for comparison with :func:`_botocore_sso_config`."""
    try:
        resolved = resolve_sso_profile(config, profile)
    except InvalidConfigError as exc:
        return None if "is not configured for SSO" in str(exc) else str(exc)
    values = {
        "sso_start_url": resolved.start_url,
        "sso_region": resolved.sso_region,
        "sso_role_name": resolved.role_name,
        "sso_account_id": resolved.account_id,
    }
    if resolved.session_name is not None:
        values["sso_session"] = resolved.session_name
    return values


#: Profiles where aiosso is deliberately stricter than botocore (see the tests above).
STRICTER = frozenset({"empty-role", "nested-role"})


def test_merged_profiles_are_botocores() -> None:
    """Profiles with the credentials file merged in equal botocore's `Session.full_config`."""
    theirs = _botocore_session(FULL, CREDENTIALS).full_config
    ours = load_config(FULL, credentials_file=CREDENTIALS)
    assert {k: dict(v) for k, v in ours.profiles.items()} == theirs["profiles"]
    assert {k: dict(v) for k, v in ours.sso_sessions.items()} == theirs["sso_sessions"]
    assert ours.credentials_path == str(CREDENTIALS)
    assert ours.profiles["dev"]["s3"] == {"addressing_style": "virtual"}  # replaced whole


@pytest.mark.parametrize(
    "profile",
    sorted(
        set(load_config(FULL, credentials_file=CREDENTIALS).profiles)
        | set(load_config(ERRORS, credentials_file=CREDENTIALS).profiles) - STRICTER
    ),
)
@pytest.mark.parametrize("config_file", [FULL, ERRORS], ids=["full", "errors"])
def test_resolution_with_credentials_is_botocores(config_file: Path, profile: str) -> None:
    """Every profile of config + credentials resolves (or fails) exactly as in botocore."""
    config = load_config(config_file, credentials_file=CREDENTIALS)
    session = _botocore_session(config_file, CREDENTIALS)
    if profile not in config.profiles:
        import botocore.exceptions
        import botocore.session

        assert profile not in session.available_profiles
        with pytest.raises(ProfileNotFound):
            resolve_sso_profile(config, profile)
        with pytest.raises(botocore.exceptions.ProfileNotFound):
            botocore.session.Session(profile=profile).get_scoped_config()
        return
    assert _our_sso_config(config, profile) == _botocore_sso_config(session, profile)


def test_profile_only_in_credentials_file_resolves() -> None:
    """A profile only in the credentials file is found, on the config file's sso-session."""
    config = load_config(FULL, credentials_file=CREDENTIALS)
    assert resolve_sso_profile(config, "creds-only") == SSOProfile(
        profile_name="creds-only",
        session=MY_SSO,
        account_id="999988887777",
        role_name="FromCredentials",
    )
    assert resolve_sso_profile(config, "creds-legacy").session == SSOSession(
        session_name=None,
        start_url="https://d-creds.awsapps.com/start",
        sso_region="ap-southeast-2",
    )
    assert resolve_profile_session(config, "creds-only") == MY_SSO


def test_credentials_file_key_wins() -> None:
    """A key set in both files takes the credentials file's value; the others stay."""
    config = load_config(FULL, credentials_file=CREDENTIALS)
    profile = resolve_sso_profile(config, "dev")
    assert (profile.role_name, profile.account_id, profile.region) == (
        "Admin",
        "111122223333",
        "eu-west-1",
    )
    with pytest.raises(InvalidConfigError) as info:
        resolve_sso_profile(config, "same-region")
    assert str(info.value) == (
        "The value for sso_region is inconsistent between profile (eu-west-3) and "
        "sso-session (us-east-1)."
    )


def test_credentials_sections_are_named_as_written() -> None:
    """No `profile ` prefix there: `[profile x]` and `[sso-session y]` are profiles named so."""
    config = load_config(FULL, credentials_file=CREDENTIALS)
    assert config.profiles["profile legacy"] == {"sso_role_name": "NotTheLegacyRole"}
    assert resolve_sso_profile(config, "legacy").role_name == "Admin"
    assert "sso-session my-sso" in config.profiles
    assert resolve_sso_session(config, "my-sso") == MY_SSO


def test_credentials_override_picks_botocores_cache_entry() -> None:
    """`[dev] sso_role_name = Admin` there: the cache-hit path serves the entry botocore does."""
    from botocore.credentials import SSOProvider
    from botocore.utils import JSONFileCache as BotoCache

    from aiosso.profiles import cached_credentials_for_profile
    from aiosso.tokencache import (
        CachedRoleCredentials,
        RoleCredentialCache,
        default_credential_cache_dir,
        role_credentials_cache_key,
    )

    def no_client(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("botocore should have used the cache")

    config_file = Path(os.environ["AWS_CONFIG_FILE"])
    config_file.parent.mkdir(parents=True)
    shutil.copy(FULL, config_file)
    shutil.copy(CREDENTIALS, os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    cache = RoleCredentialCache()
    for role in ("ReadOnly", "Admin"):
        key = role_credentials_cache_key(
            account_id="111122223333", role_name=role, session_name="my-sso"
        )
        entry = CachedRoleCredentials(
            access_key_id=f"ASIA{role.upper()}",
            secret_access_key="secret",
            session_token="token",
            expiration=datetime(2099, 1, 1, tzinfo=timezone.utc),
            account_id="111122223333",
        )
        cache.save_sync(key, entry)
    session = _botocore_session(config_file, os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    provider = SSOProvider(
        load_config=lambda: session.full_config,
        client_creator=no_client,
        profile_name="dev",
        cache=BotoCache(str(default_credential_cache_dir())),
    )
    theirs = provider.load().get_frozen_credentials().access_key
    ours = cached_credentials_for_profile("dev")
    assert ours is not None
    assert (ours.access_key_id, ours.role_name) == (theirs, "Admin") == ("ASIAADMIN", "Admin")


def test_credentials_file_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`AWS_SHARED_CREDENTIALS_FILE` (expanded), else `~/.aws/credentials`; empty: none."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("FIXDIR", str(FIXTURES))
    assert credentials_file_path({"AWS_SHARED_CREDENTIALS_FILE": "$FIXDIR/c"}) == FIXTURES / "c"
    assert credentials_file_path({"AWS_SHARED_CREDENTIALS_FILE": "~/c"}) == tmp_path / "c"
    assert credentials_file_path({}) == tmp_path / ".aws" / "credentials"
    assert credentials_file_path({"AWS_SHARED_CREDENTIALS_FILE": ""}) is None
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE")
    assert credentials_file_path() == tmp_path / ".aws" / "credentials"


def test_credentials_file_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """load_config merges the variable's file whatever the config path; empty reads none."""
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(CREDENTIALS))
    assert resolve_sso_profile(load_config(FULL), "dev").role_name == "Admin"
    assert "creds-only" not in load_config(FULL, credentials_file=False).profiles
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "")
    config = load_config(FULL)
    assert "creds-only" not in config.profiles
    assert config.credentials_path is None
    assert "creds-only" not in _botocore_session(FULL, "").available_profiles


async def test_load_config_async_merges_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The async loader merges the credentials file too, and passes the choice through."""
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(CREDENTIALS))
    assert await load_config_async(FULL) == load_config(FULL)
    assert "creds-only" in (await load_config_async(FULL)).profiles
    without = await load_config_async(FULL, credentials_file=False)
    assert "creds-only" not in without.profiles


@pytest.mark.parametrize("kind", ["absent", "folder", "device"])
def test_credentials_file_not_a_file_is_ignored(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An absent credentials file, a folder or /dev/null adds nothing, silently, as in botocore."""
    target = {"absent": tmp_path / "nope", "folder": tmp_path, "device": Path(os.devnull)}[kind]
    with caplog.at_level(logging.DEBUG, logger="aiosso"):
        config = load_config(FULL, credentials_file=target)
    assert caplog.records == []
    assert config == load_config(FULL, credentials_file=False)
    assert config.credentials_path is None
    assert _botocore_session(FULL, target).full_config["profiles"].keys() == config.profiles.keys()


def test_unreadable_credentials_file_is_ignored_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A credentials file that cannot be opened adds nothing (as in botocore); the log says so."""
    creds = tmp_path / "credentials"
    shutil.copy(CREDENTIALS, creds)
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self == creds:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with caplog.at_level(logging.WARNING, logger="aiosso"):
        config = load_config(FULL, credentials_file=creds)
    assert "creds-only" not in config.profiles
    assert [r.getMessage() for r in caplog.records] == [
        f"Ignoring the shared credentials file {creds}: it cannot be read (Permission denied)"
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            b"aws_secret_access_key = s3cr3t\n",
            "line 1: a setting appears before any [section] header",
        ),
        (b"[dev]\naws_secret_access_key = s3cr3t\xff\n", "not UTF-8 (byte 36)"),
    ],
)
def test_invalid_credentials_file_is_a_parse_error(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    """An invalid credentials file fails like botocore's (ConfigParseError), naming the file."""
    import botocore.exceptions

    creds = tmp_path / "credentials"
    creds.write_bytes(content)
    with pytest.raises(ConfigParseError) as info:
        load_config(FULL, credentials_file=creds)
    assert str(info.value) == f"Unable to parse config file: {creds}: {reason}"
    assert "s3cr3t" not in str(info.value)
    with pytest.raises(botocore.exceptions.ConfigParseError):
        _ = _botocore_session(FULL, creds).full_config


def test_inconsistent_non_sso_value_is_not_quoted() -> None:
    """A conflict on a key that may hold a secret names the key, never the values."""
    config = merge_credentials(
        parse_config("[sso-session s]\naws_secret_access_key = s3cr3t-a\n"),
        "[p]\nsso_session = s\nsso_role_name = R\naws_secret_access_key = s3cr3t-b\n",
    )
    with pytest.raises(InvalidConfigError) as info:
        resolve_sso_profile(config, "p")
    assert str(info.value) == (
        "The value for aws_secret_access_key is inconsistent between profile and sso-session."
    )
