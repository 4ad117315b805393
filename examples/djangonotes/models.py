"""Teams, their members and their notes (Django ORM, SQLite)."""

from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "djangonotes"


class Member(models.Model):
    user = models.CharField(max_length=50)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")

    class Meta:
        app_label = "djangonotes"


class Note(models.Model):
    title = models.CharField(max_length=100)
    body = models.TextField(default="")
    owner = models.CharField(max_length=50)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="notes")
    public = models.BooleanField(default=False)

    class Meta:
        app_label = "djangonotes"
