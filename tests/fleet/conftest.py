from agent.fleet.pytest_fixture import fleet_store, run_fleet  # noqa: F401 - fixtures for this directory
