"""RoleCredentials: parsing the wire reply, secrets kept out of reprs, export formats."""

from __future__ import annotations

import copy
import json
import pickle
import shlex
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest

from aiosso.credentials import RoleCredentials
from aiosso.exceptions import AioSSOError, ResponseParserError

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN=="
EXPIRES_MS = 1_900_000_000_000  # 2030-03-17T17:46:40Z
EXPIRES = datetime(2030, 3, 17, 17, 46, 40, tzinfo=timezone.utc)


def reply(**overrides: Any) -> dict[str, Any]:
    """A get_role_credentials result, with roleCredentials members overridden."""
    members: dict[str, Any] = {
        "accessKeyId": "ASIAEXAMPLE",
        "secretAccessKey": SECRET,
        "sessionToken": SESSION,
        "expiration": EXPIRES_MS,
    }
    members.update(overrides)
    return {"ResponseMetadata": {"HTTPStatusCode": 200}, "roleCredentials": members}


@pytest.fixture
def creds() -> RoleCredentials:
    """Credentials parsed from a well-formed reply."""
    return RoleCredentials.from_response(reply(), account_id="111122223333", role_name="Admin")


# --------------------------------------------------------------------------- parsing


def test_from_response_parses_members(creds: RoleCredentials) -> None:
    """from_response maps the camelCase members and turns epoch ms into an aware UTC datetime."""
    assert creds.access_key_id == "ASIAEXAMPLE"
    assert creds.secret_access_key == SECRET
    assert creds.session_token == SESSION
    assert creds.expiration == EXPIRES
    assert creds.expiration.tzinfo is timezone.utc
    assert (creds.account_id, creds.role_name) == ("111122223333", "Admin")


def test_from_response_keeps_milliseconds() -> None:
    """Sub-second expirations are kept on the object (serialisation truncates them)."""
    c = RoleCredentials.from_response(
        reply(expiration=EXPIRES_MS + 999), account_id="1", role_name="r"
    )
    assert c.expiration == EXPIRES + timedelta(milliseconds=999)
    assert c.to_env()["AWS_CREDENTIAL_EXPIRATION"] == "2030-03-17T17:46:40+00:00"


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        ({}, "no roleCredentials"),
        ({"roleCredentials": None}, "no roleCredentials"),
        ({"roleCredentials": []}, "no roleCredentials"),
        (None, "no roleCredentials"),
        ("roleCredentials", "no roleCredentials"),
        (reply(accessKeyId=None), "accessKeyId"),
        (reply(accessKeyId=""), "accessKeyId"),
        (reply(secretAccessKey=123), "secretAccessKey"),
        (reply(sessionToken=b"bytes"), "sessionToken"),
        (reply(expiration=None), "expiration"),
        (reply(expiration="1900000000000"), "expiration"),
        (reply(expiration=1.9e12), "expiration"),
        (reply(expiration=True), "expiration"),
        (reply(expiration=10**20), "out of range"),
    ],
)
def test_from_response_malformed(response: Any, fragment: str) -> None:
    """A missing or ill-typed roleCredentials member is a ResponseParserError naming it."""
    with pytest.raises(ResponseParserError) as info:
        RoleCredentials.from_response(response, account_id="1", role_name="r")
    message = str(info.value)
    assert message.startswith("Unable to parse response for the GetRoleCredentials operation")
    assert fragment in message
    assert SECRET not in message
    assert SESSION not in message
    assert isinstance(info.value, AioSSOError)


def test_from_response_missing_member_is_not_keyerror() -> None:
    """Each required member missing gives ResponseParserError, never KeyError."""
    for member in ("accessKeyId", "secretAccessKey", "sessionToken", "expiration"):
        broken = reply()
        del broken["roleCredentials"][member]
        with pytest.raises(ResponseParserError, match=member):
            RoleCredentials.from_response(broken, account_id="1", role_name="r")


def test_naive_expiration_refused() -> None:
    """A naive expiration is refused; an aware one in another zone is converted to UTC."""
    with pytest.raises(ValueError, match="timezone-aware"):
        RoleCredentials(
            access_key_id="A",
            secret_access_key="s",
            session_token="t",
            expiration=datetime(2030, 1, 1),
            account_id="1",
            role_name="r",
        )
    c = RoleCredentials(
        access_key_id="A",
        secret_access_key="s",
        session_token="t",
        expiration=datetime(2030, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))),
        account_id="1",
        role_name="r",
    )
    assert c.expiration == datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert c.expiration.tzinfo is timezone.utc


