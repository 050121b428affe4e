"""Request bodies: users, and the ML and prepare requests (declared in utils/request_fields.py)."""
from __future__ import annotations

from django.contrib.auth.models import User
from django.core.validators import validate_email
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from antinex.api.ml.parsers import check_storable
from antinex.utils.limits import LIMITS
from antinex.utils.request import MLRequest, RequestError, parse_request
from antinex.utils.request_fields import FIELDS, PREPARE_BY_NAME, PREPARE_FIELDS, Context, Field, read_fields


class UserSerializer(serializers.Serializer):
    """Registration and profile updates, with the original's messages."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(required=False, allow_blank=True, max_length=150)
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    password = serializers.CharField(required=False, allow_blank=True, write_only=True, max_length=256)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)

    def validate(self, attrs):
        creating = self.instance is None
        email, username, password = attrs.get("email"), attrs.get("username"), attrs.get("password")
        if creating and not email:
            raise serializers.ValidationError({"email": "missing email address"})
        if creating and not username:
            raise serializers.ValidationError({"username": "missing username"})
        if username is not None and len(username) > 30:
            raise serializers.ValidationError({"username": "username too long"})
        if creating and not password:
            raise serializers.ValidationError({"password": "missing password"})
        if password is not None and password != "" and len(password) < 4:
            raise serializers.ValidationError({"password": "password too short"})
        if not creating and password == "":
            raise serializers.ValidationError({"password": "password too short"})
        others = User.objects.exclude(pk=self.instance.pk) if self.instance else User.objects.all()
        if username and others.filter(username=username).exists():
            raise serializers.ValidationError({"username": f"username '{username}' is already in use"})
        if email and others.filter(email__iexact=email).exists():
            raise serializers.ValidationError({"email": f"email '{email}' is already in use"})
        if email:
            try:
                validate_email(email)
            except DjangoValidationError:
                raise serializers.ValidationError({"email": "Please enter a valid email"}) from None
        return attrs

    def create(self, validated):
        return User.objects.create_user(
            username=validated["username"], email=validated["email"], password=validated["password"],
            first_name=validated.get("first_name", ""), last_name=validated.get("last_name", ""))

    def update(self, user, validated):
        for field in ("username", "email", "first_name", "last_name"):
            if validated.get(field) not in (None, ""):
                setattr(user, field, validated[field])
        if validated.get("password"):
            user.set_password(validated["password"])
        user.save()
        return user

    def to_representation(self, user):
        return {"id": user.id, "username": user.username, "email": user.email,
                "first_name": user.first_name, "last_name": user.last_name}


def _swagger_field(f: Field) -> serializers.Field:
    """The Swagger (OpenAPI) form of a declared field: documentation only, the parser validates."""
    default = f.default_text()
    help_text = f.meaning + (f" (default: {default})" if default and not f.required else "")
    common = {"required": f.required, "help_text": help_text}
    if not f.required:
        common["allow_null"] = True
    if f.type is bool:
        return serializers.BooleanField(**common)
    if f.type is int:
        return serializers.IntegerField(min_value=None if f.minimum is None else int(f.minimum), **common)
    if f.type is float:
        return serializers.FloatField(min_value=f.minimum, max_value=f.maximum, **common)
    if f.type is str and f.choices:
        return serializers.ChoiceField(choices=list(f.choices), **common)
    if f.type is list:
        child = serializers.ChoiceField(choices=list(f.choices)) if f.choices else serializers.CharField()
        return serializers.ListField(child=child, **common)
    if f.type is dict:
        return serializers.DictField(**common)
    if f.type == "rows":
        return serializers.ListField(child=serializers.DictField(), **common)
    return serializers.CharField(allow_blank=not f.required, **common)


def _with_declared_fields(base: type, fields) -> type:
    """``base`` with one Swagger field per field a client sends (the API sets the server fields; the legacy
    ones have no effect): DRF's metaclass collects them like fields written in a class body."""
    declared = {f.name: _swagger_field(f) for f in fields if f.role in ("request", "record")}
    return type(base.__name__, (base,), {**declared, "__doc__": base.__doc__, "__module__": base.__module__})


class MLJobRequestSerializer(serializers.Serializer):
    """The ``POST /ml/`` body: its Swagger fields are made from utils/request_fields.py, and validating it
    is ``parse_request`` (the one parser). ``validated_data`` is the :class:`MLRequest`.

    Context: ``space`` (the caller's DataSpace) and ``limits`` (the server's bounds).
    """

    def to_internal_value(self, data) -> MLRequest:
        if not isinstance(data, dict):
            raise RequestError("body", f"must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        check_storable(data)
        return parse_request(data, datasets_dirs=self.context["space"], limits=self.context.get("limits"))

    def validate(self, attrs):
        return attrs


class MLPrepareRequestSerializer(serializers.Serializer):
    """The ``POST /mlprepare/`` body (utils/request_fields.py PREPARE_FIELDS); ``validated_data`` holds the
    record's fields, every output resolved inside the caller's folder (context ``space``)."""

    def to_internal_value(self, data) -> dict:
        if not isinstance(data, dict):
            raise RequestError("body", f"must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        check_storable(data)
        space = self.context["space"]
        values, _, _ = read_fields(PREPARE_BY_NAME, data, Context(datasets_dirs=space, limits=LIMITS))
        out = {**{f.name: f.default for f in PREPARE_FIELDS if f.stored}, **values}
        # relative outputs are relative to the caller's folder; all of them stay inside it
        out_dir = space.write_path("output_dir", out["output_dir"])
        full = space.write_path("full_file", values.get("full_file") or out_dir / "fulldata_attack_scans.csv")
        clean = space.write_path("clean_file", values.get("clean_file") or out_dir / "cleaned_attack_scans.csv")
        for prefix, path in (("fulldata", full), ("cleaned", clean)):
            space.write_path("meta_suffix", path.parent / f"{prefix}_{out['meta_suffix']}")
        space.glob("ds_glob_path", out["ds_glob_path"])  # the caller's folder and the shared data only
        return {**out, "output_dir": out_dir, "full_file": full, "clean_file": clean}

    def validate(self, attrs):
        return attrs


MLJobRequestSerializer = _with_declared_fields(MLJobRequestSerializer, FIELDS)
MLPrepareRequestSerializer = _with_declared_fields(MLPrepareRequestSerializer, PREPARE_FIELDS)
