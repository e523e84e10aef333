"""A failed validation in words a person reads: each field's rule, and the sentence naming the first.

A web app shows the 422's top-level message as it is ("Phone must have at least
3 characters."), and each ``details.fields[].message`` beside its input ("must
have at least 3 characters"). pydantic's own wording ("String should have at
least 3 characters", "Field required", a regular expression) is for developers:
its errors are put in plain words here, from their type and context, in one
place. A rule the service words itself (a ``value_error``, or any type pydantic
does not define) keeps its own words, so a new rule needs nothing here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# pydantic's error types, in plain words; {name} is filled from the error's context.
_PLAIN_RULES: dict[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not accepted here",
    "string_too_short": "must have at least {min_length} characters",
    "string_too_long": "must have at most {max_length} characters",
    "string_pattern_mismatch": "is not in a valid format",
    "string_type": "must be text",
    "string_unicode": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "enum": "must be one of {expected}",
    "literal_error": "must be one of {expected}",
    "uuid_type": "must be a valid ID",
    "uuid_parsing": "must be a valid ID",
    "datetime_type": "must be a date and time with a time zone",
    "datetime_parsing": "must be a date and time with a time zone",
    "datetime_from_date_parsing": "must be a date and time with a time zone",
    "timezone_aware": "must be a date and time with a time zone",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items",
}
# A rule more natural said otherwise at one value of its context.
_AT_ONE = {"string_too_short": "must not be empty", "too_short": "must not be empty"}
# Prefixes pydantic puts before a rule's own words.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")
# "Input should be ...", "String should have ...": pydantic's subject, dropped for the field's.
_PYDANTIC_SUBJECT = re.compile(r"^(?:Input|String|Value|List|Data|Dictionary|Object|URL|UUID) should\b")
# Whole-request locations: a rule of the request as a whole, not of one field.
_WHOLE = {"body": "The request body", "query": "The query string"}
# Words of field names written as people write them.
_WORDS = {"id": "ID", "npo": "NPO", "mfa": "MFA", "url": "URL", "ip": "IP", "totp": "TOTP"}
_IDENTIFIER = re.compile(r"^([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\s+(.*)$", re.DOTALL)


def plain_rule(error_type: str, context: Mapping[str, Any] | None, message: str, field: str) -> str:
    """What a field must be, without the field's name: "must have at least 3 characters"."""
    context = context or {}
    template = _PLAIN_RULES.get(error_type)
    if template is not None:
        if error_type in _AT_ONE and context.get("min_length") == 1:
            return _AT_ONE[error_type]
        try:
            return template.format(**context)
        except (KeyError, IndexError, ValueError):
            pass  # a context this pydantic release does not give: its own words below
    return _own_words(message, field)


def _own_words(message: str, field: str) -> str:
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    message = _PYDANTIC_SUBJECT.sub("must", message)
    own_name = field.rsplit(".", 1)[-1]
    for subject in (own_name, "value"):  # "password must ...", pydantic's "value is not a valid email address"
        if message.startswith(subject + " "):
            return message[len(subject) + 1 :]
    return message


def field_label(field: str) -> str:
    """A field's name as a person reads it: ``first_name`` "First name", ``members.0.role`` "Members #1 role"."""
    if field in _WHOLE:
        return _WHOLE[field]
    words = []
    for part in field.split("."):
        if part.isdigit():
            words.append(f"#{int(part) + 1}")
        else:
            words.extend(_WORDS.get(word, word) for word in part.split("_") if word)
    label = " ".join(words) or _WHOLE["body"]
    return label[0].upper() + label[1:]


def field_sentence(field: str, rule: str) -> str:
    """The sentence naming a failing field and its rule: "Phone must have at least 3 characters."

    A rule of a whole object that names its own subject ("npo_id is required
    for role staff") is said of that subject ("NPO ID is required for role staff.").
    """
    subject = _IDENTIFIER.match(rule)
    if subject:
        name, rule = subject[1], subject[2]
        if field in _WHOLE:
            field = name
        elif field.rsplit(".", 1)[-1] != name:
            field = f"{field}.{name}"
    sentence = f"{field_label(field)} {rule}"
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."
