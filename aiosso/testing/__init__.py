"""Test helpers for aiosso and its users: a local IAM Identity Center portal emulator.

``PortalEmulator`` serves the four portal operations on loopback exactly as botocore expects
them; ``python -m aiosso.testing`` runs it standalone, and the ``sso_emulator`` pytest fixture
(from the ``aiosso`` pytest plugin) yields a started one per test.
"""

from ._emulator import PortalEmulator
from ._faults import FaultKind, Faults, Injection, RateLimit
from ._org import Account, Organisation, OrganisationLike
from ._stats import EmulatorStats, RequestRecord

__all__ = [
    "Account",
    "EmulatorStats",
    "FaultKind",
    "Faults",
    "Injection",
    "Organisation",
    "OrganisationLike",
    "PortalEmulator",
    "RateLimit",
    "RequestRecord",
]
