"""The package version: the one place it is written (hatch reads it for the metadata)."""

VERSION = "0.1.0.dev0"
