"""Tests of the reports package: HTML, JUnit, CLI, allure helpers, and a headless-browser check."""
