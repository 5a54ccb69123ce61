"""Whalet's legacy message envelope (protocol spec §2): sign, encrypt, verify, decrypt.

Whalet's published pages fix the shape (head/body, ``sign``, ``keyEnc``, ``body.encrypt``) but not
every detail. Each detail we had to choose is a setting of ``whalet.recipes.LegacyRecipe``
(``[whalet.legacy]`` in the policy file) whose default is the spec's canonical reading; the codec
reads its recipe and nothing else decides those details.

The codec is symmetric: it holds its own private key and the peer's public key, so the partner
(our client) uses it one way round. Requests and notifications travel "request-shaped"; answers
and acks travel "response-shaped". A receiver always verifies ``sign`` before it decrypts anything.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import re
import secrets
import string
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from whalet.recipes import LegacyRecipe

# --- fixed by the spec; the provisional details are LegacyRecipe settings --------------------
SESSION_KEY_BYTES = 16  # AES-128
BODY_CIPHER = "AES-128-ECB/PKCS7"  # documented name; the implementation is _aes_encrypt below
AES_BLOCK = 16
KEY_WRAP_PADDING = padding.PKCS1v15()  # the canonical keyEnc padding (recipe key_padding = PKCS1v15)
SIGN_PADDING = padding.PKCS1v15()  # SHA...withRSA
SIGN_HASH = hashes.SHA256()  # the canonical signature hash (recipe sign_hash = SHA256)
SIGN_HASHES = {"SHA256": hashes.SHA256, "SHA1": hashes.SHA1}
SESSION_KEY_ALPHABET = string.ascii_letters + string.digits
PROTOCOL_VERSION = "1.0"
ACK_CODE = "SUCCESS"
ACK_DETAIL = "成功"
HEAD_LIMITS = {"partnerId": 30, "apiCode": 30, "requestNo": 30, "version": 8, "code": 32, "detail": 256}
RSA_KEY_BITS = 2048
# ---------------------------------------------------------------------------------------------


class EnvelopeError(ValueError):
    """A message that cannot be trusted or read."""


class MalformedEnvelope(EnvelopeError):
    """Not JSON, not an object, a head field missing or too long, bad Base64, bad padding."""


class SignatureInvalid(EnvelopeError):
    """The signature does not verify with the sender's public key: the message is refused."""


@dataclass(frozen=True, slots=True)
class Opened:
    """A verified and decrypted message. ``body`` is None when the message carried no body."""

    head: dict[str, str]
    body: dict[str, Any] | list[Any] | None


# --- JSON without floats ---------------------------------------------------------------------


_DECIMAL_MARK = "\x00whalet-decimal:"
_DECIMAL_SLOT = re.compile(r'"\\u0000whalet-decimal:(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


def dumps_compact(value: Any) -> str:
    """Compact JSON (no spaces, UTF-8 kept) that writes Decimals as exact JSON numbers.

    The C encoder does the work (this runs once per message, beside the RSA operations): each
    Decimal goes in as a marked string and is swapped for its digits afterwards. If the count of
    swaps differs from the count of Decimals (a string that happened to look like a mark), the
    slow exact writer is used instead, so no text can ever turn into a number.
    """
    decimals = 0

    def mark(item: Any) -> str:
        nonlocal decimals
        if isinstance(item, Decimal) and item.is_finite():
            decimals += 1
            return f"{_DECIMAL_MARK}{item:f}\x00"
        raise TypeError(f"cannot encode {type(item).__name__} as JSON")

    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=mark, allow_nan=False)
    except (TypeError, ValueError):
        text = None
    if text is not None and not _contains_float(value):
        swapped, count = _DECIMAL_SLOT.subn(r"\1", text)
        if count == decimals:
            return swapped
    parts: list[str] = []
    _write_json(value, parts)
    return "".join(parts)


def _contains_float(value: Any) -> bool:
    """Floats are refused (the slow writer raises); the fast path must not let one through."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float):
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return False


def _write_json(value: Any, out: list[str]) -> None:
    if value is None or isinstance(value, (bool, str, int)) and not isinstance(value, Decimal):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} as an amount")
        out.append(format(value, "f"))
    elif isinstance(value, float):
        raise TypeError("floats are not sent to Whalet; use Decimal")
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write_json(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write_json(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


# Far deeper than any Whalet or Slack payload (under 15 levels), far below the recursion limit.
MAX_JSON_DEPTH = 64


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _check_depth(value: Any, limit: int) -> None:
    """Iteratively (a recursive walk would itself overflow on the input it guards against)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    raise ValueError(f"JSON nested deeper than {limit} levels")
                stack.append((child, depth + 1))


