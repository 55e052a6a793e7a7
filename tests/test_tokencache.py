"""The SSO token cache: CLI/botocore file compatibility, atomic writes, locks, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest

from aiosso.awsconfig import SSOSession
from aiosso.exceptions import AioSSOError
from aiosso.tokencache import (
    CachedRoleCredentials,
    CacheFileError,
    CacheLockTimeoutError,
    ClientRegistration,
    CorruptCacheFileError,
    JSONFileCache,
    RoleCredentialCache,
    SSOToken,
    SSOTokenCache,
    SSOTokenLoadError,
    default_credential_cache_dir,
    default_token_cache_dir,
    format_timestamp,
    parse_timestamp,
    registration_cache_key,
    role_credentials_cache_key,
    token_cache_key,
)

REPO = Path(__file__).resolve().parent.parent
START_URL = "https://d-abc.awsapps.com/start"
MY_SSO = SSOSession(session_name="my-sso", start_url=START_URL, sso_region="us-east-1")
LEGACY = SSOSession(session_name=None, start_url=START_URL, sso_region="us-east-1")
FAR = datetime(2099, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
UTC = timezone.utc

CONFIG = f"""\
[profile dev]
sso_session = my-sso
sso_account_id = 111122223333
sso_role_name = ReadOnly

[sso-session my-sso]
sso_start_url = {START_URL}
sso_region = us-east-1
"""


def _token(**changes: Any) -> SSOToken:
    """A complete token far from expiry, with *changes* applied."""
    values: dict[str, Any] = {
        "start_url": START_URL,
        "region": "us-east-1",
        "access_token": "access-s3cr3t",
        "expires_at": FAR,
        "client_id": "client-id-1",
        "client_secret": "client-s3cr3t",
        "registration_expires_at": FAR,
        "refresh_token": "refresh-s3cr3t",
    }
    values.update(changes)
    return SSOToken(**values)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A cache directory path (not yet created)."""
    return tmp_path / "sso" / "cache"


@pytest.fixture
def cache(cache_dir: Path) -> SSOTokenCache:
    """A token cache on a fresh directory, polling fast."""
    return SSOTokenCache(cache_dir, poll_interval=0.005)


def _leftovers(directory: Path) -> list[str]:
    """Files in *directory* other than cache entries and lock files."""
    return sorted(p.name for p in directory.iterdir() if p.suffix not in (".json", ".lock"))


# -- keys, paths, timestamps --------------------------------------------------------------


def test_token_cache_key_vectors() -> None:
    """File names are sha1 of the session name, else of the start URL (§7.2 vectors)."""
    assert token_cache_key(start_url=START_URL, session_name="my-sso") == (
        "0ad374308c5a4e22f723adf10145eafad7c4031c"
    )
    assert token_cache_key(start_url=START_URL) == "22f00c6461897f7c3e293d9d99f86e5efed957dd"


def test_token_paths(cache: SSOTokenCache, cache_dir: Path) -> None:
    """The session's file is `<dir>/<sha1>.json`; the default dir follows HOME at call time."""
    assert cache.path(MY_SSO) == cache_dir / "0ad374308c5a4e22f723adf10145eafad7c4031c.json"
    assert cache.path(LEGACY).name == "22f00c6461897f7c3e293d9d99f86e5efed957dd.json"
    home = Path(os.environ["HOME"])
    assert SSOTokenCache().directory == default_token_cache_dir() == home / ".aws/sso/cache"
    assert default_credential_cache_dir() == home / ".aws/cli/cache"


def test_registration_cache_key_vector() -> None:
    """The CLI's client-registration key (§8.1 vector); no scopes hash differently."""
    key = registration_cache_key(
        start_url=START_URL,
        region="us-east-1",
        scopes=["sso:account:access"],
        session_name="my-sso",
    )
    assert key == "deb8cc906c2b78450415f3bc940056d81e790b51"
    other = registration_cache_key(
        start_url=START_URL, region="us-east-1", scopes=None, session_name="my-sso"
    )
    assert other != key


def test_role_credentials_cache_key_vectors() -> None:
    """botocore's SSOCredentialFetcher keys (§7.4 vectors), by session or legacy start URL."""
    assert role_credentials_cache_key(
        account_id="111122223333", role_name="ReadOnly", session_name="my-sso"
    ) == ("0521d1f6a6c4e68f9e18540309367cc3cccb6305")
    assert role_credentials_cache_key(
        account_id="111122223333", role_name="ReadOnly", start_url=START_URL
    ) == ("a2eed4bfefe2cca52c91448fc39a3276653bb006")
    with pytest.raises(ValueError, match="session_name or start_url"):
        role_credentials_cache_key(account_id="1", role_name="r")


@pytest.mark.parametrize(
    "text",
    [
        "2030-03-17T17:46:40Z",
        "2030-03-17T17:46:40+00:00",
        "2030-03-17T17:46:40UTC",
        "2030-03-17T17:46:40.000Z",
        "2030-03-17T17:46:40.000000123+00:00",
        "2030-03-17T19:46:40+02:00",
        "2030-03-17T12:46:40-0500",
        "2030-03-17 17:46:40 GMT",
    ],
)
def test_parse_timestamp_accepts(text: str) -> None:
    """Z, +00:00, UTC/GMT suffixes, any offset and fractional seconds all parse to UTC."""
    assert parse_timestamp(text) == datetime(2030, 3, 17, 17, 46, 40, tzinfo=UTC)
    assert parse_timestamp(text).tzinfo == UTC


