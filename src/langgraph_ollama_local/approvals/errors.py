"""Typed errors of the approval core: each says what happened, why, and what to do."""

from __future__ import annotations


class ApprovalError(Exception):
    """Base class for every error the approval core raises."""


class PolicyError(ApprovalError, ValueError):
    """A policy is malformed or names something that does not exist.

    Raised at load or bind time, never at decision time: a typo must not become a
    silent auto-approve.
    """


class DecisionError(ApprovalError, ValueError):
    """A decision does not fit the request it answers (type not allowed, bad args)."""


class UnknownInterruptError(ApprovalError, LookupError):
    """A resume names an interrupt that is not pending on the thread."""

    def __init__(self, message: str, *, interrupt_ids: tuple[str, ...], pending_ids: tuple[str, ...]):
        super().__init__(message)
        self.interrupt_ids = interrupt_ids
        self.pending_ids = pending_ids


class NotPausedError(ApprovalError, RuntimeError):
    """Something tried to resume a thread that is not waiting for anyone."""
