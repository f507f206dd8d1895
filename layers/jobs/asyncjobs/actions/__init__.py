"""Actions: what a job runs. `base` declares an action; `registry` lists them all."""