def test_parse_timestamp_keeps_microseconds() -> None:
    """Fractions are kept to the microsecond."""
    assert parse_timestamp("2030-03-17T17:46:40.1234567Z").microsecond == 123456


@pytest.mark.parametrize(
    "text",
    ["", "2030-03-17T17:46:40", "2030-13-17T17:46:40Z", "tomorrow", "2030-03-17Z", "1e9"],
)
def test_parse_timestamp_refuses(text: str) -> None:
    """Naive, impossible or non-timestamps are ValueError (no guessing)."""
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_format_timestamp() -> None:
    """Written as the CLI writes: `%Y-%m-%dT%H:%M:%SZ` in UTC, sub-seconds dropped."""
    tz = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2030, 3, 17, 19, 46, 40, 999, tzinfo=tz)) == (
        "2030-03-17T17:46:40Z"
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2030, 1, 1))


# -- the token value ----------------------------------------------------------------------


def test_token_json_round_trip_keeps_unknown_fields() -> None:
    """from_json/to_json round-trip, in the CLI's field order, keeping fields like receivedAt."""
    data = {
        "startUrl": START_URL,
        "region": "us-east-1",
        "accessToken": "access-s3cr3t",
        "expiresAt": "2099-01-02T03:04:05Z",
        "clientId": "client-id-1",
        "clientSecret": "client-s3cr3t",
        "registrationExpiresAt": "2099-01-02T03:04:05Z",
        "refreshToken": "refresh-s3cr3t",
        "receivedAt": "2024-01-01T00:00:00Z",
        "otherTool": {"nested": [1, 2]},
    }
    token = SSOToken.from_json(data)
    assert token == _token(
        extra={"receivedAt": "2024-01-01T00:00:00Z", "otherTool": {"nested": [1, 2]}}
    )
    assert token.to_json() == data
    assert list(token.to_json()) == list(data)


def test_token_minimal_fields() -> None:
    """Only accessToken and expiresAt are required; absent optionals are not written."""
    token = SSOToken.from_json({"accessToken": "a", "expiresAt": "2099-01-01T00:00:00Z"})
    assert token.refresh_token is None
    assert token.start_url is None
    assert token.to_json() == {"accessToken": "a", "expiresAt": "2099-01-01T00:00:00Z"}


def test_token_repr_hides_secrets() -> None:
    """access/refresh tokens, the client secret and extra values never appear in repr."""
    token = _token(extra={"idToken": "id-s3cr3t"})
    text = repr(token) + str(token)
    assert "s3cr3t" not in text
    assert "client-id-1" in text
    assert "idToken" in text


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        ({"expiresAt": "2099-01-01T00:00:00Z"}, ""),
        ({"accessToken": "access-s3cr3t"}, ""),
        ({"accessToken": "", "expiresAt": "2099-01-01T00:00:00Z"}, ""),
        ({"accessToken": "access-s3cr3t", "expiresAt": None}, ""),
        ({"accessToken": 5, "expiresAt": "2099-01-01T00:00:00Z"}, ": accessToken is not a string"),
        ({"accessToken": "access-s3cr3t", "expiresAt": "soon"}, ": expiresAt 'soon' is not a"),
        (
            {
                "accessToken": "access-s3cr3t",
                "expiresAt": "2099-01-01T00:00:00Z",
                "registrationExpiresAt": 1,
            },
            ": registrationExpiresAt is not a string",
        ),
    ],
)
def test_token_from_json_invalid(data: dict[str, Any], detail: str) -> None:
    """A token missing or mistyping fields is `Token for <start URL> is invalid`, no secrets."""
    with pytest.raises(SSOTokenLoadError) as info:
        SSOToken.from_json(data, source=START_URL)
    message = str(info.value)
    assert message.startswith(f"Error loading SSO Token: Token for {START_URL} is invalid{detail}")
    assert "s3cr3t" not in message


def test_token_expiry_helpers() -> None:
    """expires_within/seconds_remaining/can_refresh follow botocore's preconditions."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    token = _token(expires_at=now + timedelta(minutes=10))
    assert token.seconds_remaining(now) == 600
    assert token.expires_within(900, now)
    assert not token.expires_within(300, now)
    assert token.can_refresh(now)
    assert not _token(refresh_token=None).can_refresh(now)
    assert not _token(registration_expires_at=now).can_refresh(now)
    assert not _token(registration_expires_at=None).can_refresh(now)


def test_token_validation() -> None:
    """Naive datetimes and extra fields shadowing token fields are refused."""
    with pytest.raises(ValueError, match="timezone-aware"):
        _token(expires_at=datetime(2099, 1, 1))
    with pytest.raises(ValueError, match="accessToken"):
        _token(extra={"accessToken": "x"})


# -- loading: errors ----------------------------------------------------------------------


def _botocore_loader_error(directory: Path, start_url: str, session_name: str | None) -> str:
    """botocore's SSOTokenLoader message for the same cache directory."""
    from botocore.utils import JSONFileCache as BotoCache
    from botocore.utils import SSOTokenLoader

    loader = SSOTokenLoader(cache=BotoCache(str(directory)))
    with pytest.raises(Exception) as info:
        loader(start_url, session_name=session_name)
    return str(info.value)


