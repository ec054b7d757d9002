"""Training of the small reference checkpoints that ship with dive_bench."""
