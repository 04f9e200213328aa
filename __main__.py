"""`python -m warden ...` is the `warden` command."""

from warden.app import main

main()
