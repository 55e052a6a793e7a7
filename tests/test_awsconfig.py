"""~/.aws/config parsing and SSO profile resolution, checked against botocore."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiosso.awsconfig import (
    AWSConfig,
    ConfigParseError,
    InvalidConfigError,
    ProfileNotFound,
    SSOProfile,
    SSOSession,
    config_file_path,
    load_config,
    load_config_async,
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
    assert repr(config) == "AWSConfig(profiles=['a'], sso_sessions=['b'], path=None)"


def test_values_are_frozen(full: AWSConfig) -> None:
    """Resolved values are immutable and comparable."""
    profile = resolve_sso_profile(full, "dev")
    with pytest.raises(AttributeError):
        profile.role_name = "Admin"  # type: ignore[misc]
    assert profile == resolve_sso_profile(full, "dev")
    assert hash(profile) == hash(resolve_sso_profile(full, "dev"))
