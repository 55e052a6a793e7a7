"""Test helpers for aiosso and its users: a local IAM Identity Center portal emulator.

``PortalEmulator`` serves the four portal operations on loopback exactly as botocore expects
them, and on the same URL the SSO-OIDC service (client registration, device-code and PKCE
authorization-code logins with headless approval, refresh-token rotation);
``python -m aiosso.testing`` runs it standalone, and the ``sso_emulator`` pytest fixture (from
the ``aiosso`` pytest plugin) yields a started one per test.
"""

from ._emulator import PortalEmulator
from ._faults import FaultKind, Faults, Injection, RateLimit
from ._oidc import ApprovalMode, ClientRegistration, OIDCSettings, TokenPair
from ._org import Account, Organisation, OrganisationLike
from ._stats import EmulatorStats, OIDCStats, RequestRecord

__all__ = [
    "Account",
    "ApprovalMode",
    "ClientRegistration",
    "EmulatorStats",
    "FaultKind",
    "Faults",
    "Injection",
    "OIDCSettings",
    "OIDCStats",
    "Organisation",
    "OrganisationLike",
    "PortalEmulator",
    "RateLimit",
    "RequestRecord",
    "TokenPair",
]
