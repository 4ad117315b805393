"""djangonotes: a small strawberry-django app whose lists are filtered in SQL."""
