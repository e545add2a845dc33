"""Core: what every service stands on and nothing above it imports back.

Settings, the error tree, resource names, ids, call context, clock, the plugin
registry, the metadata DB and the blob stores. Core never imports a service.
"""
