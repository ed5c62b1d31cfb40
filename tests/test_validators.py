"""Number validators of real-name verification (VER-1 individuals, VER-2 enterprises).

The check characters used here come from small reference implementations written in this file
from the mathematical definition of each scheme (MOD 11-2 weights as powers of 2 mod 11, the
USCC weights as powers of 3 mod 31, Luhn by doubling from the right), not from the module under
test, so a wrong weight table in ``accounts/validators.py`` cannot hide behind itself.
No database is used.
"""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from verification.validators import (
    luhn_ok,
    resident_id_birth_date,
    validate_bank_account,
    validate_passport_number,
    validate_resident_id,
    validate_uscc,
)

# No example database (nothing is written into the repository), no deadline (dates, lazy
# translations), and the autouse settings fixture of conftest.py is harmless to share.
properties = hypothesis_settings(
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

PROVINCES = [
    *range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55),
    *range(61, 66), 71, 81, 82,
]  # fmt: skip
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
DIGITS = "0123456789"


# --- independent reference implementations ----------------------------------------------------


def reference_resident_id_check(first17):
    """ISO 7064 MOD 11-2: the full 18-character number, weights 2**(18-i), sums to 1 mod 11."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    check = next(c for c in range(11) if (total + c) % 11 == 1)
    return "X" if check == 10 else str(check)


def reference_org_code_check(first8):
    """GB 11714: weights 2**(9-i) mod 11, the full code sums to 0 mod 11 (10 written X)."""
    total = sum(int(ch, 36) * pow(2, 8 - i, 11) for i, ch in enumerate(first8))
    check = next(c for c in range(11) if (total + c) % 11 == 0)
    return "X" if check == 10 else str(check)


def reference_uscc_check(first17):
    """GB 32100: weights 3**(i-1) mod 31, the full code sums to 0 mod 31."""
    total = sum(USCC_CHARSET.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    return USCC_CHARSET[next(c for c in range(31) if (total + c) % 31 == 0)]


def reference_luhn_check_digit(payload):
    """The digit that makes ``payload + digit`` pass Luhn."""
    doubled = [int(d) * 2 if i % 2 == 0 else int(d) for i, d in enumerate(reversed(payload))]
    total = sum(v // 10 + v % 10 for v in doubled)
    return str((10 - total % 10) % 10)


def make_resident_id(region, born, sequence):
    first17 = f"{region}{born:%Y%m%d}{sequence}"
    return first17 + reference_resident_id_check(first17)


def make_uscc(head, region, org8):
    org_code = org8 + reference_org_code_check(org8)
    first17 = head + region + org_code
    return first17 + reference_uscc_check(first17)


def error_code(validator, value):
    with pytest.raises(ValidationError) as caught:
        validator(value)
    return caught.value.code


# --- hypothesis strategies --------------------------------------------------------------------

# One day of margin: the validator's "today" is Asia/Shanghai, the test machine's may differ.
past_birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date.today() - timedelta(days=1))


@st.composite
def resident_ids(draw):
    region = f"{draw(st.sampled_from(PROVINCES))}{draw(st.integers(0, 9999)):04d}"
    sequence = f"{draw(st.integers(0, 999)):03d}"
    return make_resident_id(region, draw(past_birth_dates), sequence)


@st.composite
def usccs(draw):
    head = draw(st.sampled_from("123456789ABCDEFGY")) + draw(st.sampled_from("123456789"))
    region = "".join(draw(st.lists(st.sampled_from(DIGITS), min_size=6, max_size=6)))
    org8 = "".join(draw(st.lists(st.sampled_from(USCC_CHARSET), min_size=8, max_size=8)))
    return make_uscc(head, region, org8)


@st.composite
def luhn_cards(draw):
    prefix = draw(st.sampled_from(["62", "4", "5", "3"]))
    length = draw(st.integers(16, 19))
    body = "".join(draw(st.lists(st.sampled_from(DIGITS), min_size=length - len(prefix) - 1,
                                 max_size=length - len(prefix) - 1)))  # fmt: skip
    payload = prefix + body
    return payload + reference_luhn_check_digit(payload)


def replace_at(value, index, char):
    return value[:index] + char + value[index + 1 :]


# --- resident identity number (VER-1) -------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["11010519491231002X", "440308199901101512", "110101199003074477"],
)
def test_resident_id_accepts_hand_verified_samples(number):
    assert reference_resident_id_check(number[:17]) == number[17]  # the sample itself is sound
    assert validate_resident_id(number) == number


def test_resident_id_accepts_lower_case_x_and_returns_it_upper_case():
    assert validate_resident_id("11010519491231002x") == "11010519491231002X"


def test_resident_id_strips_surrounding_whitespace():
    assert validate_resident_id("  11010519491231002X\n") == "11010519491231002X"


def test_resident_id_rejects_inner_spaces():
    assert error_code(validate_resident_id, "110105 19491231002X") == "length"
    assert error_code(validate_resident_id, "110105 9491231002X") == "format"


@pytest.mark.parametrize("number", ["", "11010519491231002", "11010519491231002X0", "110105194912"])
def test_resident_id_of_wrong_length_is_rejected_with_length_code(number):
    assert error_code(validate_resident_id, number) == "length"


@pytest.mark.parametrize(
    "number",
    ["1101051949123100AX", "11010519491231002Y", "X10105194912310021", "１1010519491231002X"],
)
def test_resident_id_with_letters_or_non_ascii_digits_is_rejected_with_format_code(number):
    assert error_code(validate_resident_id, number) == "format"


@pytest.mark.parametrize("province", ["00", "10", "16", "20", "24", "38", "47", "55", "66", "83"])
def test_resident_id_with_unknown_province_is_rejected_with_region_code(province):
    number = make_resident_id(province + "0105", date(1990, 1, 1), "123")
    assert error_code(validate_resident_id, number) == "region"


def test_every_real_province_code_is_accepted():
    for province in PROVINCES:
        number = make_resident_id(f"{province}0101", date(1990, 1, 1), "123")
        assert validate_resident_id(number) == number


@pytest.mark.parametrize("birth", ["20230230", "19901301", "19900100", "18991231", "20230229"])
def test_resident_id_with_impossible_birth_date_is_rejected_with_birth_date_code(birth):
    first17 = "110105" + birth + "123"
    number = first17 + reference_resident_id_check(first17)
    assert error_code(validate_resident_id, number) == "birth_date"


def test_resident_id_born_on_a_leap_day_and_on_1900_01_01_is_accepted():
    for born in (date(2000, 2, 29), date(1900, 1, 1)):
        number = make_resident_id("110105", born, "001")
        assert validate_resident_id(number) == number


def test_resident_id_with_future_birth_date_is_rejected():
    future = timezone.localdate() + timedelta(days=2)
    assert error_code(validate_resident_id, make_resident_id("110105", future, "001")) == (
        "birth_date"
    )


def test_resident_id_with_wrong_check_character_is_rejected_with_checksum_code():
    assert error_code(validate_resident_id, "110105194912310021") == "checksum"


def test_resident_id_error_messages_are_user_friendly():
    with pytest.raises(ValidationError) as too_short:
        validate_resident_id("123")
    assert too_short.value.messages == ["The resident ID number must have 18 characters."]
    with pytest.raises(ValidationError) as bad_check:
        validate_resident_id("110105194912310021")
    assert "check character" in bad_check.value.messages[0]


def test_resident_id_birth_date_reads_the_encoded_date():
    assert resident_id_birth_date(" 11010519491231002x") == date(1949, 12, 31)


def test_resident_id_birth_date_refuses_an_invalid_number():
    assert error_code(resident_id_birth_date, "110105194912310021") == "checksum"


@properties
@given(number=resident_ids())
def test_generated_resident_ids_pass(number):
    assert validate_resident_id(number) == number
    assert validate_resident_id(number.lower()) == number


@properties
@given(number=resident_ids(), data=st.data())
def test_changing_any_single_character_of_a_resident_id_fails(number, data):
    # MOD 11-2 weights are all non-zero mod 11 and digit differences are below 11, so every
    # single substitution changes the checksum; a region or date error may be reported first.
    index = data.draw(st.integers(0, 17))
    alphabet = DIGITS + "X" if index == 17 else DIGITS
    char = data.draw(st.sampled_from(alphabet).filter(lambda c: c != number[index]))
    with pytest.raises(ValidationError):
        validate_resident_id(replace_at(number, index, char))


@properties
@given(number=resident_ids(), data=st.data())
def test_changing_the_sequence_or_check_character_of_a_resident_id_is_a_checksum_error(
    number, data
):
    # Positions 15-18 leave region and birth date intact: only the checksum can catch it.
    index = data.draw(st.integers(14, 17))
    alphabet = DIGITS + "X" if index == 17 else DIGITS
    char = data.draw(st.sampled_from(alphabet).filter(lambda c: c != number[index]))
    assert error_code(validate_resident_id, replace_at(number, index, char)) == "checksum"


# --- unified social credit code (VER-2) -------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["91350100M000100Y43", "91110000600037341L", "914403001922038216", "91310000132149237G"],
)
def test_uscc_accepts_hand_verified_samples(code):
    assert reference_org_code_check(code[8:16]) == code[16]  # the sample itself is sound
    assert reference_uscc_check(code[:17]) == code[17]
    assert validate_uscc(code) == code


def test_uscc_is_normalised_to_upper_case_and_stripped():
    assert validate_uscc(" 91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y430"])
def test_uscc_of_wrong_length_is_rejected_with_length_code(code):
    assert error_code(validate_uscc, code) == "length"


@pytest.mark.parametrize("letter", list("IOZSV"))
def test_uscc_containing_a_letter_outside_the_charset_is_rejected_with_format_code(letter):
    code = replace_at("91350100M000100Y43", 8, letter)
    assert error_code(validate_uscc, code) == "format"


@pytest.mark.parametrize("head", ["01", "H1", "X1", "90", "9A"])
def test_uscc_with_unknown_authority_or_organisation_type_is_rejected(head):
    code = make_uscc(head, "350100", "M000100Y")
    assert error_code(validate_uscc, code) == "format"


def test_uscc_with_letters_in_the_region_code_is_rejected_with_region_code():
    code = make_uscc("91", "35A100", "M000100Y")
    assert error_code(validate_uscc, code) == "region"


def test_uscc_with_wrong_organisation_code_check_is_rejected_even_if_final_check_fits():
    first17 = "91350100M000100Y" + "5"  # the organisation code check digit should be 4
    code = first17 + reference_uscc_check(first17)  # final check character is consistent
    with pytest.raises(ValidationError) as caught:
        validate_uscc(code)
    assert caught.value.code == "checksum"
    assert "organisation code" in caught.value.messages[0]


def test_uscc_with_wrong_final_check_character_is_rejected_with_checksum_code():
    with pytest.raises(ValidationError) as caught:
        validate_uscc("91350100M000100Y44")
    assert caught.value.code == "checksum"
    assert "check character" in caught.value.messages[0]


@properties
@given(code=usccs())
def test_generated_usccs_pass(code):
    assert validate_uscc(code) == code
    assert validate_uscc(code.lower()) == code


@properties
@given(code=usccs(), data=st.data())
def test_changing_any_single_character_of_a_uscc_fails(code, data):
    # 31 is prime and no weight is 0 mod 31: every substitution within the charset is caught.
    index = data.draw(st.integers(0, 17))
    char = data.draw(st.sampled_from(USCC_CHARSET).filter(lambda c: c != code[index]))
    with pytest.raises(ValidationError):
        validate_uscc(replace_at(code, index, char))


# --- passport numbers (VER-1) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("E12345678", "E12345678"), ("ea1234567", "EA1234567"), (" G12345678 ", "G12345678")],
)
def test_passport_number_of_plausible_shape_is_accepted_and_upper_cased(raw, expected):
    assert validate_passport_number(raw) == expected


@pytest.mark.parametrize("number", ["E123", "", "A" * 20 + "1"])
def test_passport_number_of_wrong_length_is_rejected(number):
    assert error_code(validate_passport_number, number) == "length"


@pytest.mark.parametrize("number", ["ABCDEFGH", "E1234 5678", "E1234-5678", "É12345678"])
def test_passport_number_without_digit_or_with_other_characters_is_rejected(number):
    assert error_code(validate_passport_number, number) == "format"


# --- bank accounts and Luhn (VER-2) -----------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["4111111111111111", "5555555555554444", "6200000000000005", "378282246310005"]
)
def test_luhn_ok_accepts_published_test_card_numbers(number):
    assert luhn_ok(number)


@pytest.mark.parametrize("number", ["4111111111111112", "", "41111111x1111111", "１２"])
def test_luhn_ok_rejects_wrong_or_non_digit_input(number):
    assert not luhn_ok(number)


def test_bank_card_separators_are_removed():
    assert validate_bank_account(" 6200 0000-0000 0005 ") == "6200000000000005"


def test_unionpay_card_failing_luhn_is_rejected_with_checksum_code():
    assert error_code(validate_bank_account, "6200000000000006") == "checksum"


def test_corporate_account_number_needs_no_luhn():
    # Prefix outside the card schemes, or a length outside 16-19: only digits and length count.
    assert not luhn_ok("1100123456789013")
    assert validate_bank_account("1100123456789013") == "1100123456789013"
    assert not luhn_ok("622000000002")
    assert validate_bank_account("622000000002") == "622000000002"


@pytest.mark.parametrize("number", ["62000000000", "62000000000000000000", "12-34"])
def test_bank_account_of_wrong_length_is_rejected(number):
    assert error_code(validate_bank_account, number) == "length"


@pytest.mark.parametrize(
    "number", ["6200a00000000005", "6200_0000_0000_0005", "", "１２３４５６７８９０１２"]
)
def test_bank_account_with_non_digits_is_rejected_with_format_code(number):
    assert error_code(validate_bank_account, number) == "format"


@properties
@given(number=luhn_cards())
def test_generated_luhn_card_numbers_pass(number):
    assert luhn_ok(number)
    assert validate_bank_account(number) == number


@properties
@given(number=luhn_cards(), data=st.data())
def test_changing_a_single_digit_of_a_card_number_fails_luhn(number, data):
    index = data.draw(st.integers(0, len(number) - 1))
    char = data.draw(st.sampled_from(DIGITS).filter(lambda c: c != number[index]))
    assert not luhn_ok(replace_at(number, index, char))
    if index >= 2:  # the prefix still names a Luhn scheme, so the validator must refuse it too
        assert error_code(validate_bank_account, replace_at(number, index, char)) == "checksum"
