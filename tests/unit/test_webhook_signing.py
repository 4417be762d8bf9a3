"""Webhook bodies, signatures, secrets at rest and the retry schedule (no I/O).

The expected texts in NUMBERS and OBJECTS were written by Node.js 20's
``JSON.stringify(JSON.parse(text))``; tests/integration/test_webhook_delivery.py
checks real bodies with Node.js itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from flowjobs.config import Settings
from flowjobs.domain import AttemptResult
from flowjobs.errors import ConfigurationError, SecretDecryptionError, SecretKeyMissingError
from flowjobs.webhooks import SecretBox, sign, verify
from flowjobs.webhooks.delivery import envelope, timestamp
from flowjobs.webhooks.jsontext import dumps
from flowjobs.webhooks.retry import next_attempt_at, retry_delay, schedule
from flowjobs.webhooks.signing import new_secret

# (the value Python holds after json.loads, the text JavaScript writes for it)
NUMBERS = [
    (0, "0"),
    (-0.0, "0"),
    (1.0, "1"),
    (-1.0, "-1"),
    (100.0, "100"),
    (1.5, "1.5"),
    (0.1, "0.1"),
    (123.456, "123.456"),
    (1e-6, "0.000001"),
    (1.5e-6, "0.0000015"),
    (1e-7, "1e-7"),
    (1.23e-18, "1.23e-18"),
    (1e16, "10000000000000000"),
    (1e20, "100000000000000000000"),
    (1.23e20, "123000000000000000000"),
    (1e21, "1e+21"),
    (1.5e300, "1.5e+300"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (2**53, "9007199254740992"),
    (-(2**53), "-9007199254740992"),
    (2**53 + 1, "9007199254740992"),  # JSON.parse rounds it to a double
    (2**60, "1152921504606847000"),
    (12345678901234567890, "12345678901234567000"),
    (10**21, "1e+21"),
    (10**400, "null"),  # Infinity after JSON.parse; JSON.stringify writes null
    (0.30000000000000004, "0.30000000000000004"),
    (float("nan"), "null"),
]

OBJECTS = [
    ({"b": 1, "a": 2}, '{"b":1,"a":2}'),  # insertion order kept
    ({"b": 1, "2": 2, "1": 3}, '{"1":3,"2":2,"b":1}'),  # array indices first, ascending
    ({"10": 0, "9": 0, "01": 0, "-1": 0}, '{"9":0,"10":0,"01":0,"-1":0}'),
    ({"4294967294": 0, "4294967295": 0, "x": 0}, '{"4294967294":0,"4294967295":0,"x":0}'),
    ({"4294967295": 0, "0": 0}, '{"0":0,"4294967295":0}'),
    ([1, [2.0, {}], []], "[1,[2,{}],[]]"),
    ({"t": True, "f": False, "n": None}, '{"t":true,"f":false,"n":null}'),
]

STRINGS = [
    ("plain", '"plain"'),
    ("é✓ 日本 😀", '"é✓ 日本 😀"'),  # non-ASCII as itself
    ('quote " backslash \\', '"quote \\" backslash \\\\"'),
    ("\n\r\t\b\f", '"\\n\\r\\t\\b\\f"'),
    ("\x00\x1f\x7f", '"\\u0000\\u001f\x7f"'),
    ("\u2028\u2029", '"\u2028\u2029"'),
    ("lone \ud800", '"lone \\ud800"'),
    ("</script>", '"</script>"'),
]


@pytest.mark.parametrize(("value", "text"), NUMBERS)
def test_numbers_are_written_as_javascript_writes_them(value: float, text: str) -> None:
    assert dumps(value) == text


@pytest.mark.parametrize(("value", "text"), OBJECTS)
def test_objects_and_arrays_follow_javascript_key_order(value: object, text: str) -> None:
    assert dumps(value) == text


@pytest.mark.parametrize(("value", "text"), STRINGS)
def test_strings_are_escaped_as_javascript_escapes_them(value: str, text: str) -> None:
    assert dumps(value) == text


def test_a_written_text_is_a_fixed_point() -> None:
    """Parsing a body and writing it again gives the same text: what the
    receiver's parse-then-stringify relies on."""
    value = {"n": [1.0, 2.5, 1e21, 1e-7, 2**60], "s": "é\n", "2": {"1": None, "a": [True]}}
    text = dumps(value)
    assert dumps(json.loads(text)) == text
    assert (
        text == '{"2":{"1":null,"a":[true]},"n":[1,2.5,1e+21,1e-7,1152921504606847000],"s":"é\\n"}'
    )


