"""Tests of the account pages: HTTP tests through httpx, end-to-end tests in headless Chromium."""
