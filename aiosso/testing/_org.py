"""The emulated organisation (accounts and their roles) and the access tokens that may see it.

Everything here is plain data plus a small token registry; the HTTP server lives in
``_emulator.py``. Generated organisations and tokens are deterministic for a given seed, so a
failing test can be replayed exactly.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Union

import attrs

__all__ = ["Account", "Organisation", "OrganisationLike"]

ROLE_NAMES = (
    "AdministratorAccess",
    "ReadOnlyAccess",
    "PowerUserAccess",
    "ViewOnlyAccess",
    "Billing",
    "SecurityAudit",
    "DatabaseAdministrator",
    "NetworkAdministrator",
    "SystemAdministrator",
    "DataScientist",
    "SupportUser",
)
_ACCOUNT_NAMES = (
    "Production",
    "Staging",
    "Development",
    "Sandbox",
    "Security",
    "LogArchive",
    "SharedServices",
    "Audit",
    "Networking",
    "DataLake",
)
_ACCOUNT_ID = re.compile(r"\d{12}")


def role_name(index: int) -> str:
    """Return the ``index``-th generated role name: the catalogue, then numbered repeats."""
    base = ROLE_NAMES[index % len(ROLE_NAMES)]
    cycle = index // len(ROLE_NAMES)
    return base if cycle == 0 else f"{base}{cycle + 1}"


def _check_account_id(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value):
        raise ValueError(f"{attribute.name} must be a string of 12 digits, got {value!r}")


def _check_roles(
    _: object, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[object, ...]
) -> None:
    if len(set(value)) != len(value):
        raise ValueError(f"duplicate role names in {value!r}")
    if not all(isinstance(role, str) and role for role in value):
        raise ValueError(f"role names must be non-empty strings, got {value!r}")


def _to_accounts(value: Iterable[Account]) -> tuple[Account, ...]:
    accounts = tuple(value)
    if not all(isinstance(account, Account) for account in accounts):
        raise TypeError("an organisation is made of Account objects")
    return accounts


def _to_roles(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError("roles must be an iterable of role names, not a single string")
    return tuple(value)


@attrs.frozen
class Account:
    """One AWS account of the emulated organisation and the roles its user may assume.

    Attributes:
        account_id: 12 decimal digits, as the service returns it.
        account_name: the ``accountName`` returned by ``ListAccounts``.
        email_address: the ``emailAddress`` returned by ``ListAccounts``.
        roles: role names, in the order ``ListAccountRoles`` returns them (no duplicates).
    """

    account_id: str = attrs.field(validator=_check_account_id)
    account_name: str
    email_address: str
    roles: tuple[str, ...] = attrs.field(converter=_to_roles, validator=_check_roles)


OrganisationLike = Union["Organisation", Mapping[str, Iterable[str]], Iterable[Account]]
"""What ``PortalEmulator(organisation=...)`` accepts (see :meth:`Organisation.coerce`)."""


@attrs.frozen
class Organisation:
    """The accounts (in ``ListAccounts`` order) the emulator serves.

    Attributes:
        accounts: the accounts, in ``ListAccounts`` order.

    Raises:
        ValueError: two accounts share an id.
    """

    accounts: tuple[Account, ...] = attrs.field(converter=_to_accounts)
    _by_id: Mapping[str, Account] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        by_id = {account.account_id: account for account in self.accounts}
        if len(by_id) != len(self.accounts):
            raise ValueError("account ids must be unique")
        object.__setattr__(self, "_by_id", by_id)

    def get(self, account_id: str) -> Account | None:
        """Return the account with this id, or ``None``."""
        return self._by_id.get(account_id)

    @classmethod
    def generate(
        cls, accounts: int = 3, roles_per_account: int = 2, *, seed: int = 0
    ) -> Organisation:
        """Build ``accounts`` accounts with ``roles_per_account`` roles each.

        Account ids are random-looking but fixed by ``seed``; names cycle through a catalogue
        ("Production", "Staging", ...) with a numeric suffix; role names cycle through
        ``AdministratorAccess``, ``ReadOnlyAccess``, ... then repeat numbered.
        """
        if accounts < 0 or roles_per_account < 0:
            raise ValueError("accounts and roles_per_account must be >= 0")
        rng = random.Random(f"aiosso-org-{seed}")
        ids: set[str] = set()
        result = []
        roles = tuple(role_name(i) for i in range(roles_per_account))
        for index in range(accounts):
            account_id = f"{rng.randrange(10**11, 10**12):012d}"
            while account_id in ids:
                account_id = f"{rng.randrange(10**11, 10**12):012d}"
            ids.add(account_id)
            base = _ACCOUNT_NAMES[index % len(_ACCOUNT_NAMES)]
            name = f"{base}-{index + 1:04d}"
            email = f"aws+{name.lower()}@example.com"
            result.append(Account(account_id, name, email, roles))
        return cls(result)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Iterable[str]]) -> Organisation:
        """Build an organisation from ``{account_id: [role, ...]}``; names/emails are derived."""
        return cls(
            Account(account_id, f"Account {account_id}", f"aws+{account_id}@example.com", roles)
            for account_id, roles in mapping.items()
        )

    @classmethod
    def coerce(cls, value: OrganisationLike) -> Organisation:
        """Accept an Organisation, a ``{account_id: roles}`` mapping or an iterable of Accounts."""
        if isinstance(value, Organisation):
            return value
        if isinstance(value, Mapping):
            return cls.from_mapping(value)
        return cls(value)


@attrs.define
class TokenState:
    """What the emulator knows about one access token (never the token itself)."""

    ident: int
    label: str
    expires_at: float
    accounts: tuple[Account, ...]
    visible: frozenset[str]
    revoked: bool = False


class TokenStore:
    """Issued access tokens, their expiry (monotonic clock) and account visibility."""

    def __init__(self, organisation: Organisation, *, seed: int) -> None:
        self._org = organisation
        self._rng = random.Random(f"aiosso-tokens-{seed}")
        self._tokens: dict[str, TokenState] = {}

    def __repr__(self) -> str:
        return f"<TokenStore tokens={len(self._tokens)}>"

    def issue(self, expires_at: float, accounts: Sequence[str] | None) -> str:
        """Create a token valid until ``expires_at``, seeing ``accounts`` (None: all)."""
        ident = len(self._tokens) + 1
        if accounts is None:
            visible_accounts = self._org.accounts
        else:
            wanted = set(accounts)
            unknown = wanted.difference(a.account_id for a in self._org.accounts)
            if unknown:
                raise ValueError(f"unknown account ids: {sorted(unknown)}")
            visible_accounts = tuple(a for a in self._org.accounts if a.account_id in wanted)
        # Shaped like the real tokens: base64 text with '+', '/', '=' and a ':' separator,
        # which exercises clients' header handling.
        head = base64.b64encode(self._rng.randbytes(72)).decode()
        tail = base64.b64encode(self._rng.randbytes(49)).decode()
        token = f"aoa{head}:{tail}"
        self._tokens[token] = TokenState(
            ident=ident,
            label=f"token-{ident}",
            expires_at=expires_at,
            accounts=visible_accounts,
            visible=frozenset(a.account_id for a in visible_accounts),
        )
        return token

    def lookup(self, token: str, now: float) -> TokenState | None:
        """Return the state of a live token, or None if unknown, expired or logged out."""
        state = self._tokens.get(token)
        if state is None or state.revoked or now >= state.expires_at:
            return None
        return state

    def find(self, token: str) -> TokenState | None:
        """Return the state of any issued token, live or not."""
        return self._tokens.get(token)

    def __contains__(self, token: object) -> bool:
        return token in self._tokens

    def __len__(self) -> int:
        return len(self._tokens)
