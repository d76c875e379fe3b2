"""Loaders: files and folders of supported formats become Documents (with their structure)."""

from qa.ingest.loaders import SUPPORTED_SUFFIXES, iter_files, load_bytes, load_path

__all__ = ["SUPPORTED_SUFFIXES", "iter_files", "load_bytes", "load_path"]
