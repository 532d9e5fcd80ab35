"""Supportbot: the platform-neutral support desk.

Nothing here imports a chat library or a database driver; ``bot.app`` is the one
module that wires the concrete store and channels together.
"""