async def test_load_missing_is_botocores_message(cache: SSOTokenCache, cache_dir: Path) -> None:
    """No file: `Token for my-sso does not exist` (legacy: the start URL), as botocore."""
    with pytest.raises(SSOTokenLoadError) as info:
        await cache.load(MY_SSO)
    assert str(info.value) == "Error loading SSO Token: Token for my-sso does not exist"
    assert str(info.value) == _botocore_loader_error(cache_dir, START_URL, "my-sso")
    with pytest.raises(SSOTokenLoadError) as legacy:
        await cache.load(LEGACY)
    assert str(legacy.value) == f"Error loading SSO Token: Token for {START_URL} does not exist"
    assert isinstance(info.value, AioSSOError)


async def test_load_invalid_is_botocores_message(cache: SSOTokenCache, cache_dir: Path) -> None:
    """A file without accessToken is `Token for <start URL> is invalid`, as botocore."""
    cache.files.write(cache.key(MY_SSO), {"startUrl": START_URL, "expiresAt": "x"})
    with pytest.raises(SSOTokenLoadError) as info:
        await cache.load(MY_SSO)
    assert str(info.value) == f"Error loading SSO Token: Token for {START_URL} is invalid"
    assert str(info.value) == _botocore_loader_error(cache_dir, START_URL, "my-sso")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "it is empty"),
        (b"   \n", "it is empty"),
        (b'{"accessToken": "access-s3cr3t", "expiresAt": "20', "not valid JSON"),
        (b'{"accessToken": "access-s3cr3t"} trailing', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b"null", "a JSON NoneType, not an object"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
async def test_load_corrupt_file_is_clear(
    cache: SSOTokenCache, content: bytes, reason: str
) -> None:
    """Truncated, empty or non-JSON files raise SSOTokenLoadError naming the file, no secrets."""
    path = cache.path(MY_SSO)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(SSOTokenLoadError) as info:
        await cache.load(MY_SSO)
    message = str(info.value)
    assert str(path) in message
    assert "is corrupt" in message
    assert reason in message
    assert "aws sso login" in message
    assert "s3cr3t" not in message
    assert isinstance(info.value.__cause__, CorruptCacheFileError)
    assert not isinstance(info.value, json.JSONDecodeError)
    assert path.read_bytes() == content  # reading never touches the file


def test_load_oversized_file(cache: SSOTokenCache) -> None:
    """A file too large to be a cache entry is reported corrupt, not read into memory."""
    path = cache.path(MY_SSO)
    path.parent.mkdir(parents=True)
    path.write_bytes(b" " * (2 << 20))
    with pytest.raises(SSOTokenLoadError, match="larger than"):
        cache.load_sync(MY_SSO)


def test_bad_keys_refused(cache: SSOTokenCache) -> None:
    """Keys that could escape the directory are refused."""
    for key in ("../x", "a/b", ".hidden", "", "a" * 300):
        with pytest.raises(ValueError, match="not a usable cache key"):
            cache.files.path(key)


# -- compatibility with botocore and the AWS CLI ------------------------------------------


def test_botocore_written_token_is_read(cache: SSOTokenCache, cache_dir: Path) -> None:
    """A token saved by botocore's JSONFileCache with the CLI's dumps is read back intact."""
    from botocore.tokens import _sso_json_dumps
    from botocore.utils import JSONFileCache as BotoCache

    boto = BotoCache(str(cache_dir), dumps_func=_sso_json_dumps)
    boto[cache.key(MY_SSO)] = {
        "startUrl": START_URL,
        "region": "us-east-1",
        "accessToken": "access-s3cr3t",
        "expiresAt": FAR,
        "clientId": "client-id-1",
        "clientSecret": "client-s3cr3t",
        "registrationExpiresAt": FAR,
        "refreshToken": "refresh-s3cr3t",
    }
    assert cache.load_sync(MY_SSO) == _token()


def test_botocore_default_dumps_utc_suffix_is_read(cache: SSOTokenCache, cache_dir: Path) -> None:
    """botocore's default JSONFileCache dumps (`...UTC` timestamps) is read too."""
    from botocore.utils import JSONFileCache as BotoCache

    BotoCache(str(cache_dir))[cache.key(LEGACY)] = {"accessToken": "a", "expiresAt": FAR}
    assert (cache_dir / f"{cache.key(LEGACY)}.json").read_text().count("UTC") == 1
    assert cache.load_sync(LEGACY).expires_at == FAR


async def test_aiosso_written_token_is_read_by_botocore(
    cache: SSOTokenCache, cache_dir: Path, tmp_path: Path
) -> None:
    """botocore's SSOTokenProvider returns a token that aiosso saved (no refresh attempted)."""
    import botocore.session
    from botocore.tokens import SSOTokenProvider, _sso_json_dumps
    from botocore.utils import JSONFileCache as BotoCache

    await cache.save(MY_SSO, _token(extra={"receivedAt": "2024-01-01T00:00:00Z"}))
    config = tmp_path / "config"
    config.write_text(CONFIG)
    session = botocore.session.Session()
    session.set_config_variable("config_file", str(config))
    provider = SSOTokenProvider(
        session,
        cache=BotoCache(str(cache_dir), dumps_func=_sso_json_dumps),
        profile_name="dev",
    )
    frozen = provider.load_token().get_frozen_token()
    assert frozen.token == "access-s3cr3t"
    assert frozen.expiration == FAR


def test_aiosso_written_legacy_token_is_read_by_botocore(
    cache: SSOTokenCache, cache_dir: Path
) -> None:
    """botocore's SSOTokenLoader finds a legacy (start-URL keyed) token aiosso saved."""
    from botocore.utils import JSONFileCache as BotoCache
    from botocore.utils import SSOTokenLoader

    cache.save_sync(LEGACY, _token())
    loaded = SSOTokenLoader(cache=BotoCache(str(cache_dir)))(START_URL)
    assert loaded["accessToken"] == "access-s3cr3t"
    assert loaded["expiresAt"] == "2099-01-02T03:04:05Z"


def test_role_credentials_interop_with_botocore(tmp_path: Path) -> None:
    """Role creds aiosso caches are served by botocore's SSOCredentialFetcher, and back."""
    from botocore.credentials import SSOCredentialFetcher
    from botocore.utils import JSONFileCache as BotoCache

    def no_client(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("botocore should have used the cache")

    creds_cache = RoleCredentialCache(tmp_path / "cli")
    creds = CachedRoleCredentials(
        access_key_id="ASIAEXAMPLE",
        secret_access_key="secret-s3cr3t",
        session_token="session-s3cr3t",
        expiration=FAR,
        account_id="111122223333",
    )
    key = role_credentials_cache_key(
        account_id="111122223333", role_name="ReadOnly", session_name="my-sso"
    )
    creds_cache.save_sync(key, creds)
    on_disk = json.loads((tmp_path / "cli" / f"{key}.json").read_text())
    assert on_disk == {
        "ProviderType": "sso",
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE",
            "SecretAccessKey": "secret-s3cr3t",
            "SessionToken": "session-s3cr3t",
            "Expiration": "2099-01-02T03:04:05Z",
            "AccountId": "111122223333",
        },
    }
    fetcher = SSOCredentialFetcher(
        START_URL,
        "us-east-1",
        "ReadOnly",
        "111122223333",
        no_client,
        cache=BotoCache(str(tmp_path / "cli")),
        sso_session_name="my-sso",
    )
    assert fetcher.fetch_credentials()["secret_key"] == "secret-s3cr3t"
    assert creds_cache.load_sync(key) == creds
    assert "s3cr3t" not in repr(creds)


async def test_role_credentials_bad_entries_are_misses(tmp_path: Path) -> None:
    """Absent, corrupt or foreign credential entries read as None (they can be re-fetched)."""
    creds_cache = RoleCredentialCache(tmp_path)
    assert await creds_cache.load("abc") is None
    (tmp_path / "abc.json").write_text("{trunc")
    assert await creds_cache.load("abc") is None
    (tmp_path / "abc.json").write_text('{"ProviderType": "assume-role", "Credentials": {}}')
    assert await creds_cache.load("abc") is None
    (tmp_path / "abc.json").write_text('{"ProviderType": "sso", "Credentials": {}}')
    assert await creds_cache.load("abc") is None


@pytest.mark.parametrize("field", ["AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"])
async def test_role_credentials_with_an_empty_field_are_misses(tmp_path: Path, field: str) -> None:
    """An SSO entry whose AccessKeyId, SecretAccessKey, SessionToken or Expiration is an empty
    string is a miss (it must be fetched again), and from_json names the field."""
    creds_cache = RoleCredentialCache(tmp_path)
    entry: dict[str, Any] = {
        "ProviderType": "sso",
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE",
            "SecretAccessKey": "secret-s3cr3t",
            "SessionToken": "session-s3cr3t",
            "Expiration": "2099-01-02T03:04:05Z",
            "AccountId": "111122223333",
        },
    }
    (tmp_path / "abc.json").write_text(json.dumps(entry))
    assert await creds_cache.load("abc") is not None  # the complete entry is a hit
    entry["Credentials"][field] = ""
    (tmp_path / "abc.json").write_text(json.dumps(entry))
    assert await creds_cache.load("abc") is None
    with pytest.raises(ValueError, match=f"Credentials.{field} is"):
        CachedRoleCredentials.from_json(entry)


