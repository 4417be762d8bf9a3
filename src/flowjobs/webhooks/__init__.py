"""Signed webhooks: the service (webhooks of a space, their deliveries, one
attempt), the JSON text and signature receivers check, secret encryption and
the retry schedule. The outbox rows are written by the store when jobs end;
the dispatcher in ``worker/dispatcher.py`` sends them."""

from flowjobs.webhooks.crypto import SecretBox, new_key
from flowjobs.webhooks.service import CreatedWebhook, WebhookService
from flowjobs.webhooks.signing import SIGNATURE_HEADER, sign, verify

__all__ = [
    "SIGNATURE_HEADER",
    "CreatedWebhook",
    "SecretBox",
    "WebhookService",
    "new_key",
    "sign",
    "verify",
]