def test_only_json_data_can_be_written() -> None:
    with pytest.raises(TypeError):
        dumps({"when": datetime.now(UTC)})
    with pytest.raises(TypeError):
        dumps({1: "int key"})


def test_signature_is_lowercase_hex_hmac_sha256_of_the_body() -> None:
    # RFC 4231, test case 2
    body = b"what do ya want for nothing?"
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign(body, "Jefe") == expected
    assert verify(body, expected.upper(), "Jefe")
    assert not verify(body + b" ", expected, "Jefe")
    assert not verify(body, expected, "jefe")


def test_secrets_are_random_and_long() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and first.startswith("fjw_") and len(first) >= 40


def test_secrets_are_encrypted_and_keys_rotate() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    secret = new_secret()
    token = SecretBox([old]).encrypt(secret)
    assert secret not in token
    assert SecretBox([old]).decrypt(token) == secret
    rotating = SecretBox([new, old])  # the new key first: it encrypts, both decrypt
    assert rotating.decrypt(token) == secret
    rotated = rotating.rotate(token)
    assert SecretBox([new]).decrypt(rotated) == secret
    with pytest.raises(SecretDecryptionError):
        SecretBox([new]).decrypt(token)


def test_secret_box_needs_a_valid_key_and_never_echoes_it() -> None:
    with pytest.raises(SecretKeyMissingError):
        SecretBox([]).encrypt("x")
    with pytest.raises(ConfigurationError) as raised:
        SecretBox(["not-a-fernet-key-but-a-secret"])
    assert "not-a-fernet-key-but-a-secret" not in str(raised.value)


def test_settings_split_secret_keys_and_want_a_lease_longer_than_the_timeout() -> None:
    keys = [Fernet.generate_key().decode() for _ in range(2)]
    settings = Settings(secret_key=f" {keys[0]} ,{keys[1]}")
    assert settings.secret_keys == keys
    assert "SecretStr" in repr(settings.secret_key) and keys[0] not in repr(settings)
    with pytest.raises(ValueError, match="webhook_lease_seconds"):
        Settings(webhook_timeout_seconds=10, webhook_lease_seconds=10)


def test_backoff_grows_by_the_factor_up_to_the_cap_with_bounded_jitter() -> None:
    settings = Settings(
        webhook_retry_first_delay=10,
        webhook_retry_factor=2,
        webhook_retry_max_delay=100,
        webhook_retry_jitter=0.2,
    )
    middle = [retry_delay(n, settings, rand=lambda: 0.5) for n in range(1, 7)]
    assert middle == [10, 20, 40, 80, 100, 100]
    assert retry_delay(1, settings, rand=lambda: 0.0) == pytest.approx(8)
    assert retry_delay(1, settings, rand=lambda: 1.0) == pytest.approx(12)
    assert retry_delay(10_000, settings, rand=lambda: 0.5) == 100  # no overflow


def test_a_retry_past_the_window_gives_up() -> None:
    settings = Settings(
        webhook_retry_first_delay=10, webhook_retry_jitter=0, webhook_give_up_seconds=60
    )
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert next_attempt_at(1, since, since, settings) == since + timedelta(seconds=10)
    late = since + timedelta(seconds=45)
    assert next_attempt_at(2, since, late, settings) is None  # 45 + 20 > 60


def test_the_default_schedule_retries_for_about_a_day() -> None:
    times = schedule(Settings())
    assert times[:4] == [10, 30, 70, 150]
    assert 20 <= len(times) <= 40
    assert 23 * 3600 <= times[-1] <= 24 * 3600


def test_an_event_envelope_carries_the_metadata() -> None:
    at = datetime(2026, 11, 28, 23, 47, 5, 123456, tzinfo=UTC)
    event = envelope(
        "JOB.COMPLETED",
        {"jobId": "j"},
        alias="crm",
        delivery_id="d",
        attempt=2,
        correlation_id="c",
        at=at,
    )
    assert dumps(event) == (
        '{"eventType":"JOB.COMPLETED","data":{"jobId":"j"},"metadata":{"webhookAlias":"crm",'
        '"deliveryId":"d","attempt":2,"timestamp":"2026-11-28T23:47:05.123Z","correlationId":"c"}}'
    )
    assert timestamp(at.astimezone(UTC)) == "2026-11-28T23:47:05.123Z"


def test_only_a_2xx_answer_is_a_success() -> None:
    assert AttemptResult(200, 1.0, None).ok and AttemptResult(204, 1.0, None).ok
    assert not AttemptResult(301, 1.0, "HTTP 301").ok
    assert not AttemptResult(500, 1.0, "HTTP 500").ok
    assert not AttemptResult(None, 1.0, "timed out").ok