async def test_client_registration_round_trip(cache: SSOTokenCache, cache_dir: Path) -> None:
    """A registration file in the CLI's shape is read, kept (receivedAt too) and written back."""
    key = registration_cache_key(
        start_url=START_URL,
        region="us-east-1",
        scopes=["sso:account:access"],
        session_name="my-sso",
    )
    data = {
        "clientId": "client-id-1",
        "clientSecret": "client-s3cr3t",
        "expiresAt": "2099-01-02T03:04:05Z",
        "scopes": ["sso:account:access"],
        "grantTypes": ["authorization_code", "refresh_token"],
        "receivedAt": "2024-01-01T00:00:00UTC",
    }
    cache.files.write(key, data)
    registration = await cache.load_registration(key)
    assert registration == ClientRegistration(
        client_id="client-id-1",
        client_secret="client-s3cr3t",
        expires_at=FAR,
        scopes=("sso:account:access",),
        grant_types=("authorization_code", "refresh_token"),
        extra={"receivedAt": "2024-01-01T00:00:00UTC"},
    )
    assert "s3cr3t" not in repr(registration)
    await cache.save_registration(key, registration)
    assert json.loads((cache_dir / f"{key}.json").read_text()) == data


@pytest.mark.parametrize(
    "content",
    [
        "{trunc",
        '{"clientId": "c", "clientSecret": "s"}',
        '{"clientId": "c", "clientSecret": "s", "expiresAt": "later"}',
        '{"clientId": "c", "clientSecret": "s", "expiresAt": "2099-01-01T00:00:00Z", "scopes": 1}',
    ],
)
def test_client_registration_bad_files_are_misses(cache: SSOTokenCache, content: str) -> None:
    """A corrupt or malformed registration reads as None: the caller registers again."""
    cache.files.write("reg", {})
    cache.files.path("reg").write_text(content)
    assert cache.load_registration_sync("reg") is None
    assert cache.load_registration_sync("absent") is None


