"""suites/: scenario tests, run by the harness plugin (entry point ``mcp_oauth_harness``, harness/plugin.py).

A module binds scenarios to test names (``test_x = Scenario(...).as_test()``); the plugin parametrizes each
over ``--client`` x ``--spec-revision``. Options, the action vocabulary and the cmd contract extras are in
harness/README.md. Nothing here needs fixtures: a scenario is data.
"""
