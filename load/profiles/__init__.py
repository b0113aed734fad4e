"""Declarative Locust profiles (one file per experiment family); ``_common`` holds shared checks."""