# -- files, permissions, atomicity --------------------------------------------------------


async def test_save_modes_and_no_leftovers(cache: SSOTokenCache, cache_dir: Path) -> None:
    """The directory is created 0700, the file is 0600, and no temp file remains."""
    await cache.save(MY_SSO, _token())
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cache.path(MY_SSO)).st_mode) == 0o600
    assert _leftovers(cache_dir) == []
    assert await cache.load(MY_SSO) == _token()


async def test_world_writable_directory_refused(cache: SSOTokenCache, cache_dir: Path) -> None:
    """A world-writable cache directory is refused for load, save and lock, with the fix."""
    await cache.save(MY_SSO, _token())
    os.chmod(cache_dir, 0o777)
    try:
        for attempt in (cache.load(MY_SSO), cache.save(MY_SSO, _token())):
            with pytest.raises(CacheFileError, match="world-writable") as info:
                await attempt
            assert f"chmod 700 {cache_dir}" in str(info.value)
        with pytest.raises(CacheFileError, match="world-writable"):
            async with cache.locked(MY_SSO):
                pass
    finally:
        os.chmod(cache_dir, 0o700)


def test_exposed_file_is_read_with_a_warning(
    cache: SSOTokenCache, caplog: pytest.LogCaptureFixture
) -> None:
    """A 0644 token file is still read, and the log says so once, without secrets."""
    cache.save_sync(MY_SSO, _token())
    cache.path(MY_SSO).chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="aiosso"):
        assert cache.load_sync(MY_SSO) == _token()
        assert cache.load_sync(MY_SSO) == _token()
    warnings = [r for r in caplog.records if "accessible to other users" in r.getMessage()]
    assert len(warnings) == 1
    assert "0644" in warnings[0].getMessage()
    assert "s3cr3t" not in caplog.text


@pytest.fixture
def umask_000() -> Iterator[None]:
    """The process umask is 000 for the test (the most permissive), restored after."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    """The permission bits of *path*."""
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.usefixtures("umask_000")
async def test_every_created_folder_is_private_under_umask_000() -> None:
    """Under umask 000, ~/.aws, ~/.aws/sso, ~/.aws/cli and both caches are created 0700."""
    home = Path.home()
    assert not (home / ".aws").exists()
    await SSOTokenCache().save(MY_SSO, _token())
    for level in (".aws", ".aws/sso", ".aws/sso/cache"):
        assert _mode(home / level) == 0o700, level
    assert _mode(SSOTokenCache().path(MY_SSO)) == 0o600
    async with RoleCredentialCache().locked("k"):  # a lock alone creates the folders too
        pass
    for level in (".aws/cli", ".aws/cli/cache"):
        assert _mode(home / level) == 0o700, level
    assert _mode(default_credential_cache_dir() / "k.lock") == 0o600


@pytest.mark.usefixtures("umask_000")
def test_existing_folders_are_left_as_they_are(tmp_path: Path) -> None:
    """Only the levels aiosso creates are made 0700; an existing parent keeps its mode."""
    parent = tmp_path / "shared"
    parent.mkdir(mode=0o755)
    files = JSONFileCache(parent / "a" / "b")
    with files.locked_sync("k"):
        files.write("k", {"v": 1})
    assert (_mode(parent), _mode(parent / "a"), _mode(parent / "a" / "b")) == (
        0o755,
        0o700,
        0o700,
    )


def test_folder_creation_failure_is_a_cache_error(tmp_path: Path) -> None:
    """A file where a parent folder should be is a CacheFileError naming the directory."""
    (tmp_path / "blocker").write_text("")
    files = JSONFileCache(tmp_path / "blocker" / "cache")
    with pytest.raises(CacheFileError, match=r"Cannot create the cache directory .*blocker"):
        files.write("k", {})


def _plant_lock_symlink(cache: SSOTokenCache, target: Path, target_exists: bool) -> Path:
    """Make MY_SSO's lock path a symlink to *target* (created first if *target_exists*)."""
    if target_exists:
        target.write_bytes(b"precious")
    cache.directory.mkdir(parents=True, mode=0o700)
    cache.files.lock_path(cache.key(MY_SSO)).symlink_to(target)
    return target


@pytest.mark.parametrize("target_exists", [False, True])
async def test_lock_never_follows_a_symlink(
    cache: SSOTokenCache, tmp_path: Path, target_exists: bool
) -> None:
    """A planted `<key>.lock` symlink is refused: nothing is created or opened at its target."""
    target = _plant_lock_symlink(cache, tmp_path / "elsewhere", target_exists)
    with pytest.raises(CacheFileError, match="it is a symbolic link") as info:
        async with cache.locked(MY_SSO):
            pass
    assert f"rm {cache.files.lock_path(cache.key(MY_SSO))}" in str(info.value)
    with pytest.raises(CacheFileError, match="it is a symbolic link"):
        with cache.files.locked_sync(cache.key(MY_SSO)):
            pass
    if target_exists:
        assert target.read_bytes() == b"precious"
    else:
        assert not target.exists()


