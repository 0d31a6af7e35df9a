"""The console's forms (Flask-WTF): every form that changes something carries a CSRF token."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from service.domain.lifecycle import Status, says_something
from service.domain.hosting import Stage, TicketType


def _no_nul(_form: Any, field: Any) -> None:
    if field.data and "\x00" in field.data:
        raise ValidationError("must not contain NUL characters")


def _says_something(_form: Any, field: Any) -> None:
    if field.data and not says_something(field.data):
        raise ValidationError("Give a reason in words: the customer reads it.")


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class TokenForm(FlaskForm):
    token = PasswordField("Token", validators=[DataRequired("Enter your API token."),
                                                Length(max=200), _no_nul])


class SignOutForm(FlaskForm):
    pass


class ActionForm(FlaskForm):
    """Approve or retry; ``etag`` is the ticket as the page showed it, so a stale page is noticed."""

    etag = HiddenField(validators=[Optional(), Length(max=100), _no_nul])


class RejectForm(ActionForm):
    reason = TextAreaField("Reason", filters=[_stripped], validators=[
        DataRequired("Give a reason: the customer reads it."), Length(max=2000), _no_nul,
        _says_something])


class CommentForm(FlaskForm):
    body = TextAreaField("Comment", filters=[_stripped], validators=[
        DataRequired("Write something to post."), Length(max=10000), _no_nul])
    internal = BooleanField("Internal note (staff only; customers and partners never see it)")


def choices(pairs: Any) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _choices(values: Any, label: str) -> list[SelectChoice]:
    return choices([("", f"any {label}")] + [(v.value, v.value.replace("_", " ")) for v in values])


class QueueFilterForm(FlaskForm):
    """The queue's filters, read from the query string (nothing changes: no CSRF token)."""

    class Meta:
        csrf = False

    number = StringField("Case number", description="ENV-42: opens that ticket",
                         validators=[Optional(), Length(max=40), _no_nul])
    status = SelectField("Status", choices=_choices(Status, "open or failed status"), default="")
    stage = SelectField("Stage", choices=_choices(Stage, "stage"), default="")
    type = SelectField("Type", choices=_choices(TicketType, "type"), default="")
    account = StringField("Account", description="name (its start), id or contract id",
                          validators=[Optional(), Length(max=200), _no_nul])
    cursor = StringField(validators=[Optional(), Length(max=200), _no_nul])


class WeekForm(FlaskForm):
    """The week view's week and environment, read from the query string (no CSRF token)."""

    class Meta:
        csrf = False

    week = DateField("Week of", validators=[Optional()])
    environment_id = StringField("Environment id", validators=[Optional(), Length(max=64), _no_nul])
