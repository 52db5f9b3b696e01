"""Uploading scanned documents to remote targets; for now the target policy (SSRF defence)."""

from scanlet.errors import UploadTargetRefused
from scanlet.upload.policy import (
    CheckedTarget,
    Requester,
    Resolver,
    UploadRules,
    check_target,
    default_resolve,
)

__all__ = [
    "CheckedTarget",
    "Requester",
    "Resolver",
    "UploadRules",
    "UploadTargetRefused",
    "check_target",
    "default_resolve",
]