@pytest.mark.skipif(
    not hasattr(os, "mkfifo") or not Path("/proc/self/fd").exists(), reason="FIFOs and /proc"
)
def test_lock_must_be_a_regular_file(cache_dir: Path) -> None:
    """A lock path that is not a regular file (here a FIFO) is refused, and not held open."""
    files = JSONFileCache(cache_dir)
    cache_dir.mkdir(parents=True, mode=0o700)
    os.mkfifo(files.lock_path("k"))
    before = _open_fds()
    with pytest.raises(CacheFileError, match="it is not a regular file"):
        with files.locked_sync("k"):
            pass
    assert _open_fds() == before


@pytest.mark.parametrize("mode", [0o770, 0o720, 0o2770], ids=oct)
def test_group_writable_directory_warns_once(
    cache: SSOTokenCache, cache_dir: Path, caplog: pytest.LogCaptureFixture, mode: int
) -> None:
    """A group-writable cache folder is used, with one warning in the log giving the fix."""
    cache.save_sync(MY_SSO, _token())
    os.chmod(cache_dir, mode)
    try:
        with caplog.at_level(logging.WARNING, logger="aiosso"):
            assert cache.load_sync(MY_SSO) == _token()
            cache.save_sync(MY_SSO, _token())
            with cache.locked_sync(MY_SSO):
                pass
    finally:
        os.chmod(cache_dir, 0o700)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        f"Cache directory {cache_dir} is writable by its group (mode {mode:04o}): other "
        f"members of the group could plant or swap entries; it should be 0700: "
        f"chmod 700 {cache_dir}"
    ]


def test_private_and_group_readable_directories_do_not_warn(
    cache: SSOTokenCache, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """0700 and 0750 folders are used without a word."""
    cache.save_sync(MY_SSO, _token())
    for mode in (0o700, 0o750):
        os.chmod(cache_dir, mode)
        with caplog.at_level(logging.WARNING, logger="aiosso"):
            assert cache.load_sync(MY_SSO) == _token()
    os.chmod(cache_dir, 0o700)
    assert caplog.records == []


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o702], ids=oct)
def test_world_writable_directory_refused_everywhere(
    cache: SSOTokenCache, cache_dir: Path, mode: int
) -> None:
    """World-writable (sticky bit or not) is refused for blocking read, write and lock too."""
    cache.save_sync(MY_SSO, _token())
    os.chmod(cache_dir, mode)
    try:
        with pytest.raises(CacheFileError, match="world-writable"):
            cache.load_sync(MY_SSO)
        with pytest.raises(CacheFileError, match="world-writable"):
            cache.save_sync(MY_SSO, _token())
        with pytest.raises(CacheFileError, match="world-writable"):
            with cache.locked_sync(MY_SSO):
                pass
    finally:
        os.chmod(cache_dir, 0o700)


