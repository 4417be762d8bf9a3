"""Signed webhooks: administration (``admin.py``: webhooks of a space, their
deliveries, test events, redelivery), delivery (``delivery.py``: one attempt
from build to record), the JSON text and signature receivers check, secret
encryption and the retry schedule. The outbox rows are written by the store
when jobs end; the dispatcher in ``worker/dispatcher.py`` sends them."""

from flowjobs.webhooks.admin import CreatedWebhook, WebhookService
from flowjobs.webhooks.crypto import SecretBox, new_key
from flowjobs.webhooks.delivery import JobReader, WebhookDeliverer
from flowjobs.webhooks.signing import SIGNATURE_HEADER, sign, verify

__all__ = [
    "SIGNATURE_HEADER",
    "CreatedWebhook",
    "JobReader",
    "SecretBox",
    "WebhookDeliverer",
    "WebhookService",
    "new_key",
    "sign",
    "verify",
]
