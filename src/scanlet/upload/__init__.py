"""Uploading scanned documents to remote targets: the target policy (SSRF defence) and the
streaming HTTP(S) and FTP(S) uploaders."""

from scanlet.errors import UploadCancelled, UploadFailed, UploadTargetRefused
from scanlet.upload.ftp import upload_ftp
from scanlet.upload.http import Progress, UploadResult, upload_file
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
    "Progress",
    "Requester",
    "Resolver",
    "UploadCancelled",
    "UploadFailed",
    "UploadResult",
    "UploadRules",
    "UploadTargetRefused",
    "check_target",
    "default_resolve",
    "upload_file",
    "upload_ftp",
]
