"""Schemathesis hooks for the Tally node API (loaded by tests/api-fuzz/schemathesis.toml).

The OpenAPI document (node/src/api/openapi.json) describes every parameter with a JSON Schema,
but three rules of the node cannot be written as a pattern, so the document names them and
this file teaches schemathesis to generate values that keep them:

- format `tally-address`: a bech32m checksum over a valid ed25519 key of prime order. Values
  are k·B for a random scalar k, written as the bech32m address or as 64 hex digits; format
  `tally-address-list` is up to 16 of them joined by commas.
- format `tally-state-key`: hex of a canonical borsh `StateKey`. Values are drawn from
  variants whose fields need no further rule (Governance, Epochs, Hold, Proposal,
  BadgeAnchor).
- two rules across parameters, stated in the operations' descriptions: a market's base and
  quote differ, and a provider's rewards are asked for an asset that provider issued. Valid
  (positive) cases are mapped to keep them; invalid (negative) cases are left alone.
"""

import re
from urllib.parse import quote as quote_url, unquote

import schemathesis
from hypothesis import strategies as st

# Ed25519 (RFC 8032 §5.1): the curve -x² + y² = 1 + d·x²·y² over GF(p), base point B of order L.
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P


def _inverse(x):
    return pow(x, P - 2, P)


def _recover_x(y, sign):
    u = (y * y - 1) * _inverse(D * y * y + 1) % P
    x = pow(u, (P + 3) // 8, P)
    if (x * x - u) % P != 0:
        x = x * pow(2, (P - 1) // 4, P) % P
    if x % 2 != sign:
        x = P - x
    return x


_BY = 4 * _inverse(5) % P
B = (_recover_x(_BY, 0), _BY)


def _add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + x2 * y1) * _inverse(1 + t) % P, (y1 * y2 + x1 * x2) * _inverse(1 - t) % P)


def _multiply(k, point):
    result = (0, 1)
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def _encode_point(point):
    x, y = point
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


# BIP 350 bech32m.
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3


def _polymod(values):
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            checksum ^= generator[i] if (top >> i) & 1 else 0
    return checksum


def _bech32m(hrp, data):
    words, accumulator, bits = [], 0, 0
    for byte in data:
        accumulator = accumulator << 8 | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            words.append(accumulator >> bits & 31)
    if bits:
        words.append(accumulator << (5 - bits) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _polymod(expanded + words + [0] * 6) ^ _BECH32M_CONST
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words + checksum)


def _address(key, form):
    if form == "bech32m":
        return _bech32m("tally", key)
    return key.hex() if form == "hex" else key.hex().upper()


_KEYS = st.integers(min_value=1, max_value=L - 1).map(lambda k: _encode_point(_multiply(k, B)))
_ADDRESSES = st.builds(_address, _KEYS, st.sampled_from(["bech32m", "bech32m", "hex", "HEX"]))
schemathesis.openapi.format("tally-address", _ADDRESSES)
# `GET /v1/events?accounts=`: at most 16 addresses, comma-separated.
schemathesis.openapi.format("tally-address-list", st.lists(_ADDRESSES, max_size=16).map(",".join))

# StateKey variant tags: the order of `tally_ledger::StateKey`'s variants.
_HOLD, _BADGE_ANCHOR, _GOVERNANCE, _EPOCHS, _PROPOSAL = 7, 12, 15, 17, 18
schemathesis.openapi.format(
    "tally-state-key",
    st.one_of(
        st.sampled_from([bytes([_GOVERNANCE]), bytes([_EPOCHS])]),
        st.builds(lambda tag, rest: bytes([tag]) + rest, st.sampled_from([_HOLD, _PROPOSAL]), st.binary(min_size=16, max_size=16)),
        st.binary(min_size=32, max_size=32).map(lambda root: bytes([_BADGE_ANCHOR]) + root),
    ).map(bytes.hex),
)


def _is_positive(case):
    """A case every part of which was drawn as valid (negative cases are left alone)."""
    meta = case.meta
    if meta is None or meta.generation.mode.is_negative:
        return False
    return not any(component.mode.is_negative for component in meta.components.values())


_ASSET_ID = re.compile(r"^[A-Z0-9]{2,12}@[a-z][a-z0-9-]{1,31}$")
_MEMBER_ID = re.compile(r"^[a-z][a-z0-9-]{1,31}$")


@schemathesis.hook
def map_case(context, case):
    if not _is_positive(case) or not case.path_parameters:
        return case
    path = case.operation.path
    if path.startswith("/v1/markets/{base}/{quote}"):
        base, quote = case.path_parameters.get("base"), case.path_parameters.get("quote")
        if isinstance(base, str) and isinstance(quote, str) and unquote(base) == unquote(quote):
            text = unquote(quote)
            if _ASSET_ID.match(text):
                code, member = text.split("@", 1)
                # Another code of the same shape: its first character changed.
                swapped = f"{'B' if code[0] == 'A' else 'A'}{code[1:]}@{member}"
                # Keep the encoding the value came in (the coverage phase sends it encoded).
                case.path_parameters["quote"] = swapped if text == quote else quote_url(swapped, safe="")
    if path == "/v1/providers/{member}/rewards" and case.query:
        member, asset = case.path_parameters.get("member"), case.query.get("asset")
        if isinstance(member, str) and _MEMBER_ID.match(member) and isinstance(asset, str) and _ASSET_ID.match(asset):
            case.query["asset"] = asset.split("@", 1)[0] + "@" + member
    return case
