"""pywamr's version and the WAMR version it builds."""

__version__ = "0.1.0"
WAMR_VERSION = "1.1.2"
