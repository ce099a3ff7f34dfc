"""End-to-end tests in headless Chromium (see README.md in this folder)."""