def test_failed_write_keeps_the_corrupt_original(
    cache: SSOTokenCache, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails after the temp file exists leaves the old (even corrupt) file as is."""
    path = cache.path(MY_SSO)
    cache_dir.mkdir(parents=True)
    path.write_bytes(b'{"accessToken": "tru')

    def broken_fsync(_fd: int) -> None:
        assert _leftovers(cache_dir), "the temp file should exist at this point"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(CacheFileError, match="No space left on device") as info:
        cache.save_sync(MY_SSO, _token())
    assert str(path) in str(info.value)
    assert "s3cr3t" not in str(info.value)
    assert path.read_bytes() == b'{"accessToken": "tru'
    assert _leftovers(cache_dir) == []


def test_interrupted_write_cleans_up(
    cache: SSOTokenCache, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-OS failure at the rename propagates unchanged; the old file and dir stay clean."""
    cache.save_sync(MY_SSO, _token(access_token="old"))

    def interrupted(_src: Any, _dst: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.save_sync(MY_SSO, _token(access_token="new"))
    monkeypatch.undo()
    assert cache.load_sync(MY_SSO).access_token == "old"
    assert _leftovers(cache_dir) == []


async def test_save_replaces_a_corrupt_file(cache: SSOTokenCache, cache_dir: Path) -> None:
    """An explicit save (a login) replaces a corrupt file with a valid one."""
    cache.files.write(cache.key(MY_SSO), {})
    cache.path(MY_SSO).write_text("{")
    await cache.save(MY_SSO, _token())
    assert await cache.load(MY_SSO) == _token()


async def test_delete(cache: SSOTokenCache) -> None:
    """delete removes the file and says whether there was one."""
    await cache.save(MY_SSO, _token())
    assert await cache.delete(MY_SSO) is True
    assert await cache.delete(MY_SSO) is False
    with pytest.raises(SSOTokenLoadError, match="does not exist"):
        await cache.load(MY_SSO)


def test_reprs_name_the_directory(cache: SSOTokenCache, cache_dir: Path) -> None:
    """Cache reprs show the directory only."""
    assert repr(cache) == f"SSOTokenCache({str(cache_dir)!r})"
    assert repr(cache.files) == f"JSONFileCache({str(cache_dir)!r})"


# -- the event loop is never blocked ------------------------------------------------------


async def _ticks_during(coro: Any, interval: float = 0.01) -> tuple[Any, int]:
    """Await *coro* while a ticker runs; return its result and the tick count."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(interval)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        result = await coro
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return result, ticks


async def test_file_io_runs_off_the_loop(
    cache: SSOTokenCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow disk (0.2 s per read) does not stop other tasks: the loop keeps ticking."""
    await cache.save(MY_SSO, _token())
    real_read = JSONFileCache.read

    def slow_read(self: JSONFileCache, key: str) -> dict[str, Any] | None:
        time.sleep(0.2)
        return real_read(self, key)

    monkeypatch.setattr(JSONFileCache, "read", slow_read)
    token, ticks = await _ticks_during(cache.load(MY_SSO))
    assert token == _token()
    assert ticks >= 10


# -- locks --------------------------------------------------------------------------------


async def test_tasks_serialize_under_the_lock(cache_dir: Path) -> None:
    """10 tasks doing read-increment-write under the lock lose no update."""
    files = JSONFileCache(cache_dir, poll_interval=0.005)

    async def bump(times: int) -> None:
        for _ in range(times):
            async with files.locked("counter"):
                data = await files.load("counter") or {"n": 0}
                await asyncio.sleep(0)
                await files.save("counter", {"n": data["n"] + 1})

    await asyncio.gather(*(bump(5) for _ in range(10)))
    assert files.read("counter") == {"n": 50}


async def test_tasks_refresh_once(cache: SSOTokenCache) -> None:
    """Many tasks finding an expiring token refresh it exactly once and all see the result."""
    await cache.save(MY_SSO, _token(expires_at=datetime.now(UTC)))
    refreshes = 0

    async def get() -> str:
        nonlocal refreshes
        async with cache.locked(MY_SSO):
            token = await cache.load(MY_SSO)
            if token.expires_within(900):
                refreshes += 1
                await asyncio.sleep(0.02)
                token = attrs.evolve(token, access_token="fresh", expires_at=FAR)
                await cache.save(MY_SSO, token)
            return token.access_token

    results = await asyncio.gather(*(get() for _ in range(25)))
    assert refreshes == 1
    assert set(results) == {"fresh"}


async def test_lock_released_on_error(cache: SSOTokenCache) -> None:
    """An exception in the block releases the lock for the next holder."""
    with pytest.raises(RuntimeError):
        async with cache.locked(MY_SSO):
            raise RuntimeError("boom")
    async with cache.locked(MY_SSO, timeout=1):
        pass


async def test_lock_timeout_against_another_holder(cache: SSOTokenCache) -> None:
    """Waiting longer than `timeout` on a held file lock raises CacheLockTimeoutError."""
    with cache.locked_sync(MY_SSO):
        started = time.monotonic()
        with pytest.raises(CacheLockTimeoutError, match=r"Timed out after 0\.1 s") as info:
            async with cache.locked(MY_SSO, timeout=0.1):
                pass
        assert 0.09 <= time.monotonic() - started < 1
    assert isinstance(info.value, TimeoutError)
    async with cache.locked(MY_SSO, timeout=1):
        pass


async def test_lock_timeout_against_another_task(cache: SSOTokenCache) -> None:
    """The timeout also bounds queueing behind a task of this process, leaving no lock held."""
    entered = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with cache.locked(MY_SSO):
            entered.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await entered.wait()
    with pytest.raises(CacheLockTimeoutError):
        async with cache.locked(MY_SSO, timeout=0.05):
            pass
    release.set()
    await task
    async with cache.locked(MY_SSO, timeout=1):
        pass


def _open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
async def test_cancelled_waiter_leaks_nothing(cache: SSOTokenCache) -> None:
    """Cancelling a task waiting for the lock leaks no descriptor and leaves the lock usable."""
    async with cache.locked(MY_SSO):
        pass  # create the directory and lock file first
    before = _open_fds()
    with cache.locked_sync(MY_SSO):
        waiter = asyncio.create_task(_enter(cache))
        queued = asyncio.create_task(_enter(cache))
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert await asyncio.wait_for(queued, 2) == "entered"
    await asyncio.sleep(0)
    assert _open_fds() == before


async def _enter(cache: SSOTokenCache) -> str:
    """Take and release the MY_SSO lock."""
    async with cache.locked(MY_SSO):
        return "entered"


def test_threads_serialize_with_locked_sync(cache_dir: Path) -> None:
    """The blocking lock serializes threads of one process (CLI code)."""
    files = JSONFileCache(cache_dir, poll_interval=0.002)

    def bump() -> None:
        for _ in range(10):
            with files.locked_sync("counter"):
                data = files.read("counter") or {"n": 0}
                files.write("counter", {"n": data["n"] + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert files.read("counter") == {"n": 40}


def test_locked_sync_timeout(cache_dir: Path) -> None:
    """locked_sync gives up after its timeout while another descriptor holds the lock."""
    files = JSONFileCache(cache_dir)
    with files.locked_sync("k"), pytest.raises(CacheLockTimeoutError):
        with files.locked_sync("k", timeout=0.05):
            pass


# -- several processes --------------------------------------------------------------------

WORKER = r"""
import asyncio, json, os, sys
from datetime import datetime, timedelta, timezone

import attrs

from aiosso.awsconfig import SSOSession
from aiosso.tokencache import JSONFileCache, SSOTokenCache

args = json.loads(sys.argv[1])
SESSION = SSOSession(
    session_name="my-sso", start_url="https://d-abc.awsapps.com/start", sso_region="us-east-1"
)


async def refresh():
    cache = SSOTokenCache(args["dir"], poll_interval=0.005)

    async def one():
        async with cache.locked(SESSION):
            token = await cache.load(SESSION)
            if token.expires_within(900):
                with open(args["side"], "a") as f:
                    f.write(f"{os.getpid()}\n")
                await asyncio.sleep(0.1)  # the CreateToken call
                token = attrs.evolve(
                    token,
                    access_token=f"fresh-{os.getpid()}",
                    expires_at=datetime.now(timezone.utc) + timedelta(hours=8),
                )
                await cache.save(SESSION, token)
            return token.access_token

    print(json.dumps(await asyncio.gather(*(one() for _ in range(args["tasks"])))), flush=True)


async def count():
    files = JSONFileCache(args["dir"], poll_interval=0.005)

    async def one():
        for _ in range(args["rounds"]):
            async with files.locked("counter"):
                data = await files.load("counter") or {"n": 0}
                await files.save("counter", {"n": data["n"] + 1})

    await asyncio.gather(*(one() for _ in range(args["tasks"])))


async def crowd():
    await refresh()
    await count()


async def hold():
    files = JSONFileCache(args["dir"])
    async with files.locked("held"):
        print("locked", flush=True)
        await asyncio.sleep(args["seconds"])


if args["mode"] != "hold":
    print("ready", flush=True)
    sys.stdin.readline()
asyncio.run({"crowd": crowd, "hold": hold}[args["mode"]]())
"""


def _hermetic_env() -> dict[str, str]:
    """This process's environment without AWS_* variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


@contextlib.contextmanager
def _workers(argv: list[dict[str, Any]]) -> Iterator[list[subprocess.Popen[str]]]:
    """Start one worker process per argument dict; kill leftovers on the way out."""
    with contextlib.ExitStack() as stack:
        procs = [
            stack.enter_context(
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, json.dumps(args)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=REPO,
                    env=_hermetic_env(),
                )
            )
            for args in argv
        ]
        try:
            yield procs
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()


def _run_together(argv: list[dict[str, Any]]) -> list[str]:
    """Run workers, release them at the same moment, return their stdout."""
    with _workers(argv) as procs:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready", proc.stderr
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [proc.communicate(timeout=60) for proc in procs]
        for proc, (_out, err) in zip(procs, results, strict=False):
            assert proc.returncode == 0, err
        return [out for out, _err in results]


@attrs.frozen
class Crowd:
    """What a run of several worker processes left behind."""

    directory: Path
    refreshers: list[str]
    outputs: list[str]


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> Crowd:
    """3 processes x 5 tasks: each refreshes an expired token if needed, then each of its
    tasks does 4 locked read-increment-writes of a counter (one process start-up for both)."""
    directory = tmp_path_factory.mktemp("crowd") / "cache"
    side = directory.parent / "refreshes.log"
    SSOTokenCache(directory).save_sync(
        MY_SSO, _token(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    )
    args = {"mode": "crowd", "dir": str(directory), "side": str(side), "tasks": 5, "rounds": 4}
    outputs = _run_together([args] * 3)
    return Crowd(directory=directory, refreshers=side.read_text().split(), outputs=outputs)


def test_processes_refresh_once(crowd: Crowd) -> None:
    """Processes and tasks finding an expired token refresh it once; all get its result."""
    assert len(crowd.refreshers) == 1
    fresh = f"fresh-{crowd.refreshers[0]}"
    assert {token for out in crowd.outputs for token in json.loads(out)} == {fresh}
    final = SSOTokenCache(crowd.directory).load_sync(MY_SSO)
    assert final.access_token == fresh
    assert final.refresh_token == "refresh-s3cr3t"  # the rest of the file survives


def test_processes_serialize_under_the_lock(crowd: Crowd) -> None:
    """Locked read-increment-writes from several processes lose no update, leave no debris."""
    assert JSONFileCache(crowd.directory).read("counter") == {"n": 3 * 5 * 4}
    assert _leftovers(crowd.directory) == []


async def test_loop_ticks_while_another_process_holds_the_lock(cache_dir: Path) -> None:
    """Waiting for a lock held by another process keeps the event loop running."""
    files = JSONFileCache(cache_dir, poll_interval=0.01)
    args = {"mode": "hold", "dir": str(cache_dir), "seconds": 0.5}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        json.dumps(args),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
        env=_hermetic_env(),
    )
    try:
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"locked"
        started = time.monotonic()

        async def take() -> float:
            async with files.locked("held"):
                return time.monotonic() - started

        waited, ticks = await _ticks_during(take())
        assert waited >= 0.3  # it really waited for the other process
        assert ticks >= 15  # and the loop ran all along
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.communicate()


async def test_lock_failure_is_a_cache_error(
    cache: SSOTokenCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system that cannot lock (ENOLCK) gives CacheFileError naming the lock file."""
    import aiosso._filecache

    def no_locks(_fd: int) -> bool:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(aiosso._filecache, "_try_lock", no_locks)
    with pytest.raises(CacheFileError, match=r"Cannot lock .*\.lock: No locks available"):
        async with cache.locked(MY_SSO):
            pass
    monkeypatch.undo()
    async with cache.locked(MY_SSO, timeout=1):  # and nothing stayed held
        pass
