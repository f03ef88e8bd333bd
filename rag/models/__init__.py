"""Model files the project trains and ships (package data only)."""
