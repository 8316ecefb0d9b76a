"""The registry of a government's official social media accounts."""