MAX_NUMBER_DIGITS = 40  # significant digits of any number in a message
MAX_NUMBER_EXPONENT = 40  # |exponent| of its most significant digit


class NumberOutOfBounds(ValueError):
    """A number no money amount, id or timestamp needs: refused before anything is stored."""


def _bounded_decimal(text: str) -> Decimal:
    value = Decimal(text)
    if len(value.as_tuple().digits) > MAX_NUMBER_DIGITS or abs(value.adjusted()) > MAX_NUMBER_EXPONENT:
        raise NumberOutOfBounds(
            f"number {text[:24]}{'…' if len(text) > 24 else ''} is out of bounds "
            f"(at most {MAX_NUMBER_DIGITS} digits, exponent within ±{MAX_NUMBER_EXPONENT})"
        )
    return value


def _bounded_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_NUMBER_DIGITS:
        raise NumberOutOfBounds(f"integer {text[:24]}… has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def loads_exact(data: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON with every non-integer number as a Decimal; NaN and Infinity are refused.

    Anything nested deeper than ``max_depth`` is refused with ValueError like any other bad
    JSON: the parser itself would raise RecursionError at about a thousand levels (200 000
    ``[`` fit in a small body), and every recursive step after it (signing, storing, rendering)
    would fail further down, out of reach of the caller's error handling. So is a number beyond
    ``MAX_NUMBER_DIGITS`` digits or an exponent of ±``MAX_NUMBER_EXPONENT`` (``NumberOutOfBounds``):
    ``1e5000`` is a valid JSON number that becomes 5,000 digits when written out as an amount,
    and ``1e100000000`` a 100 MB row."""
    try:
        value = json.loads(data, parse_float=_bounded_decimal, parse_int=_bounded_int, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    _check_depth(value, max_depth)
    return value


# --- keys ------------------------------------------------------------------------------------


def _key_bytes(text_or_path: str | bytes) -> bytes:
    raw = text_or_path.encode() if isinstance(text_or_path, str) else text_or_path
    stripped = raw.strip()
    if b"-----BEGIN" in stripped:
        return stripped
    if len(stripped) < 512 and b"\n" not in stripped:
        try:
            candidate = Path(stripped.decode(errors="replace")).expanduser()
            if candidate.is_file():
                return _key_bytes(candidate.read_bytes())
        except OSError:  # bare Base64 that is no valid path (too long a name, etc.)
            pass
    return stripped


def load_private_key(source: str | bytes) -> rsa.RSAPrivateKey:
    """PEM text, bare Base64 PKCS#8 DER, or a path to a file holding either."""
    return _parsed_private_key(_key_bytes(source))


@functools.lru_cache(maxsize=8)
def _parsed_private_key(data: bytes) -> rsa.RSAPrivateKey:
    """Parsing checks the key's arithmetic (about 35 ms); the same bytes give the same immutable key,
    so a process that builds several clients (a restart in place, the tests' stacks) parses once."""
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(base64.b64decode(data, validate=True), password=None)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise EnvelopeError(f"not a readable RSA private key (PEM or Base64 DER): {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise EnvelopeError("the private key is not an RSA key")
    return key


def load_public_key(source: str | bytes) -> rsa.RSAPublicKey:
    """PEM text, bare Base64 SubjectPublicKeyInfo DER, or a path to a file holding either."""
    data = _key_bytes(source)
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(base64.b64decode(data, validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise EnvelopeError(f"not a readable RSA public key (PEM or Base64 DER): {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise EnvelopeError("the public key is not an RSA key")
    return key


def generate_key_pair() -> tuple[bytes, bytes]:
    """A fresh RSA-2048 pair as (PKCS#8 private PEM, SubjectPublicKeyInfo public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


# --- primitives ------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, field: str) -> bytes:
    if not isinstance(text, str) or not text:
        raise MalformedEnvelope(f"{field} is missing or not a string")
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedEnvelope(f"{field} is not valid Base64") from None
    if base64.b64encode(decoded).decode("ascii") != text:
        # Non-canonical Base64 (stray bits in the last character) decodes to the same bytes; a
        # changed character must never still verify, so only the canonical spelling is accepted.
        raise MalformedEnvelope(f"{field} is not canonical Base64")
    return decoded


def _aes_encrypt(key: bytes, plaintext: bytes) -> bytes:
    fill = AES_BLOCK - len(plaintext) % AES_BLOCK  # PKCS#7: always 1..16 bytes of value n
    padded = plaintext + bytes([fill]) * fill
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - Whalet's choice
    return encryptor.update(padded) + encryptor.finalize()


def _aes_decrypt(key: bytes, ciphertext: bytes) -> bytes:
    if len(ciphertext) == 0 or len(ciphertext) % 16:
        raise MalformedEnvelope("encrypt is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()  # noqa: S305
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    fill = padded[-1]
    if not 1 <= fill <= AES_BLOCK or padded[-fill:] != bytes([fill]) * fill:
        raise MalformedEnvelope("encrypt has bad padding")
    return padded[:-fill]


def aes_ecb_encrypt(key: bytes, plaintext: bytes) -> bytes:
    """AES-ECB with PKCS#7: the one symmetric primitive both protocols use (v1: ``encrypted*`` fields)."""
    return _aes_encrypt(key, plaintext)


def aes_ecb_decrypt(key: bytes, ciphertext: bytes) -> bytes:
    return _aes_decrypt(key, ciphertext)


def string_to_sign(head: dict[str, Any], encrypt: str | None, fields: tuple[str, ...]) -> str:
    parts = []
    for name in fields:
        if name == "encrypt":
            if encrypt is None:
                continue
            value = encrypt
        else:
            value = head.get(name, "")
        parts.append(f"{name}={value}")
    return "&".join(parts)


# --- the codec -------------------------------------------------------------------------------


class EnvelopeCodec:
    """One side of the conversation: signs with its own key, encrypts to the peer."""

    def __init__(
        self, own_private_key: rsa.RSAPrivateKey, peer_public_key: rsa.RSAPublicKey, recipe: LegacyRecipe | None = None
    ):
        self._own = own_private_key
        self._peer = peer_public_key
        self.recipe = recipe = recipe or LegacyRecipe()
        self._hash = SIGN_HASHES[recipe.sign_hash]()
        self._wrap = (
            KEY_WRAP_PADDING
            if recipe.key_padding == "PKCS1v15"
            else padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
        )
        self._request_fields = recipe.request_sign_fields
        self._response_fields = recipe.response_sign_fields

    def with_recipe(self, recipe: LegacyRecipe) -> EnvelopeCodec:
        """The same keys under another recipe (``check --probe`` tries alternatives this way)."""
        return EnvelopeCodec(self._own, self._peer, recipe)

    def _session_key(self) -> bytes:
        if self.recipe.session_key == "ascii":
            return "".join(secrets.choice(SESSION_KEY_ALPHABET) for _ in range(SESSION_KEY_BYTES)).encode("ascii")
        return os.urandom(SESSION_KEY_BYTES)

    def _encode_sign(self, signature: bytes) -> str:
        return signature.hex() if self.recipe.sign_encoding == "hex" else _b64(signature)

    def _decode_sign(self, text: Any) -> bytes:
        if self.recipe.sign_encoding == "base64":
            return _unb64(text, "sign")
        if not isinstance(text, str) or not text:
            raise MalformedEnvelope("sign is missing or not a string")
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise MalformedEnvelope("sign is not valid hex") from None

    # sending

    def _seal(self, head: dict[str, str], body: Any, fields: tuple[str, ...]) -> dict[str, Any]:
        head = dict(head)
        sealed_body: dict[str, str] = {}
        encrypt: str | None = None
        if body is not None:
            session_key = self._session_key()
            encrypt = _b64(_aes_encrypt(session_key, dumps_compact(body).encode("utf-8")))
            head["keyEnc"] = _b64(self._peer.encrypt(session_key, self._wrap))
            sealed_body["encrypt"] = encrypt
        else:
            head.pop("keyEnc", None)
        message = string_to_sign(head, encrypt, fields).encode("utf-8")
        head["sign"] = self._encode_sign(self._own.sign(message, SIGN_PADDING, self._hash))
        return {"head": head, "body": sealed_body}

    def encode_request(self, partner_id: str, api_code: str, request_no: str, body: Any) -> dict[str, Any]:
        head = {"partnerId": partner_id, "apiCode": api_code, "requestNo": request_no, "version": PROTOCOL_VERSION}
        _check_head(head, self._request_fields)
        return self._seal(head, body, self._request_fields)

    def encode_response(self, request_head: dict[str, Any], code: str, detail: str, body: Any) -> dict[str, Any]:
        """Echo the request head, add the result, sign; ``body`` None gives an empty body."""
        head = {name: str(request_head.get(name, "")) for name in ("partnerId", "apiCode", "requestNo", "version")}
        head["code"] = code
        head["detail"] = detail[: HEAD_LIMITS["detail"]]
        return self._seal(head, body, self._response_fields)

    def encode_ack(self, notification_head: dict[str, Any]) -> dict[str, Any]:
        """The signed SUCCESS answer a partner gives a notification it has stored (spec §5)."""
        return self.encode_response(notification_head, ACK_CODE, ACK_DETAIL, None)

    # receiving

    def _open(self, message: bytes | str | dict[str, Any], fields: tuple[str, ...]) -> Opened:
        head, encrypt = self._verified(message, fields)
        if encrypt is None:
            return Opened(head={k: str(v) for k, v in head.items()}, body=None)
        try:
            session_key = self._own.decrypt(_unb64(head.get("keyEnc"), "keyEnc"), self._wrap)
        except ValueError:
            raise MalformedEnvelope("keyEnc cannot be decrypted with our key") from None
        if len(session_key) != SESSION_KEY_BYTES:
            raise MalformedEnvelope("keyEnc does not hold a 16-byte session key")
        plaintext = _aes_decrypt(session_key, _unb64(encrypt, "encrypt"))
        try:
            decoded = loads_exact(plaintext.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise MalformedEnvelope("the decrypted body is not UTF-8 JSON") from None
        if not isinstance(decoded, (dict, list)):
            raise MalformedEnvelope("the decrypted body is not a JSON object or array")
        return Opened(head={k: str(v) for k, v in head.items()}, body=decoded)

    def _verified(
        self, message: bytes | str | dict[str, Any], fields: tuple[str, ...]
    ) -> tuple[dict[str, Any], str | None]:
        """The head and ``encrypt`` of a message whose signature holds; raises otherwise."""
        if not isinstance(message, dict):
            try:
                message = loads_exact(message)
            except (ValueError, UnicodeDecodeError):
                raise MalformedEnvelope("the message is not JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("head"), dict):
            raise MalformedEnvelope("the message has no head object")
        head = message["head"]
        body = message.get("body")
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise MalformedEnvelope("body is not an object")
        _check_head(head, fields)
        encrypt = body.get("encrypt")
        if encrypt is not None and not isinstance(encrypt, str):
            raise MalformedEnvelope("encrypt is not a string")
        encrypt = encrypt or None
        if encrypt is None and "&encrypt=" in str(head.get("detail", "")):
            # Otherwise a signed body could be stripped and its encrypt smuggled into detail.
            raise MalformedEnvelope("head.detail must not contain '&encrypt='")
        signature = self._decode_sign(head.get("sign"))
        try:
            self._peer.verify(
                signature, string_to_sign(head, encrypt, fields).encode("utf-8"), SIGN_PADDING, self._hash
            )
        except InvalidSignature:
            raise SignatureInvalid("the signature does not match the sender's key") from None
        return head, encrypt

    def response_signature_holds(self, message: bytes | str | dict[str, Any]) -> bool:
        """Whether an answer's signature verifies under this recipe; nothing is decrypted.

        ``check --probe`` reads Whalet's recipe (hash, encoding, field order) off any signed
        answer this way, a refusal included, without sending another call.
        """
        try:
            self._verified(message, self._response_fields)
        except EnvelopeError:
            return False
        return True

    def decode_request(self, message: bytes | str | dict[str, Any]) -> Opened:
        """A request (at Whalet) or a notification (at the partner): verify, then decrypt."""
        return self._open(message, self._request_fields)

    decode_notification = decode_request

    def decode_response(self, message: bytes | str | dict[str, Any]) -> Opened:
        """An answer to our request: verify, then decrypt; ``head['code']`` carries the result."""
        return self._open(message, self._response_fields)


def _check_head(head: dict[str, Any], fields: tuple[str, ...]) -> None:
    for name in fields:
        if name == "encrypt":
            continue
        value = head.get(name)
        if name == "detail" and value is None:
            continue
        if not isinstance(value, str) or (not value and name != "detail"):
            raise MalformedEnvelope(f"head.{name} is missing or not a string")
        if len(value) > HEAD_LIMITS[name]:
            raise MalformedEnvelope(f"head.{name} is longer than {HEAD_LIMITS[name]} characters")
