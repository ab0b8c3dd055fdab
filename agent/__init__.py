"""device-agent keeps a device's app profile in a profile store up to date."""

__version__ = "0.1.0"
