"""Typed experiment configs and their one loader: shared by the run pipeline and the commands.

``base`` holds the sections every experiment has, ``coding`` and ``topics`` the two kinds, ``load``
reads layered YAML into one of them. Configs validate; they run nothing.
"""