def test_frozen(creds: RoleCredentials) -> None:
    """RoleCredentials is immutable."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        creds.access_key_id = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------- secrets


def test_repr_and_str_hide_secrets(creds: RoleCredentials) -> None:
    """repr() and str() show key id, account, role and expiration, never secret or token."""
    text = repr(creds)
    assert text == (
        "RoleCredentials(access_key_id='ASIAEXAMPLE', account_id='111122223333', "
        "role_name='Admin', expiration='2030-03-17T17:46:40+00:00')"
    )
    assert str(creds) == text
    assert f"{creds}" == text


def test_asdict_repr_hides_secrets(creds: RoleCredentials) -> None:
    """Logging attrs.asdict(creds) or the secret attributes shows <redacted>, not values."""
    as_dict = attrs.asdict(creds)
    shown = f"{as_dict!r} {as_dict} {creds.secret_access_key!r} {[creds.session_token]}"
    assert SECRET not in shown
    assert SESSION not in shown
    assert "<redacted>" in shown
    assert as_dict["secret_access_key"] == SECRET  # the value itself is intact
    assert str(creds.session_token) == SESSION
    assert type(str(creds.session_token)) is str
    assert json.loads(json.dumps(as_dict, default=str))["session_token"] == SESSION


def test_copy_and_pickle_round_trip(creds: RoleCredentials) -> None:
    """Copies and pickles keep values and stay redacted."""
    for clone in (copy.deepcopy(creds), pickle.loads(pickle.dumps(creds))):
        assert clone == creds
        assert clone.secret_access_key == SECRET
        assert SECRET not in repr(attrs.asdict(clone))


# --------------------------------------------------------------------------- exports


def test_to_env(creds: RoleCredentials) -> None:
    """to_env gives the four variables the SDKs read, as plain str."""
    env = creds.to_env()
    assert env == {
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": SESSION,
        "AWS_CREDENTIAL_EXPIRATION": "2030-03-17T17:46:40+00:00",
    }
    assert all(type(v) is str for v in env.values())


def test_to_credential_process(creds: RoleCredentials) -> None:
    """to_credential_process is the Version 1 document, JSON-serialisable with real values."""
    doc = creds.to_credential_process()
    assert doc == {
        "Version": 1,
        "AccessKeyId": "ASIAEXAMPLE",
        "SecretAccessKey": SECRET,
        "SessionToken": SESSION,
        "Expiration": "2030-03-17T17:46:40+00:00",
        "AccountId": "111122223333",
    }
    assert json.loads(json.dumps(doc)) == doc
    assert datetime.fromisoformat(doc["Expiration"]) == EXPIRES


def test_credential_process_accepted_by_botocore(tmp_path: Path) -> None:
    """botocore's credential_process provider loads our JSON: keys, token, expiry, account."""
    botocore_session = pytest.importorskip("botocore.session")
    expiration = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    creds = RoleCredentials(
        access_key_id="ASIAPROCESS",
        secret_access_key=SECRET,
        session_token=SESSION,
        expiration=expiration,
        account_id="111122223333",
        role_name="Admin",
    )
    emitter = tmp_path / "emit.py"
    emitter.write_text(f"print({json.dumps(json.dumps(creds.to_credential_process()))})\n")
    config = Path.home() / ".aws" / "config"  # the autouse fixture's AWS_CONFIG_FILE
    config.parent.mkdir(parents=True, exist_ok=True)
    command = shlex.join([sys.executable, str(emitter)])
    config.write_text(f"[profile proc]\ncredential_process = {command}\n")

    loaded = botocore_session.Session(profile="proc").get_credentials()
    assert loaded is not None
    assert loaded.method == "custom-process"
    frozen = loaded.get_frozen_credentials()
    assert frozen.access_key == "ASIAPROCESS"
    assert frozen.secret_key == SECRET
    assert frozen.token == SESSION
    assert loaded._expiry_time == expiration
    if hasattr(frozen, "account_id"):
        assert frozen.account_id == "111122223333"


# --------------------------------------------------------------------------- expiry


def test_expires_in_and_is_expired(creds: RoleCredentials) -> None:
    """expires_in counts seconds to expiry from `now`; is_expired compares it with a margin."""
    at = EXPIRES.timestamp()
    assert creds.expires_in(now=at - 90) == pytest.approx(90)
    assert creds.expires_in(now=at + 5) == pytest.approx(-5)
    assert not creds.is_expired(now=at - 1)
    assert creds.is_expired(now=at)
    assert creds.is_expired(margin=120, now=at - 90)
    assert not creds.is_expired(margin=60, now=at - 90)
    assert not creds.is_expired()  # 2030 is in the future by the real clock
    assert creds.expires_in() > 0
