"""The launcher (``python -m tools.devstack``) and developer command-line tools.

Nothing here is deployed: it starts and drives the deployables on one machine.
"""
