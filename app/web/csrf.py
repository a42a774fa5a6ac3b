"""The CSRF token as it appears in a response: masked afresh each time (BREACH).

Pages are compressed and some reflect what the visitor typed (a search), so a secret that is
the same in every response could be guessed a character at a time from compressed sizes.
Each response therefore carries `pad + (pad XOR token)` in hex with a random pad (Django's
scheme): a different string every time, the same token underneath. The check accepts a masked
token and the raw one (which no response shows; API clients and tests may compute it).
"""

import hmac
import secrets

TOKEN_BYTES = 32  # csrf_token_for is a SHA-256 HMAC in hex


def mask(token: str) -> str:
    raw = bytes.fromhex(token)
    pad = secrets.token_bytes(len(raw))
    return (pad + bytes(a ^ b for a, b in zip(pad, raw, strict=True))).hex()


def unmask(sent: str) -> str | None:
    """The token under a masked one; a raw token as it is; None for anything else."""
    if not sent or not sent.isascii() or len(sent) not in (2 * TOKEN_BYTES, 4 * TOKEN_BYTES):
        return None
    try:
        data = bytes.fromhex(sent)
    except ValueError:
        return None
    if len(data) == TOKEN_BYTES:
        return data.hex()
    pad, masked = data[:TOKEN_BYTES], data[TOKEN_BYTES:]
    return bytes(a ^ b for a, b in zip(pad, masked, strict=True)).hex()


def matches(sent: str | None, expected: str) -> bool:
    token = unmask(sent or "")
    return token is not None and hmac.compare_digest(token, expected.lower())
