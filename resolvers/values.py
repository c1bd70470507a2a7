"""The domain's value rules the API layer applies to its own inputs and outputs.

schema/ reads the domain only through resolvers/; the scalars that must agree with the domain
to the character (the strict Decimal scalar and the money text rule) take the rule from here,
and the audit verification values are shown as the domain computes them.
"""

from __future__ import annotations

from domain.audit import ChainVerification, DigestVerification
from domain.money import MONEY_TEXT_MAX, parse_money_text

__all__ = ["MONEY_TEXT_MAX", "ChainVerification", "DigestVerification", "parse_money_text"]
