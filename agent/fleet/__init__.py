"""Fleets: many simulated devices running the agent's pipeline in one process."""

from agent.fleet.runner import Fleet, FleetOptions, parse_mix, run_fleet

__all__ = ["Fleet", "FleetOptions", "parse_mix", "run_fleet"]
