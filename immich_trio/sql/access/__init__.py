"""Who may touch which rows: Immich's access checks as SQL predicates composed per permission."""

from __future__ import annotations

from .rules import USER_RULES, Principal, Rule, SharedLinkGrant, allowed_ids, rule_for

__all__ = ["USER_RULES", "Principal", "Rule", "SharedLinkGrant", "allowed_ids", "rule_for"]
