"""Schedules and sensors (see issue: operations in Dagster)."""

schedules: list = []
sensors: list = []
