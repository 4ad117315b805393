"""Models of the Django filter tests: teams and their notes (nullable columns)."""

from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=50, default="team")

    class Meta:
        app_label = "filterapp"


class Note(models.Model):
    title = models.CharField(max_length=100, default="t")
    owner_id = models.IntegerField(null=True, default=None)
    team = models.ForeignKey(
        Team, null=True, default=None, on_delete=models.CASCADE, related_name="notes"
    )
    public = models.BooleanField(null=True, default=False)
    label = models.CharField(max_length=50, null=True, default=None)

    class Meta:
        app_label = "filterapp"
