"""Placeholder so `kb.cli` imports while the real sub-command is being written; replace this file."""


def register(subparsers):
    pass
