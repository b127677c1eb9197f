"""Example glonet-regions plugin: the North Sea at 1/12 degree."""
