"""Request validation for users and ML records (the ML fields delegate to utils.request)."""
from __future__ import annotations

import json

from django.contrib.auth.models import User
from django.core.validators import validate_email
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from antinex.utils.request import RequestError


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


def json_field(value, name: str) -> dict:
    """The original sent these fields as JSON strings; objects are fine too."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RequestError(name, f"is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise RequestError(name, "must be a JSON object")
    return value


class MLJobRequestSerializer(serializers.Serializer):
    """Documents the POST /ml/ body for Swagger; validation is utils.request.parse_request."""

    label = serializers.CharField(help_text="model name; reusing it predicts with the trained model")
    ml_type = serializers.ChoiceField(choices=["classification", "regression"], required=False)
    predict_feature = serializers.CharField(required=False, help_text="target column (default label_value)")
    features_to_process = serializers.ListField(child=serializers.CharField(), required=False)
    ignore_features = serializers.ListField(child=serializers.CharField(), required=False)
    sort_values = serializers.ListField(child=serializers.CharField(), required=False)
    dataset = serializers.CharField(required=False, help_text="CSV path: relative to your folder (then the shared "
                                                              "datasets), or absolute inside one of them")
    predict_rows = serializers.ListField(child=serializers.DictField(), required=False)
    apply_scaler = serializers.BooleanField(required=False)
    publish_to_core = serializers.BooleanField(required=False)
    novelty = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=0.5,
                                     help_text="share of normal rows a novelty detector beside the network may "
                                               "call novel (two-class classification); null or 0: none")
    seed = serializers.IntegerField(required=False)
    test_size = serializers.FloatField(required=False)
    batch_size = serializers.IntegerField(required=False)
    epochs = serializers.IntegerField(required=False)
    num_splits = serializers.IntegerField(required=False)
    loss = serializers.CharField(required=False)
    optimizer = serializers.CharField(required=False)
    metrics = serializers.ListField(child=serializers.CharField(), required=False)
    histories = serializers.ListField(child=serializers.CharField(), required=False)
    model_desc = serializers.DictField(required=False)
    label_rules = serializers.DictField(required=False)
    max_records = serializers.IntegerField(required=False)
    training_data = serializers.CharField(required=False)
    title = serializers.CharField(required=False)
    desc = serializers.CharField(required=False)


class MLPrepareRequestSerializer(serializers.Serializer):
    """Documents the POST /mlprepare/ body."""

    title = serializers.CharField(required=False)
    desc = serializers.CharField(required=False)
    ds_glob_path = serializers.CharField(help_text="glob of recorded CSVs in your folder and the shared datasets")
    ds_dir = serializers.CharField(required=False)
    full_file = serializers.CharField(required=False, help_text="written in your folder (relative to it)")
    clean_file = serializers.CharField(required=False, help_text="written in your folder (relative to it)")
    output_dir = serializers.CharField(required=False, help_text="a folder inside yours (default prepared)")
    meta_suffix = serializers.CharField(required=False, help_text="a plain file name: the metadata files are "
                                                                  "fulldata_<meta_suffix> and cleaned_<meta_suffix>")
    pipeline_files = serializers.DictField(required=False)
    post_proc = serializers.DictField(required=False)
    label_rules = serializers.DictField(required=False)
