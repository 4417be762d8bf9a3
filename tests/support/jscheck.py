"""What the DecisionRules JavaScript SDK's validateWebhookSignature does, run
by Node.js: HMAC-SHA256 (hex) of JSON.stringify(JSON.parse(body)), keyed by the
secret, compared with the x-webhook-signature header. Also reports whether
parse-then-stringify gave back the body byte for byte."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

_SCRIPT = r"""
const crypto = require("crypto");
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const results = JSON.parse(input).map(({ body, signature, secret }) => {
    const text = JSON.stringify(JSON.parse(body));
    const expected = crypto.createHmac("sha256", secret).update(text).digest("hex");
    return { valid: expected === signature, sameText: text === body };
  });
  process.stdout.write(JSON.stringify(results));
});
"""


def node() -> str:
    found = shutil.which("node")
    if found is None:  # the Python checks of the same texts still run
        pytest.skip("Node.js is not installed: the JavaScript cross-check needs it")
    return found


def validate(items: list[tuple[bytes, str, str]]) -> list[dict[str, Any]]:
    """[(body, signature, secret)] -> [{"valid", "sameText"}] as Node.js sees them."""
    payload = [
        {"body": body.decode("utf-8"), "signature": signature, "secret": secret}
        for body, signature, secret in items
    ]
    result = subprocess.run(
        [node(), "-e", _SCRIPT],
        input=json.dumps(payload, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    parsed: list[dict[str, Any]] = json.loads(result.stdout)
    return parsed


def stringify(texts: list[str]) -> list[str]:
    """JSON.stringify(JSON.parse(text)) for each text."""
    script = (
        'let s="";process.stdin.on("data",c=>s+=c);process.stdin.on("end",()=>'
        "process.stdout.write(JSON.stringify(JSON.parse(s).map(t=>JSON.stringify(JSON.parse(t))))))"
    )
    result = subprocess.run(
        [node(), "-e", script],
        input=json.dumps(texts, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    parsed: list[str] = json.loads(result.stdout)
    return parsed
