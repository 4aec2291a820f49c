"""Chinese identity data: resident ID numbers (GB 11643-1999) and mainland mobile numbers.

Pure functions shared by the registry's validation, masking and the seed generator.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
# ASCII digits only: `\d` would also match fullwidth digits (５３０…), which int() reads as digits too, so one
# ID number could be registered twice. Clients' input is normalised (NFKC) first, so fullwidth forms typed
# with a Chinese input method are still accepted, as their ASCII spelling.
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
_MOBILE_SHAPE = re.compile(r"^1[3-9][0-9]{9}$")


def normalise_id_number(id_number: str) -> str:
    """The one spelling stored and searched: fullwidth forms as ASCII, no surrounding blanks, X upper case."""
    return unicodedata.normalize("NFKC", id_number).strip().upper()


def id_check_char(first17: str) -> str:
    """The GB 11643 check character (ISO 7064 MOD 11-2) for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def id_number_problem(id_number: str) -> str | None:
    """None when the 18-character resident ID number is valid, otherwise why it is not."""
    if not _ID_SHAPE.fullmatch(id_number):
        return "must be 17 digits followed by a digit or X"
    try:
        born = birth_date(id_number)
    except ValueError:
        return "contains an impossible birth date"
    if born.year < 1890 or born > date.today():  # nobody registered is born in the future
        return "contains an impossible birth date"
    if id_check_char(id_number[:17]) != id_number[17]:
        return "check digit does not match (GB 11643)"
    return None


def birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def normalise_phone(phone: str) -> str:
    """Fullwidth forms as ASCII; strip spaces, dashes and a +86/0086 country prefix."""
    digits = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", phone))
    for prefix in ("+86", "0086"):
        digits = digits.removeprefix(prefix)
    return digits


def mobile_problem(phone: str) -> str | None:
    if not _MOBILE_SHAPE.fullmatch(phone):
        return "must be an 11-digit mainland mobile number starting 13-19"
    return None


def mask_id_number(id_number: str) -> str:
    """Keep the region (first 6) and the last 4: enough for an operator to confirm with the elder."""
    return id_number[:6] + "*" * 8 + id_number[-4:]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "*" * len(phone)
